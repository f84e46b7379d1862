//! The `doorman` commands that talk to a running `doorman serve`: the control-plane API
//! (`/api/v1`) through the one typed client, `doorman-client`.
//!
//! - `setup`, `signup`, `login`, `logout`, `whoami`, `invitation accept` (`account.rs`): who
//!   you are; a session is kept in the credentials file (`credentials.rs`).
//! - `org`, `invitation`, `token create|list|revoke` (`orgs.rs`): organisations, people and
//!   API tokens.
//! - `property`, `door add|list|remove`, `unit`, `resident`, `service`, `revocations`
//!   (`property.rs`): a building, its doors and units, the owner's switch.
//! - `installation` (`installation.rs`): requests, photos, consent.
//! - `carrier` (`carrier.rs`): the directory, keys, drivers, authorizations and passes.
//! - `state` (`state.rs`): a self-custody owner signs the device state offline and pushes it.
//!
//! The offline commands keep their names: `door check`, `token inspect`, `pass mint`,
//! `consent sign` and `authorization sign` never touch the network; the server-side
//! counterparts are `installation approve`, `carrier authorize` and `carrier pass`.
//!
//! Every command takes `--url` (`DOORMAN_URL`) and `--token` (`DOORMAN_TOKEN`: an API token
//! `dmt_…` or a session), falling back to the credentials file; `--json` prints the API's
//! JSON and `-q` only ids. Errors print the server's detail, stable code and request id and
//! exit 2, like every other error of the binary.

mod account;
mod carrier;
mod credentials;
mod installation;
mod orgs;
mod output;
mod property;
mod state;

use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use doorman_client::{Client, ClientError};
use doorman_proto::Me;
use jiff::{SignedDuration, Timestamp};
use zeroize::Zeroizing;

pub use orgs::TokenCmd;
pub use property::DoorCmd;

/// The API's top-level commands (flattened into `doorman`'s).
// Parsed once per process; boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the operator account, once, with the code `doorman serve` printed at first
    /// start; signs you in.
    Setup(account::SetupArgs),
    /// Create a property, installer or carrier organisation and its first account (you
    /// become its owner or admin); signs you in.
    Signup(account::SignupArgs),
    /// Sign in; the session is kept in the credentials file ($DOORMAN_CREDENTIALS, else
    /// $XDG_CONFIG_HOME/doorman/credentials.json, else ~/.config/doorman/credentials.json).
    Login(account::LoginArgs),
    /// End the session and delete the credentials file.
    Logout(account::LogoutArgs),
    /// Who the credentials are: the account and its organisations and roles.
    Whoami(account::WhoamiArgs),
    /// Organisations: yours, their members, invitations.
    #[command(subcommand)]
    Org(orgs::OrgCmd),
    /// Invitations: accept one (creating your account), list or cancel an organisation's.
    #[command(subcommand)]
    Invitation(orgs::InvitationCmd),
    /// Properties: claim one, the operator's verification, show.
    #[command(subcommand)]
    Property(property::PropertyCmd),
    /// A property's units (the flats passes name).
    #[command(subcommand)]
    Unit(property::UnitCmd),
    /// A property's residents.
    #[command(subcommand)]
    Resident(property::ResidentCmd),
    /// Installation requests: an installer files one, the owner approves (the consent is
    /// signed and logged), rejects or revokes it.
    #[command(subcommand)]
    Installation(installation::InstallationCmd),
    /// Carriers: the directory, their key and drivers, authorizations at properties, passes.
    #[command(subcommand)]
    Carrier(carrier::CarrierCmd),
    /// The owner's switch: delivery access off or on for the property, a door or a carrier.
    #[command(subcommand)]
    Service(property::ServiceCmd),
    /// A property's revocation list (what devices refuse).
    #[command(subcommand)]
    Revocations(property::RevocationsCmd),
    /// A self-custody property's signed device state: sign offline, or push (fetch, sign,
    /// upload) the pending revocation list and service state.
    #[command(subcommand)]
    State(state::StateCmd),
}

