//! Carriers: the directory managers pick from, a carrier's pass-signing key and drivers,
//! authorizations at properties (signed by the property key), and passes minted by the
//! server with a custodial carrier key. The offline `doorman pass mint` is for a carrier that
//! holds its own key.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use doorman_client::Client;
use doorman_proto::{
    AuthorizationView, AuthorizeRequest, CarrierKeyRequest, CarrierView, CreateDriverRequest,
    DriverView, MintPassRequest, PassView,
};
use doorman_trust::token;
use jiff::{SignedDuration, Timestamp};

use super::Conn;
use super::orgs::OrgOpt;
use super::output::{self, OutputOpts, Row, Show, cell, cell_time, opt, opt_time, time};
use super::property::decision;

#[derive(Debug, Subcommand)]
pub enum CarrierCmd {
    /// The carrier directory (what a property's managers can authorize).
    List {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Authorize a carrier at a property (owner or manager): doors, a weekly schedule on the
    /// property's wall clock, an expiry, a daily cap. Custodial: the server signs it;
    /// self-custody: give the token signed offline (`doorman authorization sign`).
    Authorize(AuthorizeArgs),
    /// Revoke an authorization, and every pass minted on it, with a reason code.
    Revoke {
        #[arg(value_name = "AUTH_ID")]
        id: String,
        #[arg(long, value_name = "CODE")]
        reason: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Authorizations you can see (a property's, or your carrier's own).
    Authorizations {
        #[arg(long, value_name = "PROPERTY")]
        property: Option<String>,
        #[arg(long, value_name = "CARRIER")]
        carrier: Option<String>,
        /// Only those neither revoked nor expired.
        #[arg(long)]
        active: bool,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// One authorization; --token-out writes its token (a carrier mints passes on it
    /// offline with `doorman pass mint`).
    Show {
        #[arg(value_name = "AUTH_ID")]
        id: String,
        #[arg(long, value_name = "FILE")]
        token_out: Option<PathBuf>,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Set your carrier's pass-signing key: your own public key (you mint passes offline), or
    /// one the server generates and holds (--custodial: passes by API with `carrier pass`).
    /// `-q` prints the public key.
    Key {
        #[command(flatten)]
        org: OrgOpt,
        /// Your public key, ed25519/… (`doorman key generate`).
        #[arg(
            long,
            value_name = "PUB",
            required_unless_present = "custodial",
            conflicts_with = "custodial"
        )]
        public_key: Option<String>,
        /// Let the server generate and hold the key.
        #[arg(long)]
        custodial: bool,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Your drivers: their handset keys, under pseudonymous ids.
    #[command(subcommand)]
    Driver(DriverCmd),
    /// Mint a pass by API for one delivery (custodial carrier key): one door, one unit, one
    /// driver, a short window. Refused while the owner's switch is off.
    Pass(PassArgs),
    /// The passes the server minted on an authorization (newest first, at most 100).
    Passes {
        #[arg(value_name = "AUTH_ID")]
        id: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
}

#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    #[arg(long, value_name = "PROPERTY")]
    property: String,
    /// The carrier's organisation id, as `carrier list` shows it.
    #[arg(long, value_name = "CARRIER")]
    carrier: String,
    /// A door the carrier may use; repeat for several.
    #[arg(long = "door", value_name = "DOOR", required = true)]
    doors: Vec<String>,
    /// Weekly schedule on the property's wall clock, e.g. "Mon-Fri 08:00-20:00; Sat 09:00-13:00".
    #[arg(long, value_name = "SCHEDULE")]
    schedule: String,
    /// When it starts (RFC 3339, now, +DURATION) [default: now].
    #[arg(long, value_name = "T", value_parser = super::parse_time)]
    not_before: Option<Timestamp>,
    /// When it ends (RFC 3339, or +DURATION such as +90d).
    #[arg(long, value_name = "T", value_parser = super::parse_time)]
    not_after: Timestamp,
    /// Most entries per local day [default: no cap].
    #[arg(long, value_name = "N")]
    daily_cap: Option<u32>,
    /// Longest pass window, e.g. 2h (the default) or 45m; at most 24h.
    #[arg(long, value_name = "DURATION")]
    max_pass_duration: Option<String>,
    /// Self-custody: the token signed offline (`doorman authorization sign`), a file or -.
    #[arg(long, value_name = "FILE")]
    authorization: Option<String>,
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    out: OutputOpts,
}

#[derive(Debug, Args)]
pub struct PassArgs {
    #[arg(value_name = "AUTH_ID")]
    authorization: String,
    #[arg(long, value_name = "DOOR")]
    door: String,
    #[arg(long, value_name = "UNIT")]
    unit: String,
    /// The delivery's reference (ACME-000123).
    #[arg(long, value_name = "REF")]
    delivery: String,
    /// The driver, by id (drv_…, from `carrier driver list`).
    #[arg(
        long,
        value_name = "ID",
        required_unless_present = "driver_pub",
        conflicts_with = "driver_pub"
    )]
    driver: Option<String>,
    /// The driver, by handset key (ed25519/…).
    #[arg(long, value_name = "PUB")]
    driver_pub: Option<String>,
    /// When the pass starts (RFC 3339, now, +DURATION) [default: now].
    #[arg(long, value_name = "T", value_parser = super::parse_time)]
    not_before: Option<Timestamp>,
    /// When it ends (RFC 3339, or +DURATION such as +2h).
    #[arg(long, value_name = "T", value_parser = super::parse_time)]
    not_after: Timestamp,
    /// Write the pass token to FILE (for the driver's handset) [default: printed].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    output: OutputOpts,
}

#[derive(Debug, Subcommand)]
pub enum DriverCmd {
    /// Register a driver's handset key.
    Add {
        #[command(flatten)]
        org: OrgOpt,
        /// For your own people only; never shown outside your carrier.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The handset's key, ed25519/….
        #[arg(long, value_name = "PUB")]
        public_key: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Your drivers.
    List {
        #[command(flatten)]
        org: OrgOpt,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Remove a driver: no new pass names them.
    Remove {
        #[command(flatten)]
        org: OrgOpt,
        #[arg(value_name = "DRIVER")]
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
}

/// A token argument (a file or `-`) as the text the API takes.
fn token_text(arg: &str, what: &str) -> Result<String> {
    crate::files::read_token(arg)
        .with_context(|| format!("reading {what}"))
        .map(|b| token::encode(&b))
}

pub fn run(cmd: CarrierCmd) -> Result<()> {
    match cmd {
        CarrierCmd::List { conn, out } => {
            let api = conn.connect()?;
            output::list(out, &api.call("listing carriers", Client::carriers)?)
        }
        CarrierCmd::Authorize(a) => {
            let authorization = a
                .authorization
                .as_deref()
                .map(|f| token_text(f, "--authorization"))
                .transpose()?;
            let api = a.conn.connect()?;
            let auth = api.call("authorizing the carrier", |c| {
                c.authorize(
                    &a.property,
                    &AuthorizeRequest {
                        carrier: a.carrier,
                        doors: a.doors,
                        schedule: a.schedule,
                        daily_cap: a.daily_cap,
                        not_before: a.not_before,
                        not_after: a.not_after,
                        max_pass_duration: a.max_pass_duration,
                        authorization,
                    },
                )
            })?;
            output::one(a.out, &auth)
        }
        CarrierCmd::Revoke {
            id,
            reason,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let auth = api.call("revoking the authorization", |c| {
                c.revoke_authorization(&id, &reason)
            })?;
            output::one(out, &auth)
        }
        CarrierCmd::Authorizations {
            property,
            carrier,
            active,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let list = api.call("listing authorizations", |c| {
                c.authorizations(property.as_deref(), carrier.as_deref(), active)
            })?;
            output::list(out, &list)
        }
        CarrierCmd::Show {
            id,
            token_out,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let auth = api.call("reading the authorization", |c| c.authorization(&id))?;
            if let Some(path) = &token_out {
                crate::files::write_output(Some(path), &auth.token)?;
                eprintln!(
                    "authorization token ({} characters) written to {}",
                    auth.token.len(),
                    path.display()
                );
            }
            output::one(out, &auth)
        }
        CarrierCmd::Key {
            org,
            public_key,
            custodial,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let id = api.org(org.org.as_deref(), Some("carrier"))?;
            let o = api.call("setting the carrier key", |c| {
                c.set_carrier_key(
                    &id,
                    &CarrierKeyRequest {
                        public_key,
                        custodial,
                    },
                )
            })?;
            if out.quiet {
                println!("{}", o.carrier_key.clone().unwrap_or_default());
                return Ok(());
            }
            output::one(out, &o)
        }
        CarrierCmd::Driver(d) => driver(d),
        CarrierCmd::Pass(a) => pass(a),
        CarrierCmd::Passes { id, conn, out } => {
            let api = conn.connect()?;
            output::list(out, &api.call("listing passes", |c| c.passes(&id))?)
        }
    }
}

fn pass(a: PassArgs) -> Result<()> {
    let not_before = match a.not_before {
        Some(t) => t,
        None => super::parse_time("now").map_err(anyhow::Error::msg)?,
    };
    let api = a.conn.connect()?;
    let p = api.call("minting the pass", |c| {
        c.mint_pass(
            &a.authorization,
            &MintPassRequest {
                door: a.door,
                unit: a.unit,
                delivery: a.delivery,
                driver: a.driver,
                driver_key: a.driver_pub,
                not_before,
                not_after: a.not_after,
            },
        )
    })?;
    if let Some(path) = &a.out {
        crate::files::write_output(Some(path), &p.token)?;
        eprintln!(
            "pass token ({} characters) written to {}",
            p.token.len(),
            path.display()
        );
    }
    output::one(a.output, &p)?;
    if a.out.is_none() && !a.output.json && !a.output.quiet {
        println!();
        println!("pass token (for the driver's handset):");
        println!("{}", p.token);
    }
    Ok(())
}

fn driver(cmd: DriverCmd) -> Result<()> {
    match cmd {
        DriverCmd::Add {
            org,
            name,
            public_key,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let id = api.org(org.org.as_deref(), Some("carrier"))?;
            let d = api.call("adding the driver", |c| {
                c.add_driver(&id, &CreateDriverRequest { name, public_key })
            })?;
            output::one(out, &d)
        }
        DriverCmd::List { org, conn, out } => {
            let api = conn.connect()?;
            let id = api.org(org.org.as_deref(), Some("carrier"))?;
            output::list(out, &api.call("listing drivers", |c| c.drivers(&id))?)
        }
        DriverCmd::Remove { org, id, conn } => {
            let api = conn.connect()?;
            let o = api.org(org.org.as_deref(), Some("carrier"))?;
            api.call("removing the driver", |c| c.remove_driver(&o, &id))?;
            eprintln!("removed driver {id}");
            Ok(())
        }
    }
}

fn pass_length(secs: i64) -> String {
    format!("{:#}", SignedDuration::from_secs(secs))
}

impl Show for AuthorizationView {
    fn key(&self) -> String {
        self.id.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.clone()),
            ("property", self.property.clone()),
            ("carrier", self.carrier.clone()),
            ("carrier key", self.carrier_key.clone()),
            ("doors", self.doors.join(", ")),
            (
                "schedule",
                format!("{} ({})", self.schedule, self.time_zone),
            ),
            (
                "daily cap",
                self.daily_cap
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "none".to_string()),
            ),
            ("longest pass", pass_length(self.max_pass_seconds)),
            (
                "valid",
                format!("{} .. {}", time(&self.not_before), time(&self.not_after)),
            ),
            ("status", self.status.clone()),
            ("revocation id", self.revocation_id.clone()),
            ("created", time(&self.created_at)),
            ("log index", opt(self.log_index.as_ref())),
            ("revocation", decision(self.revocation.as_ref())),
            (
                "token",
                format!(
                    "{} characters (--token-out FILE writes it)",
                    self.token.len()
                ),
            ),
        ]
    }
}

impl Row for AuthorizationView {
    const HEADERS: &'static [&'static str] = &[
        "ID", "PROPERTY", "CARRIER", "DOORS", "SCHEDULE", "UNTIL", "STATUS",
    ];
    fn key(&self) -> String {
        self.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.property.clone(),
            self.carrier.clone(),
            self.doors.join(","),
            self.schedule.clone(),
            time(&self.not_after),
            self.status.clone(),
        ]
    }
}

