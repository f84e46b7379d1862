//! Doorman's pure domain.
//!
//! Everything here is deterministic: no I/O, no clock, no randomness. Time always arrives as a
//! [`jiff::Timestamp`] argument, so every validity window, schedule and replay rule can be
//! tested at a chosen instant (see ARCHITECTURE.md, "Invariants").

pub mod ids;
pub mod policy;
pub mod reason;
pub mod roles;
pub mod schedule;
pub mod service;
pub mod throttle;
pub mod usage;

pub use ids::{
    CarrierId, DeliveryRef, DeviceId, DoorId, IdError, InstallerId, OrgId, PropertyId, RequestId,
    UnitId,
};
pub use policy::{Action, Actor, Membership, Refusal, Scope, authorize};
pub use reason::DenyReason;
pub use roles::{OrgKind, Role, UnknownName};
pub use schedule::{LocalSlot, ScheduleError, WeeklySchedule};
pub use service::ServiceSwitch;
pub use usage::{UsageLedger, UsageLimits};
