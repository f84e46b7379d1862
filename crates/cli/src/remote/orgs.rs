//! Organisations, their members and invitations, and API tokens. `--org` defaults to your
//! only organisation.

use anyhow::Result;
use clap::{Args, Subcommand};
use doorman_client::Client;
use doorman_proto::{
    CreateOrgRequest, CreateTokenRequest, InvitationView, InviteRequest, MemberView, OrgView,
    TokenView,
};

use super::Conn;
use super::account::{self, AcceptArgs};
use super::output::{self, OutputOpts, Row, Show, cell, cell_time, opt, opt_time, time};

/// `--org`, optional: your only organisation when absent.
#[derive(Debug, Clone, Args)]
pub struct OrgOpt {
    /// The organisation's id (org_…) [default: your only organisation].
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OrgCmd {
    /// Your organisations (the operator: all of them).
    List {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// One organisation.
    Show {
        #[command(flatten)]
        org: OrgOpt,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Found another organisation (you become its owner or admin).
    Create {
        #[arg(long, value_name = "KIND", value_parser = ["property", "installer", "carrier"])]
        kind: String,
        #[arg(long, value_name = "NAME")]
        name: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// The organisation's members and their roles.
    Members {
        #[command(flatten)]
        org: OrgOpt,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Invite a person in a role; prints the invitation code (once): hand it to them for
    /// `doorman invitation accept`. `-q` prints the code alone.
    Invite {
        #[command(flatten)]
        org: OrgOpt,
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// owner, manager (property); admin, installer (installer); admin, dispatcher, driver
        /// (carrier); operator.
        #[arg(long, value_name = "ROLE")]
        role: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Remove a person (all their roles) from the organisation.
    RemoveMember {
        #[command(flatten)]
        org: OrgOpt,
        /// The person's user id (usr_…), as `org members` lists it.
        #[arg(value_name = "USER")]
        user: String,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Debug, Subcommand)]
pub enum InvitationCmd {
    /// Accept an invitation: creates your account (give --name) or adds the role to it (your
    /// password); signs you in.
    Accept(AcceptArgs),
    /// The organisation's open invitations.
    List {
        #[command(flatten)]
        org: OrgOpt,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Cancel an open invitation.
    Cancel {
        #[command(flatten)]
        org: OrgOpt,
        /// The invitation's id (inv_…).
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
}

/// `doorman token create|list|revoke` (beside the offline `token inspect`).
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Issue an API token for a machine (a dispatch system, an installer's app, a script):
    /// one organisation, one role. The secret is printed once; `-q` prints it alone. Use it
    /// as --token or DOORMAN_TOKEN.
    Create {
        #[command(flatten)]
        org: OrgOpt,
        /// What it is for ("dispatch system").
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The role it acts in (not resident or driver: they sign in themselves).
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// Days until it expires (1 to 3650) [default: until revoked].
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// The organisation's API tokens (never their secrets).
    List {
        #[command(flatten)]
        org: OrgOpt,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Revoke an API token: it stops working at once.
    Revoke {
        #[command(flatten)]
        org: OrgOpt,
        /// The token's id (tok_…), as `token list` shows it.
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
}

pub fn org(cmd: OrgCmd) -> Result<()> {
    match cmd {
        OrgCmd::List { conn, out } => {
            let api = conn.connect()?;
            output::list(out, &api.call("listing organisations", Client::orgs)?)
        }
        OrgCmd::Show { org, conn, out } => {
            let api = conn.connect()?;
            let id = api.org(org.org.as_deref(), None)?;
            output::one(out, &api.call("reading the organisation", |c| c.org(&id))?)
        }
        OrgCmd::Create {
            kind,
            name,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let o = api.call("creating the organisation", |c| {
                c.create_org(&CreateOrgRequest { kind, name })
            })?;
            output::one(out, &o)
        }
        OrgCmd::Members { org, conn, out } => {
            let api = conn.connect()?;
            let id = api.org(org.org.as_deref(), None)?;
            output::list(out, &api.call("listing members", |c| c.members(&id))?)
        }
        OrgCmd::Invite {
            org,
            email,
            role,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let id = api.org(org.org.as_deref(), None)?;
            let inv = api.call("inviting", |c| {
                c.invite(&id, &InviteRequest { email, role })
            })?;
            invited(out, &inv)
        }
        OrgCmd::RemoveMember { org, user, conn } => {
            let api = conn.connect()?;
            let id = api.org(org.org.as_deref(), None)?;
            api.call("removing the member", |c| c.remove_member(&id, &user))?;
            eprintln!("removed {user} from {id}");
            Ok(())
        }
    }
}

/// A new invitation: its fields, and the code to hand over (alone with `-q`).
pub fn invited(out: OutputOpts, inv: &InvitationView) -> Result<()> {
    let code = inv.code.clone().unwrap_or_default();
    output::one_keyed(out, inv, &code)?;
    if !out.json && !out.quiet {
        eprintln!(
            "hand the code to {}; they run `doorman invitation accept --code CODE --name 'Their Name'` \
             (the code is shown only now)",
            output::clean(&inv.email)
        );
    }
    Ok(())
}

pub fn invitation(cmd: InvitationCmd) -> Result<()> {
    match cmd {
        InvitationCmd::Accept(a) => account::accept(a),
        InvitationCmd::List { org, conn, out } => {
            let api = conn.connect()?;
            let id = api.org(org.org.as_deref(), None)?;
            output::list(
                out,
                &api.call("listing invitations", |c| c.invitations(&id))?,
            )
        }
        InvitationCmd::Cancel { org, id, conn } => {
            let api = conn.connect()?;
            let o = api.org(org.org.as_deref(), None)?;
            api.call("cancelling the invitation", |c| {
                c.cancel_invitation(&o, &id)
            })?;
            eprintln!("cancelled invitation {id}");
            Ok(())
        }
    }
}

pub fn token(cmd: TokenCmd) -> Result<()> {
    match cmd {
        TokenCmd::Create {
            org,
            name,
            role,
            expires_in_days,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let id = api.org(org.org.as_deref(), None)?;
            let t = api.call("creating the API token", |c| {
                c.create_token(
                    &id,
                    &CreateTokenRequest {
                        name,
                        role,
                        expires_in_days,
                    },
                )
            })?;
            let secret = t.token.clone().unwrap_or_default();
            output::one_keyed(out, &t, &secret)?;
            if !out.json && !out.quiet {
                println!();
                println!("secret (shown only now; the server keeps only its hash):");
                println!("  {secret}");
                eprintln!(
                    "use it as --token or DOORMAN_TOKEN; revoke it with `doorman token revoke {}`",
                    t.id
                );
            }
            Ok(())
        }
        TokenCmd::List { org, conn, out } => {
            let api = conn.connect()?;
            let id = api.org(org.org.as_deref(), None)?;
            output::list(out, &api.call("listing API tokens", |c| c.tokens(&id))?)
        }
        TokenCmd::Revoke { org, id, conn } => {
            let api = conn.connect()?;
            let o = api.org(org.org.as_deref(), None)?;
            api.call("revoking the API token", |c| c.revoke_token(&o, &id))?;
            eprintln!("revoked API token {id}");
            Ok(())
        }
    }
}

impl Show for OrgView {
    fn key(&self) -> String {
        self.id.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.clone()),
            ("kind", self.kind.clone()),
            ("name", self.name.clone()),
            ("created", time(&self.created_at)),
            ("carrier key", opt(self.carrier_key.as_ref())),
            (
                "key held by",
                match self.carrier_key_custodial {
                    Some(true) => "the server (custodial: passes can be minted by API)".to_string(),
                    Some(false) => "the carrier (passes are minted offline)".to_string(),
                    None => String::new(),
                },
            ),
        ]
    }
}

impl Row for OrgView {
    const HEADERS: &'static [&'static str] = &["ID", "KIND", "NAME", "CREATED"];
    fn key(&self) -> String {
        self.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.kind.clone(),
            self.name.clone(),
            time(&self.created_at),
        ]
    }
}

impl Row for MemberView {
    const HEADERS: &'static [&'static str] =
        &["USER", "NAME", "EMAIL", "ROLE", "PROPERTY", "UNIT", "SINCE"];
    fn key(&self) -> String {
        self.user.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.user.id.clone(),
            self.user.name.clone(),
            self.user.email.clone(),
            self.role.clone(),
            cell(self.property.as_ref()),
            cell(self.unit.as_ref()),
            time(&self.since),
        ]
    }
}

impl Show for InvitationView {
    fn key(&self) -> String {
        self.id.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.clone()),
            ("org", self.org.clone()),
            ("email", self.email.clone()),
            ("role", self.role.clone()),
            ("property", opt(self.property.as_ref())),
            ("unit", opt(self.unit.as_ref())),
            ("expires", time(&self.expires_at)),
            ("accepted", opt_time(self.accepted_at.as_ref())),
            ("code", opt(self.code.as_ref())),
        ]
    }
}

impl Row for InvitationView {
    const HEADERS: &'static [&'static str] = &[
        "ID", "EMAIL", "ROLE", "PROPERTY", "UNIT", "EXPIRES", "ACCEPTED",
    ];
    fn key(&self) -> String {
        self.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.email.clone(),
            self.role.clone(),
            cell(self.property.as_ref()),
            cell(self.unit.as_ref()),
            time(&self.expires_at),
            cell_time(self.accepted_at.as_ref()),
        ]
    }
}

impl Show for TokenView {
    fn key(&self) -> String {
        self.id.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.clone()),
            ("org", self.org.clone()),
            ("name", self.name.clone()),
            ("role", self.role.clone()),
            ("created by", self.created_by.clone()),
            ("created", time(&self.created_at)),
            (
                "expires",
                self.expires_at
                    .map(|t| time(&t))
                    .unwrap_or_else(|| "never (until revoked)".to_string()),
            ),
            ("revoked", opt_time(self.revoked_at.as_ref())),
            ("last used", opt_time(self.last_used_at.as_ref())),
        ]
    }
}

impl Row for TokenView {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "NAME",
        "ROLE",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "REVOKED",
    ];
    fn key(&self) -> String {
        self.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.role.clone(),
            time(&self.created_at),
            cell_time(self.expires_at.as_ref()),
            cell_time(self.last_used_at.as_ref()),
            cell_time(self.revoked_at.as_ref()),
        ]
    }
}
