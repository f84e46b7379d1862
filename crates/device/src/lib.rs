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
//! - [`messages`]: what the server and devices say over MQTT (events, status, challenges,
//!   forwarded passes, acknowledgements, state), signed end to end.
//!
//! - [`broker`]: the broker addresses bundles name.

pub mod activation;
pub mod broker;
pub mod event;
pub mod fixture;
pub mod fuzzing;
pub mod messages;

pub use activation::{
    ACTIVATION_TYPE, ACTIVATION_VERSION, Activation, ActivationBundle, ActivationError, BrokerLink,
    LoggedEntry, MAX_BUNDLE_BYTES, StateUpdate, verify_activation,
};
pub use event::{AccessEvent, EVENT_VERSION};
