//! Who may do what: the one authorization rule of the control plane.
//!
//! Every API handler (and, later, every dashboard page) asks [`authorize`] before it reads or
//! changes anything, passing the [`Actor`] (the memberships of the signed-in person, or the one
//! membership of an API token), the [`Action`] and the [`Scope`] of the thing acted on (which
//! organisations it belongs to). There is no second rule anywhere else.
//!
//! The answer is one of three:
//!
//! - allowed;
//! - [`Refusal::Hidden`]: the actor may not even know the thing exists — the API answers
//!   `404`, exactly as for a thing that does not exist, so nothing leaks across tenants;
//! - [`Refusal::Forbidden`]: the actor can see the thing but not do this to it (`403`); and
//!   [`Refusal::OwnRequest`], a forbidden decision on one's own installation request.
//!
//! "Can see" is itself a rule: each action names the read action that governs visibility
//! ([`Action::visibility`]); an actor allowed that read sees the thing.
//!
//! Relations come from memberships: a membership in the organisation that holds a property
//! relates its holder to that property's doors, units, installations and authorizations — a
//! resident only to the one property of their unit. A membership in the installer
//! organisation of an installation request, or the carrier organisation of an authorization,
//! relates its holder to that request or authorization. The operator relates to properties
//! (it verifies claims) and sees every organisation (it lists them), and to nothing else: it
//! cannot read installation requests, authorizations or access logs, nor act in any
//! organisation but its own.

use crate::ids::{OrgId, PropertyId};
use crate::roles::{OrgKind, Role};

/// One organisation and one role: what a person holds (several), or an API token (exactly
/// one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub org: OrgId,
    pub kind: OrgKind,
    pub role: Role,
    /// For residents: the property their unit is in. `None` for every other role.
    pub property: Option<PropertyId>,
}

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actor {
    /// The person (user id) or, for an API token, the person who created it: what the
    /// own-request rule compares with [`Scope::filed_by`].
    pub person: Option<String>,
    pub memberships: Vec<Membership>,
}

/// What the acted-on thing belongs to. Fill in what applies; the rest stays `None`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    /// An organisation itself (its members, invitations, tokens, drivers, carrier key).
    pub org: Option<&'a OrgId>,
    /// The property organisation holding a property and everything at it.
    pub property_org: Option<&'a OrgId>,
    /// The property.
    pub property: Option<&'a PropertyId>,
    /// The installer organisation of an installation request.
    pub installer_org: Option<&'a OrgId>,
    /// The carrier organisation of an authorization.
    pub carrier_org: Option<&'a OrgId>,
    /// The person who filed an installation request.
    pub filed_by: Option<&'a str>,
}

/// Every action of the control plane. `Invite` and `CreateToken` carry the role being given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    // Organisations.
    ReadOrg,
    ListMembers,
    ManageMembers,
    Invite(Role),
    ManageTokens,
    CreateToken(Role),
    ManageCarrierKey,
    ReadDrivers,
    ManageDrivers,
    ListCarriers,
    ListAllOrgs,
    // Properties.
    ClaimProperty,
    ReadProperty,
    VerifyProperty,
    ReadDoors,
    ManageDoors,
    ReadUnits,
    ManageUnits,
    ReadResidents,
    ReadService,
    ManageService,
    ReadRevocations,
    Revoke,
    ReadAccessLog,
    /// The building's delivery entries with drivers as pseudonyms, and one's own unit's
    /// deliveries: what a resident sees (and the building's owners and managers).
    ReadDeliveries,
    /// List a property's carrier authorizations, or authorize a carrier there.
    ManageCarriers,
    // Installations.
    FileInstallation,
    ReadInstallation,
    UploadEvidence,
    DecideInstallation,
    RevokeConsent,
    // Carrier authorizations and passes.
    ReadAuthorization,
    ManageAuthorizations,
    MintPass,
    ReadPasses,
}

/// Why an action is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The actor may not know the thing exists (answer as if it did not).
    #[error("not found")]
    Hidden,
    /// The actor sees the thing but their role does not allow this.
    #[error("your role does not allow this")]
    Forbidden,
    /// A decision on an installation request the actor's own organisation filed.
    #[error("an installation request cannot be decided by its own installer")]
    OwnRequest,
}

