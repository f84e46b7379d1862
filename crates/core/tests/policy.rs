//! Property tests of the control plane's one authorization rule (`doorman_core::policy`):
//! over random actors (any memberships in a small universe of organisations, kinds, roles and
//! properties) and random scopes.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use doorman_core::policy::{Action, Actor, Membership, Refusal, Scope, authorize};
use doorman_core::{OrgId, OrgKind, PropertyId, Role};
use proptest::prelude::*;

const ORGS: [&str; 3] = ["org-a", "org-b", "org-c"];
const PROPERTIES: [&str; 2] = ["p1", "p2"];
const PERSONS: [&str; 3] = ["u1", "u2", "u3"];

fn actions() -> Vec<Action> {
    let mut all = vec![
        Action::ReadOrg,
        Action::ListMembers,
        Action::ManageMembers,
        Action::ManageTokens,
        Action::ManageCarrierKey,
        Action::ReadDrivers,
        Action::ManageDrivers,
        Action::ListCarriers,
        Action::ListAllOrgs,
        Action::ClaimProperty,
        Action::ReadProperty,
        Action::VerifyProperty,
        Action::ReadDoors,
        Action::ManageDoors,
        Action::ReadUnits,
        Action::ManageUnits,
        Action::ReadResidents,
        Action::ReadService,
        Action::ManageService,
        Action::ReadRevocations,
        Action::Revoke,
        Action::ReadAccessLog,
        Action::ReadDeliveries,
        Action::ManageCarriers,
        Action::FileInstallation,
        Action::ReadInstallation,
        Action::UploadEvidence,
        Action::DecideInstallation,
        Action::RevokeConsent,
        Action::ReadAuthorization,
        Action::ManageAuthorizations,
        Action::MintPass,
        Action::ReadPasses,
    ];
    for r in Role::ALL {
        all.push(Action::Invite(r));
        all.push(Action::CreateToken(r));
    }
    all
}

fn membership() -> impl Strategy<Value = Membership> {
    (
        0..ORGS.len(),
        0..OrgKind::ALL.len(),
        0..Role::ALL.len(),
        proptest::option::of(0..PROPERTIES.len()),
    )
        .prop_map(|(o, k, r, p)| Membership {
            org: OrgId::new(ORGS[o]).unwrap(),
            kind: OrgKind::ALL[k],
            role: Role::ALL[r],
            property: p.map(|p| PropertyId::new(PROPERTIES[p]).unwrap()),
        })
}

fn actor() -> impl Strategy<Value = Actor> {
    (
        proptest::option::of(0..PERSONS.len()),
        proptest::collection::vec(membership(), 0..4),
    )
        .prop_map(|(p, memberships)| Actor {
            person: p.map(|p| PERSONS[p].to_string()),
            memberships,
        })
}

/// Owned scope values (a `Scope` borrows them).
#[derive(Debug, Clone)]
struct ScopeData {
    org: Option<OrgId>,
    property_org: Option<OrgId>,
    property: Option<PropertyId>,
    installer_org: Option<OrgId>,
    carrier_org: Option<OrgId>,
    filed_by: Option<String>,
}