/// Runs an API command.
pub fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Setup(a) => account::setup(a),
        Command::Signup(a) => account::signup(a),
        Command::Login(a) => account::login(a),
        Command::Logout(a) => account::logout(a),
        Command::Whoami(a) => account::whoami(a),
        Command::Org(c) => orgs::org(c),
        Command::Invitation(c) => orgs::invitation(c),
        Command::Property(c) => property::property(c),
        Command::Unit(c) => property::unit(c),
        Command::Resident(c) => property::resident(c),
        Command::Installation(c) => installation::run(c),
        Command::Carrier(c) => carrier::run(c),
        Command::Service(c) => property::service(c),
        Command::Revocations(c) => property::revocations(c),
        Command::State(c) => state::run(c),
    }?;
    Ok(ExitCode::SUCCESS)
}

/// `doorman token create|list|revoke`.
pub fn token(cmd: TokenCmd) -> Result<ExitCode> {
    orgs::token(cmd)?;
    Ok(ExitCode::SUCCESS)
}

/// `doorman door add|list|remove|unlock`.
pub fn door(cmd: DoorCmd) -> Result<ExitCode> {
    property::door(cmd)
}

// ---- Connecting ------------------------------------------------------------------------

/// `--url` and `--token`, on every command that needs a signed-in caller.
#[derive(Debug, Clone, Args)]
pub struct Conn {
    /// The server, e.g. http://127.0.0.1:8470 [default: the credentials file's].
    #[arg(long, value_name = "URL", env = "DOORMAN_URL")]
    url: Option<String>,
    /// A bearer token: an API token (dmt_…) or a session [default: the credentials file's,
    /// if it is for the same server].
    #[arg(
        long,
        value_name = "TOKEN",
        env = "DOORMAN_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
}

/// Where the token in use came from (for hints when it is refused).
#[derive(Debug, Clone)]
enum Source {
    /// None: setup, signup, sign-in, accepting an invitation.
    Anonymous,
    Given,
    File(PathBuf),
}

/// A client of one server with a token, and the way to say what failed.
#[derive(Debug)]
pub struct Api {
    client: Client,
    source: Source,
}

/// A server URL: http:// only (this build has no TLS client), no trailing slash.
fn base_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    if url.starts_with("https://") {
        bail!(
            "{url}: only http:// URLs for now (this build has no TLS client); reach the server \
             through plain HTTP on the inside of its TLS proxy"
        );
    }
    if !url.starts_with("http://") || url.len() <= "http://".len() {
        bail!("{url:?} is not a server URL; give one like http://127.0.0.1:8470");
    }
    Ok(url.to_string())
}

/// The server URL for commands that sign in: the one given, else the credentials file's.
fn url_or_stored(url: Option<&str>) -> Result<String> {
    if let Some(u) = url {
        return base_url(u);
    }
    let path = credentials::path()?;
    match credentials::load(&path)? {
        Some(c) => base_url(&c.url),
        None => bail!("which server? give --url http://HOST:PORT (or set DOORMAN_URL)"),
    }
}

impl Conn {
    /// The client: `--url`/`--token`, else the credentials file's.
    pub fn connect(&self) -> Result<Api> {
        // Given both, the credentials file is not even read.
        let stored = if self.token.is_some() && self.url.is_some() {
            None
        } else {
            let path = credentials::path()?;
            credentials::load(&path)?.map(|c| (c, path))
        };
        let url = match (&self.url, &stored) {
            (Some(u), _) => base_url(u)?,
            (None, Some((c, _))) => base_url(&c.url)?,
            (None, None) => bail!(
                "not signed in: give --url and --token (or DOORMAN_URL and DOORMAN_TOKEN), or \
                 sign in with `doorman login --url URL --email EMAIL`"
            ),
        };
        let client = Client::new(&url);
        if let Some(t) = &self.token {
            return Ok(Api {
                client: client.with_token(t.trim()),
                source: Source::Given,
            });
        }
        match stored {
            // The stored session is only ever sent to the server it came from.
            Some((c, path)) if base_url(&c.url).is_ok_and(|u| u == url) => Ok(Api {
                client: client.with_token(c.token),
                source: Source::File(path),
            }),
            Some((c, path)) => bail!(
                "not signed in at {url}: the credentials file {} is for {}; sign in with \
                 `doorman login --url {url} --email EMAIL`, or give --token",
                path.display(),
                c.url
            ),
            None => bail!(
                "not signed in at {url}: sign in with `doorman login --url {url} --email EMAIL`, \
                 or give --token (or DOORMAN_TOKEN)"
            ),
        }
    }
}