/// How a membership relates to a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    /// A member of the organisation itself.
    Org,
    /// A member of the property's organisation (a resident: of this property).
    PropertyOrg,
    /// A member of the request's installer organisation.
    InstallerOrg,
    /// A member of the authorization's carrier organisation.
    CarrierOrg,
    /// A member of the operator organisation (for property-level reads and verification).
    Operator,
    /// Holds the role anywhere (for directory-wide actions such as listing carriers).
    Anywhere,
}

use Role::{Admin, Dispatcher, Installer, Manager, Operator, Owner, Resident};

const ALL_ROLES: &[Role] = &Role::ALL;

/// The grants of an action: (relation, roles holding it there).
fn grants(action: Action) -> &'static [(Rel, &'static [Role])] {
    match action {
        // The operator sees every organisation (it lists them all); it acts on none.
        Action::ReadOrg => &[(Rel::Org, ALL_ROLES), (Rel::Anywhere, &[Operator])],
        Action::ListMembers => &[(Rel::Org, &[Operator, Owner, Manager, Admin])],
        Action::ManageMembers => &[(Rel::Org, &[Operator, Owner, Admin])],
        Action::Invite(role) => match role {
            Operator => &[(Rel::Org, &[Operator])],
            Owner | Manager => &[(Rel::Org, &[Owner])],
            // Residents are invited to a unit of a property (scope: that property).
            Resident => &[(Rel::PropertyOrg, &[Owner, Manager])],
            Admin | Installer | Dispatcher | Role::Driver => &[(Rel::Org, &[Admin])],
        },
        Action::ManageTokens => &[(Rel::Org, &[Operator, Owner, Manager, Admin])],
        Action::CreateToken(role) => match role {
            // People who live somewhere or drive sign in themselves; no token acts for them.
            Resident | Role::Driver => &[],
            Operator => &[(Rel::Org, &[Operator])],
            Owner => &[(Rel::Org, &[Owner])],
            Manager => &[(Rel::Org, &[Owner, Manager])],
            Admin | Installer | Dispatcher => &[(Rel::Org, &[Admin])],
        },
        Action::ManageCarrierKey => &[(Rel::Org, &[Admin])],
        Action::ReadDrivers | Action::ManageDrivers => &[(Rel::Org, &[Admin, Dispatcher])],
        Action::ListCarriers => &[(Rel::Anywhere, &[Owner, Manager, Operator])],
        Action::ListAllOrgs => &[(Rel::Anywhere, &[Operator])],
        Action::ClaimProperty => &[(Rel::Org, &[Owner, Manager])],
        Action::ReadProperty | Action::ReadDoors => &[
            (Rel::PropertyOrg, &[Owner, Manager, Resident]),
            (Rel::Operator, &[Operator]),
        ],
        Action::ReadDeliveries => &[(Rel::PropertyOrg, &[Owner, Manager, Resident])],
        Action::VerifyProperty => &[(Rel::Operator, &[Operator])],
        Action::ManageDoors
        | Action::ReadUnits
        | Action::ManageUnits
        | Action::ReadResidents
        | Action::ReadService
        | Action::ManageService
        | Action::ReadRevocations
        | Action::Revoke
        | Action::ReadAccessLog
        | Action::RevokeConsent
        | Action::ManageCarriers
        | Action::ManageAuthorizations => &[(Rel::PropertyOrg, &[Owner, Manager])],
        Action::FileInstallation | Action::UploadEvidence => {
            &[(Rel::InstallerOrg, &[Admin, Installer])]
        }
        Action::ReadInstallation => &[
            (Rel::PropertyOrg, &[Owner, Manager]),
            (Rel::InstallerOrg, &[Admin, Installer]),
        ],
        // The own-request rule is applied on top, in `authorize`.
        Action::DecideInstallation => &[(Rel::PropertyOrg, &[Owner, Manager])],
        Action::ReadAuthorization | Action::ReadPasses => &[
            (Rel::PropertyOrg, &[Owner, Manager]),
            (Rel::CarrierOrg, &[Admin, Dispatcher]),
        ],
        Action::MintPass => &[(Rel::CarrierOrg, &[Admin, Dispatcher])],
    }
}

