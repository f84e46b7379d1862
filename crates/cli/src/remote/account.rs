//! Who you are: `setup`, `signup`, `login`, `logout`, `whoami`, and `invitation accept`
//! (here because, like `login`, it starts a session). A new session is written to the
//! credentials file; `--json` prints the session without its token (the token goes to the
//! file only).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use doorman_proto::{
    AcceptInvitationRequest, Me, MembershipView, SessionResponse, SetupRequest, SignupRequest,
};

use super::credentials::{self, Credentials};
use super::output::{self, JsonOpt, OutputOpts, Row, Show};
use super::{Conn, base_url, read_password, url_or_stored};

/// `--password-file`, shared by the commands that take a password.
#[derive(Debug, Clone, Args)]
pub struct PasswordOpt {
    /// Read the password from the first line of FILE (mode 0600) instead of stdin.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The server, e.g. http://127.0.0.1:8470.
    #[arg(long, value_name = "URL", env = "DOORMAN_URL")]
    url: String,
    /// The one-time setup code (dmsetup_…) `doorman serve` printed.
    #[arg(long, value_name = "CODE")]
    code: String,
    #[arg(long, value_name = "EMAIL")]
    email: String,
    /// Your name.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// The operator organisation's name.
    #[arg(long, value_name = "NAME")]
    org: String,
    #[command(flatten)]
    password: PasswordOpt,
    #[command(flatten)]
    out: JsonOpt,
}

#[derive(Debug, Args)]
pub struct SignupArgs {
    /// The server [default: the credentials file's].
    #[arg(long, value_name = "URL", env = "DOORMAN_URL")]
    url: Option<String>,
    /// The organisation's kind.
    #[arg(long, value_name = "KIND", value_parser = ["property", "installer", "carrier"])]
    kind: String,
    /// The organisation's name.
    #[arg(long, value_name = "NAME")]
    org: String,
    #[arg(long, value_name = "EMAIL")]
    email: String,
    /// Your name.
    #[arg(long, value_name = "NAME")]
    name: String,
    #[command(flatten)]
    password: PasswordOpt,
    #[command(flatten)]
    out: JsonOpt,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server [default: the credentials file's].
    #[arg(long, value_name = "URL", env = "DOORMAN_URL")]
    url: Option<String>,
    #[arg(long, value_name = "EMAIL")]
    email: String,
    #[command(flatten)]
    password: PasswordOpt,
    #[command(flatten)]
    out: JsonOpt,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    conn: Conn,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    out: OutputOpts,
}

#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// The server [default: the credentials file's].
    #[arg(long, value_name = "URL", env = "DOORMAN_URL")]
    url: Option<String>,
    /// The invitation code (dmi_…) you were given.
    #[arg(long, value_name = "CODE")]
    code: String,
    /// Your name, when the invitation creates your account (no account for its email yet).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[command(flatten)]
    password: PasswordOpt,
    #[command(flatten)]
    out: JsonOpt,
}

pub fn setup(a: SetupArgs) -> Result<()> {
    let url = base_url(&a.url)?;
    let password = read_password(a.password.password_file.as_deref(), true)?;
    let s = super::Api::anonymous(&url).call("setting up the operator", |c| {
        c.setup(&SetupRequest {
            code: a.code.trim().to_string(),
            org_name: a.org,
            email: a.email,
            name: a.name,
            password: password.to_string(),
        })
    })?;
    signed_in(&url, &s, a.out)
}

pub fn signup(a: SignupArgs) -> Result<()> {
    let url = url_or_stored(a.url.as_deref())?;
    let password = read_password(a.password.password_file.as_deref(), true)?;
    let s = super::Api::anonymous(&url).call("signing up", |c| {
        c.signup(&SignupRequest {
            org_kind: a.kind,
            org_name: a.org,
            email: a.email,
            name: a.name,
            password: password.to_string(),
        })
    })?;
    signed_in(&url, &s, a.out)
}