impl Api {
    /// A client that is not signed in.
    pub fn anonymous(url: &str) -> Api {
        Api {
            client: Client::new(url),
            source: Source::Anonymous,
        }
    }

    /// Runs one call; a failure says what was being done, the server's detail, stable code
    /// and request id, and how to fix an expired or unknown credential.
    pub fn call<T>(
        &self,
        what: &str,
        f: impl FnOnce(&Client) -> doorman_client::Result<T>,
    ) -> Result<T> {
        f(&self.client).map_err(|e| self.error(what, e))
    }

    fn error(&self, what: &str, e: ClientError) -> anyhow::Error {
        let hint = match (&e, e.code()) {
            (_, Some("unauthenticated")) => match &self.source {
                Source::File(p) => format!(
                    "\n  the session in {} was refused: sign in again with `doorman login`",
                    p.display()
                ),
                Source::Given => {
                    "\n  the token given (--token or DOORMAN_TOKEN) was refused".to_string()
                }
                Source::Anonymous => String::new(),
            },
            (ClientError::Transport { .. }, _) => {
                format!("\n  is `doorman serve` running at {}?", self.client.base())
            }
            _ => String::new(),
        };
        anyhow!("{what}: {e}{hint}")
    }

    pub fn base(&self) -> &str {
        self.client.base()
    }

    /// Who the caller is.
    pub fn me(&self) -> Result<Me> {
        self.call("reading who you are", Client::me)
    }

