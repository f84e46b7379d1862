//! The device protocol: what a door device receives and checks by itself, from signed material
//! only. Pure: no I/O, no clock (time is passed in), so the agent and the tests run the same
//! code.
//!
//! - [`activation`]: the activation bundle — the property's registration and the device's
//!   installation consent, each with its inclusion proof in the public transparency log, plus
//!   the device configuration, revocation list and service state signed with the property key —
//!   and [`verify_activation`], which says whether this device may start serving its door.
//!
//! - [`event`]: the access event a device signs for every decision.
//!
//! The message formats between server and devices over MQTT (unlock requests, state pushes,
//! heartbeats) will live here too.

pub mod activation;
pub mod event;
pub mod fixture;
pub mod fuzzing;

pub use activation::{
    ACTIVATION_TYPE, ACTIVATION_VERSION, Activation, ActivationBundle, ActivationError,
    LoggedEntry, MAX_BUNDLE_BYTES, verify_activation,
};
pub use event::{AccessEvent, EVENT_VERSION};
