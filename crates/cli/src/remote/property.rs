//! A building: `property` (claim, the operator's verification), `door add|list|remove`,
//! `unit`, `resident`, the owner's switch (`service`) and the revocation list
//! (`revocations`).

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use doorman_proto::{
    ClaimPropertyRequest, DecisionView, DoorView, PropertyView, ResidentView, RevocationView,
    RevocationsView, RevokeIdRequest, ServiceChangeRequest, ServiceView, UnitView,
};
use jiff::Timestamp;

use super::Conn;
use super::orgs::{OrgOpt, invited};
use super::output::{self, OutputOpts, Row, Show, cell_time, opt, opt_time, time};

/// `--property`, on everything at a property.
#[derive(Debug, Clone, Args)]
pub struct PropertyOpt {
    /// The property's id (prop_…).
    #[arg(long, value_name = "PROPERTY")]
    property: String,
}

#[derive(Debug, Subcommand)]
pub enum PropertyCmd {
    /// Claim a property for your property organisation. The operator verifies the claim
    /// (`property verify`); that registers it, with its key, in the public log.
    Claim {
        #[command(flatten)]
        org: OrgOpt,
        /// What people call it ("The Main Street building").
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The street address, as on the deed.
        #[arg(long, value_name = "TEXT")]
        address: String,
        /// IANA time zone, e.g. Europe/Paris (schedules are on this wall clock).
        #[arg(long, value_name = "ZONE")]
        tz: String,
        /// Who holds the property key: the server (custodial) or you (self, with
        /// --public-key) [default: self with --public-key, else custodial].
        #[arg(long, value_name = "MODE", value_parser = ["custodial", "self"])]
        custody: Option<String>,
        /// Your property key, ed25519/… (`doorman key generate`), for self custody.
        #[arg(long, value_name = "PUB")]
        public_key: Option<String>,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// The properties you can see (the operator: all of them).
    List {
        /// Only those claimed (the operator's queue), verified or rejected.
        #[arg(long, value_name = "STATUS", value_parser = ["claimed", "verified", "rejected"])]
        status: Option<String>,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// One property.
    Show {
        #[arg(value_name = "PROPERTY")]
        id: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// The operator verifies a claim, noting the evidence checked; the property is
    /// registered in the public log.
    Verify {
        #[arg(value_name = "PROPERTY")]
        id: String,
        /// The evidence of ownership or management that was checked.
        #[arg(long, value_name = "TEXT")]
        note: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// The operator rejects a claim, saying why.
    Reject {
        #[arg(value_name = "PROPERTY")]
        id: String,
        #[arg(long, value_name = "TEXT")]
        note: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
}

/// `doorman door add|list|remove` (beside the offline `door check`).
#[derive(Debug, Subcommand)]
pub enum DoorCmd {
    /// Add a door to a property.
    Add {
        #[command(flatten)]
        property: PropertyOpt,
        /// A short id used in tokens (street, garage).
        #[arg(long, value_name = "ID")]
        id: String,
        /// What people call it ("Street door").
        #[arg(long, value_name = "NAME")]
        name: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// A property's doors.
    List {
        #[command(flatten)]
        property: PropertyOpt,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Remove a door (refused while a request is open or a consent or authorization uses it).
    Remove {
        #[command(flatten)]
        property: PropertyOpt,
        #[arg(value_name = "DOOR")]
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Present a pass at a door through the server, as a driver's handset does: get the
    /// door device's challenge, answer it with the driver's key, and print the device's
    /// signed decision (exit 0 on allow, 1 on deny). No sign-in: the pass and the key are
    /// the driver's credentials. For carriers' engineers testing a pass end to end.
    Unlock {
        #[command(flatten)]
        property: PropertyOpt,
        #[arg(long, value_name = "DOOR")]
        door: String,
        /// The pass (a file, or - for stdin).
        #[arg(long, value_name = "TOKEN")]
        pass: String,
        /// The driver's private key (`doorman key generate`).
        #[arg(long, value_name = "PATH")]
        driver_key: std::path::PathBuf,
        /// The server, e.g. http://127.0.0.1:8470 [default: the credentials file's].
        #[arg(long, value_name = "URL", env = "DOORMAN_URL")]
        url: Option<String>,
        #[command(flatten)]
        out: OutputOpts,
    },
}

#[derive(Debug, Subcommand)]
pub enum UnitCmd {
    /// Add units (flats) to a property.
    Add {
        #[command(flatten)]
        property: PropertyOpt,
        /// The unit's id, as passes name it (4B); repeat for several.
        #[arg(long = "id", value_name = "UNIT", required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// A property's units.
    List {
        #[command(flatten)]
        property: PropertyOpt,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Remove a unit (refused while residents live there).
    Remove {
        #[command(flatten)]
        property: PropertyOpt,
        #[arg(value_name = "UNIT")]
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Debug, Subcommand)]
pub enum ResidentCmd {
    /// Invite a resident of a unit; prints the invitation code (once; `-q` alone).
    Invite {
        #[command(flatten)]
        property: PropertyOpt,
        #[arg(long, value_name = "EMAIL")]
        email: String,
        #[arg(long, value_name = "UNIT")]
        unit: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// A property's residents.
    List {
        #[command(flatten)]
        property: PropertyOpt,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Remove a resident.
    Remove {
        #[command(flatten)]
        property: PropertyOpt,
        /// The resident's user id (usr_…).
        #[arg(value_name = "USER")]
        user: String,
        #[command(flatten)]
        conn: Conn,
    },
}

/// `--door` / `--carrier`: what `service off|on` switches (the whole property when neither).
#[derive(Debug, Clone, Args)]
pub struct SwitchTarget {
    /// Only this door.
    #[arg(long, value_name = "DOOR", conflicts_with = "carrier")]
    door: Option<String>,
    /// Only this carrier (its organisation id).
    #[arg(long, value_name = "CARRIER")]
    carrier: Option<String>,
    /// Refuse the change if the switch changed since this `seq` (from `service show`).
    #[arg(long, value_name = "SEQ")]
    expected_seq: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCmd {
    /// The switch as it stands.
    Show {
        #[command(flatten)]
        property: PropertyOpt,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Switch delivery access off: for the whole property, one door or one carrier. No pass
    /// is minted meanwhile; devices get the signed state.
    Off {
        #[command(flatten)]
        property: PropertyOpt,
        #[command(flatten)]
        target: SwitchTarget,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Switch delivery access back on (the whole property, one door or one carrier).
    On {
        #[command(flatten)]
        property: PropertyOpt,
        #[command(flatten)]
        target: SwitchTarget,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
}

#[derive(Debug, Subcommand)]
pub enum RevocationsCmd {
    /// The property's revoked ids and the signed list devices get.
    Show {
        #[command(flatten)]
        property: PropertyOpt,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Revoke one token id at the property (a pass minted offline and reported lost, say).
    Revoke {
        #[command(flatten)]
        property: PropertyOpt,
        /// The revocation id, hex, as `doorman token inspect` prints it.
        #[arg(long, value_name = "HEX")]
        id: String,
        /// A reason code: a-z, 0-9 and _ (lost_handset).
        #[arg(long, value_name = "CODE")]
        reason: String,
        /// When the token expires anyway (the id can leave the list then).
        #[arg(long, value_name = "T", value_parser = super::parse_time)]
        expires_at: Option<Timestamp>,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
}

pub fn property(cmd: PropertyCmd) -> Result<()> {
    match cmd {
        PropertyCmd::Claim {
            org,
            name,
            address,
            tz,
            custody,
            public_key,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let org = api.org(org.org.as_deref(), Some("property"))?;
            let custody = custody.unwrap_or_else(|| {
                if public_key.is_some() {
                    "self"
                } else {
                    "custodial"
                }
                .to_string()
            });
            let p = api.call("claiming the property", |c| {
                c.claim_property(&ClaimPropertyRequest {
                    org,
                    name,
                    address,
                    time_zone: tz,
                    custody,
                    public_key,
                })
            })?;
            output::one(out, &p)?;
            if !out.json && !out.quiet {
                eprintln!(
                    "claimed; the operator verifies it with `doorman property verify {} --note '…'`",
                    p.id
                );
            }
            Ok(())
        }
        PropertyCmd::List { status, conn, out } => {
            let api = conn.connect()?;
            output::list(
                out,
                &api.call("listing properties", |c| c.properties(status.as_deref()))?,
            )
        }
        PropertyCmd::Show { id, conn, out } => {
            let api = conn.connect()?;
            output::one(out, &api.call("reading the property", |c| c.property(&id))?)
        }
        PropertyCmd::Verify {
            id,
            note,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let p = api.call("verifying the property", |c| c.verify_property(&id, &note))?;
            output::one(out, &p)
        }
        PropertyCmd::Reject {
            id,
            note,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let p = api.call("rejecting the claim", |c| c.reject_property(&id, &note))?;
            output::one(out, &p)
        }
    }
}

pub fn door(cmd: DoorCmd) -> Result<ExitCode> {
    match cmd {
        DoorCmd::Add {
            property,
            id,
            name,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let d = api.call("adding the door", |c| {
                c.add_door(&property.property, &id, &name)
            })?;
            output::one(out, &d)?;
            Ok(ExitCode::SUCCESS)
        }
        DoorCmd::List {
            property,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            output::list(
                out,
                &api.call("listing doors", |c| c.doors(&property.property))?,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        DoorCmd::Remove { property, id, conn } => {
            let api = conn.connect()?;
            api.call("removing the door", |c| {
                c.remove_door(&property.property, &id)
            })?;
            eprintln!("removed door {id}");
            Ok(ExitCode::SUCCESS)
        }
        DoorCmd::Unlock {
            property,
            door,
            pass,
            driver_key,
            url,
            out,
        } => {
            let key = crate::files::read_secret_key(&driver_key)?;
            // Read (and checked) as a token, sent as its canonical text.
            let pass = doorman_trust::token::encode(&crate::files::read_token(&pass)?);
            let api = super::Api::anonymous(&super::url_or_stored(url.as_deref())?);
            let r = api.call("presenting the pass", |c| {
                c.unlock_as_driver(
                    &property.property,
                    &door,
                    pass.trim(),
                    &key,
                    crate::clock::now(),
                )
            })?;
            let allowed = r.result == "allow";
            output::one(out, &r)?;
            Ok(if allowed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

pub fn unit(cmd: UnitCmd) -> Result<()> {
    match cmd {
        UnitCmd::Add {
            property,
            ids,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let mut added = Vec::new();
            for id in &ids {
                added.push(api.call(&format!("adding unit {id}"), |c| {
                    c.add_unit(&property.property, id)
                })?);
            }
            output::list(out, &doorman_proto::List::new(added))
        }
        UnitCmd::List {
            property,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            output::list(
                out,
                &api.call("listing units", |c| c.units(&property.property))?,
            )
        }
        UnitCmd::Remove { property, id, conn } => {
            let api = conn.connect()?;
            api.call("removing the unit", |c| {
                c.remove_unit(&property.property, &id)
            })?;
            eprintln!("removed unit {id}");
            Ok(())
        }
    }
}

pub fn resident(cmd: ResidentCmd) -> Result<()> {
    match cmd {
        ResidentCmd::Invite {
            property,
            email,
            unit,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let inv = api.call("inviting the resident", |c| {
                c.invite_resident(&property.property, &email, &unit)
            })?;
            invited(out, &inv)
        }
        ResidentCmd::List {
            property,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            output::list(
                out,
                &api.call("listing residents", |c| c.residents(&property.property))?,
            )
        }
        ResidentCmd::Remove {
            property,
            user,
            conn,
        } => {
            let api = conn.connect()?;
            api.call("removing the resident", |c| {
                c.remove_resident(&property.property, &user)
            })?;
            eprintln!("removed resident {user}");
            Ok(())
        }
    }
}

pub fn service(cmd: ServiceCmd) -> Result<()> {
    let (property, target, enabled, conn, out) = match cmd {
        ServiceCmd::Show {
            property,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let s = api.call("reading the switch", |c| c.service(&property.property))?;
            return output::one(out, &s);
        }
        ServiceCmd::Off {
            property,
            target,
            conn,
            out,
        } => (property, target, false, conn, out),
        ServiceCmd::On {
            property,
            target,
            conn,
            out,
        } => (property, target, true, conn, out),
    };
    let (scope, what) = match (&target.door, &target.carrier) {
        (None, None) => ("property", "the whole property".to_string()),
        (Some(d), None) => ("door", format!("door {d}")),
        (None, Some(c)) => ("carrier", format!("carrier {c}")),
        (Some(_), Some(_)) => bail!("give --door or --carrier, not both"),
    };
    let api = conn.connect()?;
    let s = api.call("switching service", |c| {
        c.change_service(
            &property.property,
            &ServiceChangeRequest {
                scope: scope.to_string(),
                target: target.door.clone().or(target.carrier.clone()),
                enabled,
                expected_seq: target.expected_seq,
            },
        )
    })?;
    output::one(out, &s)?;
    eprintln!(
        "delivery access {} for {what}",
        if enabled { "on" } else { "off" }
    );
    Ok(())
}

pub fn revocations(cmd: RevocationsCmd) -> Result<()> {
    match cmd {
        RevocationsCmd::Show {
            property,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let r = api.call("reading the revocations", |c| {
                c.revocations(&property.property)
            })?;
            if out.json || out.quiet {
                return output::one(out, &r);
            }
            print!("{}", output::fields(&r.fields()));
            print!(
                "{}",
                output::table(RevocationView::HEADERS, r.revoked.iter().map(Row::row))
            );
            Ok(())
        }
        RevocationsCmd::Revoke {
            property,
            id,
            reason,
            expires_at,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let r = api.call("revoking", |c| {
                c.revoke_id(
                    &property.property,
                    &RevokeIdRequest {
                        revocation_id: id,
                        reason,
                        expires_at,
                    },
                )
            })?;
            output::one(out, &r)
        }
    }
}

pub fn decision(d: Option<&DecisionView>) -> String {
    d.map(|d| {
        let note = if d.note.is_empty() {
            String::new()
        } else {
            format!(": {}", d.note)
        };
        format!("{} by {} ({}){note}", time(&d.at), d.by, d.org)
    })
    .unwrap_or_default()
}

impl Show for PropertyView {
    fn key(&self) -> String {
        self.id.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.clone()),
            ("name", self.name.clone()),
            ("org", self.org.clone()),
            ("address", self.address.clone()),
            ("address key", self.address_key.clone()),
            ("time zone", self.time_zone.clone()),
            ("custody", self.custody.clone()),
            ("public key", self.public_key.clone()),
            ("status", self.status.clone()),
            ("created", time(&self.created_at)),
            ("decision", decision(self.decision.as_ref())),
            ("log index", opt(self.log_index.as_ref())),
        ]
    }
}

impl Row for PropertyView {
    const HEADERS: &'static [&'static str] =
        &["ID", "NAME", "STATUS", "CUSTODY", "TIME ZONE", "ADDRESS"];
    fn key(&self) -> String {
        self.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.status.clone(),
            self.custody.clone(),
            self.time_zone.clone(),
            self.address.clone(),
        ]
    }
}

impl Show for doorman_proto::UnlockResponse {
    fn key(&self) -> String {
        self.result.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("result", self.result.clone()),
            ("device", self.device.clone()),
            ("event", self.seq.to_string()),
        ]
    }
}

impl Show for DoorView {
    fn key(&self) -> String {
        self.id.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.clone()),
            ("name", self.name.clone()),
            ("created", time(&self.created_at)),
        ]
    }
}

impl Row for DoorView {
    const HEADERS: &'static [&'static str] = &["ID", "NAME", "CREATED"];
    fn key(&self) -> String {
        self.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![self.id.clone(), self.name.clone(), time(&self.created_at)]
    }
}

impl Row for UnitView {
    const HEADERS: &'static [&'static str] = &["ID", "CREATED"];
    fn key(&self) -> String {
        self.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![self.id.clone(), time(&self.created_at)]
    }
}

impl Row for ResidentView {
    const HEADERS: &'static [&'static str] = &["USER", "NAME", "EMAIL", "UNIT", "SINCE"];
    fn key(&self) -> String {
        self.user.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.user.id.clone(),
            self.user.name.clone(),
            self.user.email.clone(),
            self.unit.clone(),
            time(&self.since),
        ]
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

impl Show for ServiceView {
    fn key(&self) -> String {
        self.property.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("property", self.property.clone()),
            (
                "service",
                if self.property_disabled {
                    "OFF for the whole property".to_string()
                } else {
                    "on".to_string()
                },
            ),
            ("doors off", list_or_none(&self.disabled_doors)),
            ("carriers off", list_or_none(&self.disabled_carriers)),
            ("seq", self.seq.to_string()),
            ("changed", opt_time(self.changed_at.as_ref())),
            ("changed by", opt(self.changed_by.as_ref())),
            (
                "signed seq",
                match self.signed_seq {
                    Some(s) if s < self.seq => {
                        format!("{s} (devices are behind: upload the signed state)")
                    }
                    Some(s) => s.to_string(),
                    None => "none yet".to_string(),
                },
            ),
        ]
    }
}

impl Show for RevocationsView {
    fn key(&self) -> String {
        self.property.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("property", self.property.clone()),
            ("seq", self.seq.to_string()),
            (
                "signed list",
                self.document_seq
                    .map(|s| format!("document seq {s}"))
                    .unwrap_or_else(|| "none yet".to_string()),
            ),
            (
                "pending",
                if self.pending_payload.is_some() {
                    "the signed list is behind: sign the pending payload offline and upload it"
                        .to_string()
                } else {
                    String::new()
                },
            ),
            ("revoked", self.revoked.len().to_string()),
        ]
    }
}

impl Show for RevocationView {
    fn key(&self) -> String {
        self.revocation_id.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("revocation id", self.revocation_id.clone()),
            ("kind", self.kind.clone()),
            ("reference", self.reference.clone()),
            ("reason", self.reason.clone()),
            ("revoked", time(&self.revoked_at)),
            ("expires", opt_time(self.expires_at.as_ref())),
        ]
    }
}

impl Row for RevocationView {
    const HEADERS: &'static [&'static str] = &[
        "REVOCATION ID",
        "KIND",
        "REFERENCE",
        "REASON",
        "REVOKED",
        "EXPIRES",
    ];
    fn key(&self) -> String {
        self.revocation_id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.revocation_id.clone(),
            self.kind.clone(),
            if self.reference.is_empty() {
                "-".to_string()
            } else {
                self.reference.clone()
            },
            self.reason.clone(),
            time(&self.revoked_at),
            cell_time(self.expires_at.as_ref()),
        ]
    }
}
