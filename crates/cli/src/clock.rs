//! The one place the `doorman` binary reads the clock (STYLE: time is a parameter).

use jiff::Timestamp;

/// The current time.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Timestamp {
    Timestamp::now()
}