impl Action {
    /// The read action that decides whether the actor may know the thing exists. `None` for
    /// actions on no particular thing (a refusal is then [`Refusal::Forbidden`]).
    pub fn visibility(self) -> Option<Action> {
        match self {
            Action::ListCarriers | Action::ListAllOrgs | Action::FileInstallation => None,
            Action::ReadOrg
            | Action::ListMembers
            | Action::ManageMembers
            | Action::Invite(Role::Operator | Role::Owner | Role::Manager)
            | Action::Invite(Role::Admin | Role::Installer | Role::Dispatcher | Role::Driver)
            | Action::ManageTokens
            | Action::CreateToken(_)
            | Action::ManageCarrierKey
            | Action::ReadDrivers
            | Action::ManageDrivers
            | Action::ClaimProperty => Some(Action::ReadOrg),
            Action::Invite(Role::Resident)
            | Action::ReadProperty
            | Action::VerifyProperty
            | Action::ReadDoors
            | Action::ManageDoors
            | Action::ReadUnits
            | Action::ManageUnits
            | Action::ReadResidents
            | Action::ReadService
            | Action::ManageService
            | Action::ReadRevocations
            | Action::Revoke
            | Action::ReadAccessLog
            | Action::ReadDeliveries
            | Action::ManageCarriers => Some(Action::ReadProperty),
            Action::ReadInstallation
            | Action::UploadEvidence
            | Action::DecideInstallation
            | Action::RevokeConsent => Some(Action::ReadInstallation),
            Action::ReadAuthorization
            | Action::ManageAuthorizations
            | Action::MintPass
            | Action::ReadPasses => Some(Action::ReadAuthorization),
        }
    }
}

fn relates(m: &Membership, rel: Rel, scope: &Scope<'_>) -> bool {
    let member_of = |org: Option<&OrgId>| org.is_some_and(|o| *o == m.org);
    match rel {
        Rel::Org => member_of(scope.org),
        Rel::PropertyOrg => {
            member_of(scope.property_org)
                && (m.role != Role::Resident
                    || (m.property.is_some() && m.property.as_ref() == scope.property))
        }
        Rel::InstallerOrg => member_of(scope.installer_org),
        Rel::CarrierOrg => member_of(scope.carrier_org),
        Rel::Operator => m.kind == OrgKind::Operator,
        Rel::Anywhere => true,
    }
}

/// Whether some membership of `actor` holds a grant of `action` on `scope`.
fn granted(actor: &Actor, action: Action, scope: &Scope<'_>) -> bool {
    grants(action).iter().any(|(rel, roles)| {
        actor
            .memberships
            .iter()
            .any(|m| roles.contains(&m.role) && m.role.exists_in(m.kind) && relates(m, *rel, scope))
    })
}

/// May `actor` do `action` to the thing described by `scope`? See the [module docs](self).
pub fn authorize(actor: &Actor, action: Action, scope: &Scope<'_>) -> Result<(), Refusal> {
    if granted(actor, action, scope) {
        if action == Action::DecideInstallation && is_own_request(actor, scope) {
            return Err(Refusal::OwnRequest);
        }
        return Ok(());
    }
    match action.visibility() {
        Some(read) if read != action && granted(actor, read, scope) => Err(Refusal::Forbidden),
        Some(_) => Err(Refusal::Hidden),
        None => Err(Refusal::Forbidden),
    }
}