impl Show for PassView {
    fn key(&self) -> String {
        self.id.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.clone()),
            ("authorization", self.authorization.clone()),
            ("door", self.door.clone()),
            ("unit", self.unit.clone()),
            ("delivery", self.delivery.clone()),
            ("driver", opt(self.driver.as_ref())),
            ("driver key", self.driver_key.clone()),
            (
                "valid",
                format!("{} .. {}", time(&self.not_before), time(&self.not_after)),
            ),
            ("minted", time(&self.minted_at)),
        ]
    }
}

impl Row for PassView {
    const HEADERS: &'static [&'static str] =
        &["ID", "DOOR", "UNIT", "DELIVERY", "DRIVER", "FROM", "UNTIL"];
    fn key(&self) -> String {
        self.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.door.clone(),
            self.unit.clone(),
            self.delivery.clone(),
            cell(self.driver.as_ref()),
            time(&self.not_before),
            time(&self.not_after),
        ]
    }
}

impl Show for DriverView {
    fn key(&self) -> String {
        self.id.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.clone()),
            ("name", self.name.clone()),
            ("public key", self.public_key.clone()),
            ("created", time(&self.created_at)),
            ("removed", opt_time(self.removed_at.as_ref())),
        ]
    }
}

impl Row for DriverView {
    const HEADERS: &'static [&'static str] = &["ID", "NAME", "PUBLIC KEY", "CREATED", "REMOVED"];
    fn key(&self) -> String {
        self.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.public_key.clone(),
            time(&self.created_at),
            cell_time(self.removed_at.as_ref()),
        ]
    }
}

impl Row for CarrierView {
    const HEADERS: &'static [&'static str] = &["ID", "NAME", "PASS KEY"];
    fn key(&self) -> String {
        self.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.carrier_key
                .clone()
                .unwrap_or_else(|| "(none yet)".to_string()),
        ]
    }
}
