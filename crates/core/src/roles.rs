//! Organisation kinds and the roles people and API tokens hold in them.
//!
//! Every person or machine acts through a membership: one organisation, one role. The kinds
//! and roles are closed sets with stable wire names (`as_str`), so the API, the store and the
//! policy agree on them without a table anywhere else.

use std::fmt;
use std::str::FromStr;

/// What an organisation is to Doorman.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrgKind {
    /// Runs the deployment and verifies that a property's claimant owns or manages it.
    Operator,
    /// Owns or manages buildings.
    Property,
    /// Puts devices on doors.
    Installer,
    /// Delivers parcels.
    Carrier,
}

impl OrgKind {
    /// Every kind, in documentation order.
    pub const ALL: [OrgKind; 4] = [
        OrgKind::Operator,
        OrgKind::Property,
        OrgKind::Installer,
        OrgKind::Carrier,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrgKind::Operator => "operator",
            OrgKind::Property => "property",
            OrgKind::Installer => "installer",
            OrgKind::Carrier => "carrier",
        }
    }

    /// The roles a member of such an organisation can hold.
    pub fn roles(self) -> &'static [Role] {
        match self {
            OrgKind::Operator => &[Role::Operator],
            OrgKind::Property => &[Role::Owner, Role::Manager, Role::Resident],
            OrgKind::Installer => &[Role::Admin, Role::Installer],
            OrgKind::Carrier => &[Role::Admin, Role::Dispatcher, Role::Driver],
        }
    }

    /// The role of the person who creates the organisation (and can invite everyone else).
    pub const fn founder_role(self) -> Role {
        match self {
            OrgKind::Operator => Role::Operator,
            OrgKind::Property => Role::Owner,
            OrgKind::Installer | OrgKind::Carrier => Role::Admin,
        }
    }
}

/// A role inside an organisation. Which roles exist in which kind: [`OrgKind::roles`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Member of the operator organisation.
    Operator,
    /// Owner of a property organisation: everything a manager can do, and manages managers.
    Owner,
    /// Runs the organisation's buildings day to day.
    Manager,
    /// Lives in one unit of one property (invited by a manager).
    Resident,
    /// Administers an installer or carrier organisation.
    Admin,
    /// Files installation requests.
    Installer,
    /// Mints passes and manages drivers for a carrier.
    Dispatcher,
    /// Delivers; holds a key on a handset.
    Driver,
}

impl Role {
    /// Every role, in documentation order.
    pub const ALL: [Role; 8] = [
        Role::Operator,
        Role::Owner,
        Role::Manager,
        Role::Resident,
        Role::Admin,
        Role::Installer,
        Role::Dispatcher,
        Role::Driver,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Resident => "resident",
            Role::Admin => "admin",
            Role::Installer => "installer",
            Role::Dispatcher => "dispatcher",
            Role::Driver => "driver",
        }
    }

    /// Whether an organisation of `kind` can have members in this role.
    pub fn exists_in(self, kind: OrgKind) -> bool {
        kind.roles().contains(&self)
    }

    /// Whether the role belongs to a person who lives somewhere or delivers, rather than to
    /// someone who runs the organisation: such roles are held by people only, never by API
    /// tokens, and are scoped narrowly (a resident to one unit).
    pub fn is_personal(self) -> bool {
        matches!(self, Role::Resident | Role::Driver)
    }
}

/// A kind or role name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {found:?}; expected one of: {expected}")]
pub struct UnknownName {
    pub what: &'static str,
    pub found: String,
    pub expected: String,
}

impl FromStr for OrgKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<OrgKind, UnknownName> {
        OrgKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "organisation kind",
                found: s.to_string(),
                expected: names(OrgKind::ALL.iter().map(|k| k.as_str())),
            })
    }
}

impl FromStr for Role {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Role, UnknownName> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "role",
                found: s.to_string(),
                expected: names(Role::ALL.iter().map(|r| r.as_str())),
            })
    }
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

impl fmt::Display for OrgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in OrgKind::ALL {
            assert_eq!(k.as_str().parse::<OrgKind>(), Ok(k));
            assert!(k.founder_role().exists_in(k));
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
            assert!(
                OrgKind::ALL.iter().any(|k| r.exists_in(*k)),
                "{r} exists nowhere"
            );
        }
        let e = "landlord".parse::<Role>().unwrap_err();
        assert!(e.to_string().contains("owner, manager"), "{e}");
    }
}