/// The request was filed by this person, or by an organisation this actor belongs to.
fn is_own_request(actor: &Actor, scope: &Scope<'_>) -> bool {
    let filed_by_me =
        matches!((actor.person.as_deref(), scope.filed_by), (Some(a), Some(b)) if a == b);
    let in_installer_org = scope
        .installer_org
        .is_some_and(|org| actor.memberships.iter().any(|m| m.org == *org));
    filed_by_me || in_installer_org
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(s: &str) -> OrgId {
        OrgId::new(s).unwrap()
    }

    fn member(o: &str, kind: OrgKind, role: Role) -> Membership {
        Membership {
            org: org(o),
            kind,
            role,
            property: None,
        }
    }

    #[test]
    fn cross_tenant_is_hidden_and_wrong_role_is_forbidden() {
        let acme = org("acme");
        let other = org("other");
        let p = PropertyId::new("p1").unwrap();
        let manager = Actor {
            person: Some("u1".into()),
            memberships: vec![member("acme", OrgKind::Property, Role::Manager)],
        };
        let mine = Scope {
            property_org: Some(&acme),
            property: Some(&p),
            ..Scope::default()
        };
        let theirs = Scope {
            property_org: Some(&other),
            property: Some(&p),
            ..Scope::default()
        };
        assert_eq!(authorize(&manager, Action::ManageDoors, &mine), Ok(()));
        assert_eq!(
            authorize(&manager, Action::ManageDoors, &theirs),
            Err(Refusal::Hidden)
        );
        assert_eq!(
            authorize(&manager, Action::VerifyProperty, &mine),
            Err(Refusal::Forbidden)
        );
    }

    #[test]
    fn a_resident_sees_only_their_property() {
        let acme = org("acme");
        let p1 = PropertyId::new("p1").unwrap();
        let p2 = PropertyId::new("p2").unwrap();
        let resident = Actor {
            person: Some("u2".into()),
            memberships: vec![Membership {
                property: Some(p1.clone()),
                ..member("acme", OrgKind::Property, Role::Resident)
            }],
        };
        let at = |p| Scope {
            property_org: Some(&acme),
            property: Some(p),
            ..Scope::default()
        };
        assert_eq!(authorize(&resident, Action::ReadProperty, &at(&p1)), Ok(()));
        assert_eq!(
            authorize(&resident, Action::ReadDeliveries, &at(&p1)),
            Ok(())
        );
        // The deliveries with pseudonyms, never the access log itself.
        assert_eq!(
            authorize(&resident, Action::ReadAccessLog, &at(&p1)),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            authorize(&resident, Action::ReadDeliveries, &at(&p2)),
            Err(Refusal::Hidden)
        );
        assert_eq!(
            authorize(&resident, Action::ManageService, &at(&p1)),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            authorize(&resident, Action::ReadProperty, &at(&p2)),
            Err(Refusal::Hidden)
        );
    }

    #[test]
    fn an_installer_never_decides_its_own_request() {
        let acme = org("acme");
        let fixit = org("fixit");
        let p = PropertyId::new("p1").unwrap();
        // One person who is both a manager of the building and a member of the installer.
        let both = Actor {
            person: Some("u3".into()),
            memberships: vec![
                member("acme", OrgKind::Property, Role::Manager),
                member("fixit", OrgKind::Installer, Role::Installer),
            ],
        };
        let request = Scope {
            property_org: Some(&acme),
            property: Some(&p),
            installer_org: Some(&fixit),
            filed_by: Some("u9"),
            ..Scope::default()
        };
        assert_eq!(
            authorize(&both, Action::DecideInstallation, &request),
            Err(Refusal::OwnRequest)
        );
        // A manager who personally filed it (through another installer org) is refused too.
        let filer = Actor {
            person: Some("u9".into()),
            memberships: vec![member("acme", OrgKind::Property, Role::Manager)],
        };
        assert_eq!(
            authorize(&filer, Action::DecideInstallation, &request),
            Err(Refusal::OwnRequest)
        );
        let installer = Actor {
            person: Some("u4".into()),
            memberships: vec![member("fixit", OrgKind::Installer, Role::Admin)],
        };
        assert_eq!(
            authorize(&installer, Action::DecideInstallation, &request),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            authorize(&installer, Action::ReadInstallation, &request),
            Ok(())
        );
    }

    #[test]
    fn a_role_in_the_wrong_kind_of_org_grants_nothing() {
        // A corrupt membership (a carrier "owner") must not act as an owner.
        let acme = org("acme");
        let bogus = Actor {
            person: None,
            memberships: vec![member("acme", OrgKind::Carrier, Role::Owner)],
        };
        let scope = Scope {
            org: Some(&acme),
            property_org: Some(&acme),
            ..Scope::default()
        };
        // Not even visibility: the membership is void.
        assert_eq!(
            authorize(&bogus, Action::ManageMembers, &scope),
            Err(Refusal::Hidden)
        );
        assert!(authorize(&bogus, Action::ManageDoors, &scope).is_err());
    }

    #[test]
    fn tokens_never_act_for_residents_or_drivers() {
        let acme = org("acme");
        let owner = Actor {
            person: Some("u".into()),
            memberships: vec![member("acme", OrgKind::Property, Role::Owner)],
        };
        let scope = Scope {
            org: Some(&acme),
            ..Scope::default()
        };
        assert_eq!(
            authorize(&owner, Action::CreateToken(Role::Resident), &scope),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            authorize(&owner, Action::CreateToken(Role::Manager), &scope),
            Ok(())
        );
    }
}