impl ScopeData {
    fn scope(&self) -> Scope<'_> {
        Scope {
            org: self.org.as_ref(),
            property_org: self.property_org.as_ref(),
            property: self.property.as_ref(),
            installer_org: self.installer_org.as_ref(),
            carrier_org: self.carrier_org.as_ref(),
            filed_by: self.filed_by.as_deref(),
        }
    }

    fn orgs(&self) -> Vec<&OrgId> {
        [
            &self.org,
            &self.property_org,
            &self.installer_org,
            &self.carrier_org,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

fn scope() -> impl Strategy<Value = ScopeData> {
    let org = || proptest::option::of((0..ORGS.len()).prop_map(|o| OrgId::new(ORGS[o]).unwrap()));
    (
        org(),
        org(),
        proptest::option::of(
            (0..PROPERTIES.len()).prop_map(|p| PropertyId::new(PROPERTIES[p]).unwrap()),
        ),
        org(),
        org(),
        proptest::option::of((0..PERSONS.len()).prop_map(|p| PERSONS[p].to_string())),
    )
        .prop_map(
            |(org, property_org, property, installer_org, carrier_org, filed_by)| ScopeData {
                org,
                property_org,
                property,
                installer_org,
                carrier_org,
                filed_by,
            },
        )
}

/// Actions on no particular thing: any holder of the right role anywhere may do them.
fn is_directory_wide(a: Action) -> bool {
    matches!(a, Action::ListCarriers | Action::ListAllOrgs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn nobody_without_a_membership_may_do_anything(s in scope()) {
        let nobody = Actor::default();
        for a in actions() {
            prop_assert!(authorize(&nobody, a, &s.scope()).is_err(), "{a:?}");
        }
    }

    /// Memberships in organisations the thing does not belong to grant nothing (except an
    /// operator's reach over properties, and directory-wide lists).
    #[test]
    fn unrelated_memberships_grant_nothing(actor in actor(), s in scope()) {
        let related = s.orgs();
        let unrelated = Actor {
            person: actor.person.clone(),
            memberships: actor
                .memberships
                .iter()
                .filter(|m| !related.contains(&&m.org) && m.kind != OrgKind::Operator)
                .cloned()
                .collect(),
        };
        for a in actions().into_iter().filter(|a| !is_directory_wide(*a)) {
            prop_assert!(authorize(&unrelated, a, &s.scope()).is_err(), "{a:?} by {unrelated:?}");
        }
    }

    /// More memberships never take a right away — but for the own-request rule, which is
    /// exactly that.
    #[test]
    fn rights_only_grow_with_memberships(a in actor(), extra in membership(), s in scope()) {
        let mut more = a.clone();
        more.memberships.push(extra);
        for action in actions().into_iter().filter(|x| *x != Action::DecideInstallation) {
            if authorize(&a, action, &s.scope()).is_ok() {
                prop_assert!(authorize(&more, action, &s.scope()).is_ok(), "{action:?}");
            }
        }
    }

    /// Hidden exactly when the actor may not read the thing: a refusal never tells a stranger
    /// that the thing exists.
    #[test]
    fn hidden_means_not_visible(a in actor(), s in scope()) {
        for action in actions() {
            match (authorize(&a, action, &s.scope()), action.visibility()) {
                (Err(Refusal::Hidden), Some(read)) => {
                    prop_assert!(authorize(&a, read, &s.scope()).is_err(), "{action:?}");
                }
                (Err(Refusal::Forbidden | Refusal::OwnRequest), Some(read)) => {
                    prop_assert!(authorize(&a, read, &s.scope()).is_ok(), "{action:?}");
                }
                (Err(Refusal::Hidden), None) => prop_assert!(false, "{action:?} hid a non-thing"),
                _ => {}
            }
        }
    }

    #[test]
    fn no_member_of_the_installer_and_not_the_filer_ever_decides(a in actor(), s in scope()) {
        let ok = authorize(&a, Action::DecideInstallation, &s.scope()).is_ok();
        if let Some(installer) = &s.installer_org {
            prop_assert!(!(ok && a.memberships.iter().any(|m| &m.org == installer)));
        }
        if let (Some(filer), Some(me)) = (&s.filed_by, &a.person) {
            prop_assert!(!(ok && filer == me));
        }
    }

    /// The operator verifies buildings; it never reads or changes what happens at them.
    #[test]
    fn the_operator_reaches_no_installation_authorization_or_access_log(s in scope()) {
        let operator = Actor {
            person: Some("op".into()),
            memberships: ORGS.iter().map(|o| Membership {
                org: OrgId::new(*o).unwrap(),
                kind: OrgKind::Operator,
                role: Role::Operator,
                property: None,
            }).collect(),
        };
        for a in [
            Action::ReadInstallation, Action::DecideInstallation, Action::RevokeConsent,
            Action::ReadAuthorization, Action::ManageAuthorizations, Action::MintPass,
            Action::ReadPasses, Action::ReadAccessLog, Action::ReadDeliveries, Action::ManageService, Action::ManageDoors, Action::ManageCarriers,
        ] {
            prop_assert!(authorize(&operator, a, &s.scope()).is_err(), "{a:?}");
        }
    }
}