    /// `--org` if given, else the caller's only organisation (of `kind`, if given).
    pub fn org(&self, given: Option<&str>, kind: Option<&str>) -> Result<String> {
        if let Some(o) = given {
            return Ok(o.to_string());
        }
        let me = self.me()?;
        let mut orgs: Vec<(&str, &str, &str)> = Vec::new();
        for m in &me.memberships {
            if kind.is_none_or(|k| k == m.kind) && !orgs.iter().any(|(id, _, _)| *id == m.org) {
                orgs.push((&m.org, &m.org_name, &m.kind));
            }
        }
        let what = kind.map(|k| format!("{k} ")).unwrap_or_default();
        match orgs.as_slice() {
            [(id, _, _)] => Ok((*id).to_string()),
            [] => bail!("you belong to no {what}organisation; give --org"),
            many => bail!(
                "you belong to several {what}organisations; say which with --org: {}",
                many.iter()
                    .map(|(id, name, kind)| format!("{id} ({}, {kind})", output::clean(name)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

// ---- Passwords -------------------------------------------------------------------------

/// The password: the first line of `file` (mode 0600), else one line from stdin — with a
/// prompt on stderr and echo off when stdin is a terminal (asked twice when `confirm`).
fn read_password(file: Option<&Path>, confirm: bool) -> Result<Zeroizing<String>> {
    if let Some(path) = file {
        let text = crate::files::read_private_file(path, "the password file")?;
        let line = Zeroizing::new(first_line(&text).to_string());
        if line.is_empty() {
            bail!("{}: the first line (the password) is empty", path.display());
        }
        return Ok(line);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut text = Zeroizing::new(String::new());
        stdin
            .lock()
            .take(4096)
            .read_line(&mut text)
            .map_err(|e| anyhow!("reading the password from stdin: {e}"))?;
        let line = Zeroizing::new(first_line(&text).to_string());
        if line.is_empty() {
            bail!("no password: give --password-file FILE, or the password as one line on stdin");
        }
        return Ok(line);
    }
    let first = prompt("Password: ")?;
    if confirm && *prompt("Password (again): ")? != *first {
        bail!("the two passwords differ");
    }
    if first.is_empty() {
        bail!("no password given");
    }
    Ok(first)
}

fn first_line(text: &str) -> &str {
    let line = text.split('\n').next().unwrap_or_default();
    line.strip_suffix('\r').unwrap_or(line)
}

/// Reads a line from the terminal with echo off (`stty -echo`, restored after).
fn prompt(label: &str) -> Result<Zeroizing<String>> {
    eprint!("{label}");
    let echo_off = std::process::Command::new("stty")
        .arg("-echo")
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success());
    if !echo_off {
        eprint!("(echoed) ");
    }
    let mut text = Zeroizing::new(String::new());
    let read = std::io::stdin().lock().take(4096).read_line(&mut text);
    if echo_off {
        let _ = std::process::Command::new("stty")
            .arg("echo")
            .stdin(std::process::Stdio::inherit())
            .status();
        eprintln!();
    }
    read.map_err(|e| anyhow!("reading the password: {e}"))?;
    Ok(Zeroizing::new(first_line(&text).to_string()))
}

// ---- Times -----------------------------------------------------------------------------

/// A time flag: RFC 3339 (`2026-12-01T09:00:00Z`), `now`, or `+DURATION` from now (`+2h`,
/// `+90m`, `+30d`). Relative times are whole seconds.
pub fn parse_time(s: &str) -> std::result::Result<Timestamp, String> {
    let s = s.trim();
    let now = || Timestamp::from_second(crate::clock::now().as_second()).map_err(|e| e.to_string());
    if s == "now" {
        return now();
    }
    if let Some(rest) = s.strip_prefix('+') {
        let d = parse_offset(rest)?;
        return now()?.checked_add(d).map_err(|e| format!("{s}: {e}"));
    }
    s.parse::<Timestamp>().map_err(|e| {
        format!("{e}; write RFC 3339 (2026-12-01T09:00:00Z), now, or +DURATION (+2h, +30d)")
    })
}

fn parse_offset(s: &str) -> std::result::Result<SignedDuration, String> {
    let d = match s.strip_suffix('d').map(str::parse::<i64>) {
        Some(Ok(days)) if (0..=36_600).contains(&days) => SignedDuration::from_hours(days * 24),
        Some(Ok(_)) => return Err(format!("+{s}: at most 36600 days")),
        _ => s
            .parse::<SignedDuration>()
            .map_err(|e| format!("+{s}: {e}; write +2h, +90m, +1h30m or +30d"))?,
    };
    if d.is_negative() {
        return Err(format!("+{s}: give a positive duration"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn times_absolute_and_relative() {
        assert_eq!(
            parse_time("2026-12-01T09:00:00Z").unwrap().to_string(),
            "2026-12-01T09:00:00Z"
        );
        let now = parse_time("now").unwrap();
        assert_eq!(now.subsec_nanosecond(), 0);
        let later = parse_time("+2h").unwrap();
        let d = now.duration_until(later).as_secs();
        assert!((7200..=7201).contains(&d), "{d}");
        let month = parse_time("+30d").unwrap();
        assert!(now.duration_until(month).as_hours() >= 30 * 24);
        assert!(parse_time("+x").is_err());
        assert!(parse_time("tomorrow").is_err());
    }

    #[test]
    fn urls_are_http_without_trailing_slash() {
        assert_eq!(
            base_url("http://127.0.0.1:8470/").unwrap(),
            "http://127.0.0.1:8470"
        );
        assert!(base_url("https://doorman.example").is_err());
        assert!(base_url("127.0.0.1:8470").is_err());
    }

    #[test]
    fn first_line_strips_the_newline_only() {
        assert_eq!(first_line("pass word \r\nrest"), "pass word ");
        assert_eq!(first_line("x"), "x");
    }
}