pub fn login(a: LoginArgs) -> Result<()> {
    let url = url_or_stored(a.url.as_deref())?;
    let password = read_password(a.password.password_file.as_deref(), false)?;
    let s =
        super::Api::anonymous(&url).call("signing in", |c| c.sign_in(a.email.trim(), &password))?;
    signed_in(&url, &s, a.out)
}

pub fn accept(a: AcceptArgs) -> Result<()> {
    let url = url_or_stored(a.url.as_deref())?;
    let password = read_password(a.password.password_file.as_deref(), a.name.is_some())?;
    let s = super::Api::anonymous(&url).call("accepting the invitation", |c| {
        c.accept_invitation(&AcceptInvitationRequest {
            code: a.code.trim().to_string(),
            name: a.name,
            password: password.to_string(),
        })
    })?;
    signed_in(&url, &s, a.out)
}

/// Stores a new session and says who it is.
fn signed_in(url: &str, s: &SessionResponse, out: JsonOpt) -> Result<()> {
    let path = credentials::path()?;
    credentials::save(
        &path,
        &Credentials {
            url: url.to_string(),
            token: s.token.clone(),
        },
    )?;
    if out.json {
        return output::print_json(&serde_json::json!({
            "url": url,
            "expires_at": s.expires_at,
            "me": s.me,
            "credentials": path,
        }));
    }
    println!(
        "signed in at {url} as {} <{}> ({}), until {}",
        output::clean(&s.me.user.name),
        output::clean(&s.me.user.email),
        s.me.user.id,
        output::time(&s.expires_at)
    );
    print!("{}", memberships(&s.me.memberships));
    eprintln!("credentials saved in {} (mode 0600)", path.display());
    Ok(())
}

pub fn logout(a: LogoutArgs) -> Result<()> {
    let api = a.conn.connect()?;
    let from_file = match &api.source {
        super::Source::File(p) => Some(p.clone()),
        super::Source::Given | super::Source::Anonymous => None,
    };
    let is_api_token = api.client.token().is_some_and(|t| t.starts_with("dmt_"));
    if is_api_token {
        eprintln!("an API token is not a session: revoke it with `doorman token revoke`");
    } else {
        match api.client.sign_out() {
            Ok(()) => eprintln!("signed out of {}", api.base()),
            // Already gone (expired, or signed out elsewhere): nothing to end.
            Err(e) if from_file.is_some() && e.code() == Some("unauthenticated") => {
                eprintln!("the session had ended already");
            }
            Err(e) => return Err(api.error("signing out", e)),
        }
    }
    if let Some(path) = from_file
        && credentials::remove(&path)?
    {
        eprintln!("deleted {}", path.display());
    }
    Ok(())
}

pub fn whoami(a: WhoamiArgs) -> Result<()> {
    let api = a.conn.connect()?;
    let me = api.me()?;
    if a.out.json || a.out.quiet {
        return output::one(a.out, &me);
    }
    let mut fields = me.fields();
    fields.push(("server", api.base().to_string()));
    print!("{}", output::fields(&fields));
    print!("{}", memberships(&me.memberships));
    Ok(())
}

fn memberships(ms: &[MembershipView]) -> String {
    output::table(MembershipView::HEADERS, ms.iter().map(Row::row))
}

impl Show for Me {
    fn key(&self) -> String {
        self.user.id.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("user", self.user.id.clone()),
            ("name", self.user.name.clone()),
            ("email", self.user.email.clone()),
            ("via", self.via.clone()),
        ]
    }
}

impl Row for MembershipView {
    const HEADERS: &'static [&'static str] = &["ORG", "NAME", "KIND", "ROLE", "PROPERTY", "UNIT"];
    fn key(&self) -> String {
        self.org.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.org.clone(),
            self.org_name.clone(),
            self.kind.clone(),
            self.role.clone(),
            output::cell(self.property.as_ref()),
            output::cell(self.unit.as_ref()),
        ]
    }
}
