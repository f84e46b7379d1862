//! The one place the `doorman` binary reads the clock (STYLE: time is a parameter).

use jiff::Timestamp;

/// The current time.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Timestamp {
    Timestamp::now()
}

/// The current time as a `SystemTime` (the log's integrator stamps checkpoints with it).
#[allow(clippy::disallowed_methods)]
pub fn system_now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

/// The monotonic timer (request durations in the server's metrics).
#[allow(clippy::disallowed_methods)]
pub fn monotonic() -> std::time::Instant {
    std::time::Instant::now()
}
