//! The relay back ends of `doorman-agent run` beside the simulated ones in [`crate::door`]:
//! a Linux GPIO character-device line, and a configured command.
//!
//! Both are fail-secure in the same way as the rest of the door: a back end that can't be set
//! up stops the agent at start (an installer sees it at once, rather than a door that never
//! opens), and a pulse that fails is a reported fault (the decision is already journaled).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gpiocdev::Request;
use gpiocdev::line::{Offset, Value};

use crate::door::Relay;

/// Which level of the line energises the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveLevel {
    High,
    Low,
}

impl std::str::FromStr for ActiveLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "high" => Ok(ActiveLevel::High),
            "low" => Ok(ActiveLevel::Low),
            other => Err(format!(
                "the active level {other:?} is not one of: high, low"
            )),
        }
    }
}

/// Where the relay is wired on a GPIO character device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpioSpec {
    /// The chip's character device, e.g. `/dev/gpiochip0`.
    pub chip: PathBuf,
    /// The line's offset on the chip.
    pub line: Offset,
    /// The level that energises the relay (`low` for most opto-isolated relay boards).
    pub active: ActiveLevel,
}

/// Why a relay back end could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(
        "GPIO line {line} of {chip}: {source} (check the chip path with `gpiodetect`, the line with `gpioinfo`, that no other program holds the line, and that this user may open the chip)"
    )]
    Gpio {
        chip: String,
        line: Offset,
        #[source]
        source: gpiocdev::Error,
    },
}

/// A relay on a GPIO line, held by the agent for its whole run (requested as an output at its
/// inactive level, so no other program can drive it and the door starts shut).
///
/// A pulse drives the line active and returns at once; a timer thread drives it inactive
/// after the pulse. The door's lock is not held for the length of a pulse (seconds), so other
/// decisions and the server link go on meanwhile. A pulse that arrives during another extends
/// it: only the newest pulse's timer ends it.
#[derive(Clone)]
pub struct GpioRelay {
    inner: Arc<GpioLine>,
}

struct GpioLine {
    spec: GpioSpec,
    request: Request,
    /// The pulse whose timer may end the pulse.
    newest: AtomicU64,
    /// A failure to drive the line inactive, reported with the next pulse (the timer thread
    /// has nobody to return it to).
    stuck: Mutex<Option<String>>,
}

impl std::fmt::Debug for GpioRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpioRelay")
            .field("spec", &self.inner.spec)
            .finish_non_exhaustive()
    }
}

/// Tries to drive the line inactive this many times before it counts as stuck.
const RELEASE_ATTEMPTS: u32 = 5;

impl GpioRelay {
    /// Requests the line as an output, inactive.
    pub fn open(spec: GpioSpec) -> Result<GpioRelay, RelayError> {
        let mut builder = Request::builder();
        builder
            .on_chip(&spec.chip)
            .with_consumer("doorman-agent")
            .with_line(spec.line);
        if spec.active == ActiveLevel::Low {
            builder.as_active_low();
        }
        let request = builder
            .as_output(Value::Inactive)
            .request()
            .map_err(|source| RelayError::Gpio {
                chip: spec.chip.display().to_string(),
                line: spec.line,
                source,
            })?;
        Ok(GpioRelay {
            inner: Arc::new(GpioLine {
                spec,
                request,
                newest: AtomicU64::new(0),
                stuck: Mutex::new(None),
            }),
        })
    }
}

impl GpioLine {
    fn describe(&self, e: &gpiocdev::Error) -> String {
        format!(
            "GPIO line {} of {}: {e}",
            self.spec.line,
            self.spec.chip.display()
        )
    }

    fn release(&self) -> Result<(), String> {
        let mut last = String::new();
        for _ in 0..RELEASE_ATTEMPTS {
            match self.request.set_value(self.spec.line, Value::Inactive) {
                Ok(_) => return Ok(()),
                Err(e) => last = self.describe(&e),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(last)
    }
}

impl Relay for GpioRelay {
    fn pulse(&mut self, ms: u32) -> Result<(), String> {
        let line = &self.inner;
        if let Some(stuck) = line
            .stuck
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            // Try once more to shut it before reporting: the door must not stay released.
            line.release()?;
            return Err(format!("the last pulse could not be ended: {stuck}"));
        }
        let this = line.newest.fetch_add(1, Ordering::SeqCst).wrapping_add(1);
        line.request
            .set_value(line.spec.line, Value::Active)
            .map_err(|e| line.describe(&e))?;
        let timer = Arc::clone(line);
        let spawned = std::thread::Builder::new()
            .name("doorman-relay".into())
            .spawn(move || {
                std::thread::sleep(Duration::from_millis(u64::from(ms)));
                if timer.newest.load(Ordering::SeqCst) == this
                    && let Err(e) = timer.release()
                {
                    eprintln!("doorman-agent: relay fault: {e} [relay_stuck]");
                    *timer.stuck.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                }
            });
        if let Err(e) = spawned {
            // No timer to end the pulse: end it now, so the door is not left released.
            line.release()?;
            return Err(format!("no timer thread for the pulse: {e}"));
        }
        Ok(())
    }
}

/// Runs `PROGRAM <ms>` for each pulse and waits for it; a non-zero exit is a relay fault.
/// The program should return promptly (start the pulse and leave), since the door waits for it.
#[derive(Debug, Clone)]
pub struct CommandRelay(pub PathBuf);

impl Relay for CommandRelay {
    fn pulse(&mut self, ms: u32) -> Result<(), String> {
        let status = std::process::Command::new(&self.0)
            .arg(ms.to_string())
            .status()
            .map_err(|e| format!("{}: {e}", self.0.display()))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{} exited with {status}", self.0.display()))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn active_levels_parse_and_others_are_refused_with_the_choices() {
        assert_eq!("high".parse::<ActiveLevel>(), Ok(ActiveLevel::High));
        assert_eq!("low".parse::<ActiveLevel>(), Ok(ActiveLevel::Low));
        let e = "LOW".parse::<ActiveLevel>().unwrap_err();
        assert!(e.contains("high, low"), "{e}");
    }

    #[test]
    fn a_missing_chip_is_refused_at_start_with_what_to_check() {
        let dir = tempfile::tempdir().unwrap();
        let e = GpioRelay::open(GpioSpec {
            chip: dir.path().join("gpiochip9"),
            line: 17,
            active: ActiveLevel::Low,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("GPIO line 17 of"), "{e}");
        assert!(e.contains("gpiochip9"), "{e}");
        assert!(e.contains("gpioinfo"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_a_gpio_chip_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("gpiochip0");
        std::fs::write(&fake, b"not a chip").unwrap();
        let e = GpioRelay::open(GpioSpec {
            chip: fake,
            line: 0,
            active: ActiveLevel::High,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("GPIO line 0 of"), "{e}");
    }

    #[test]
    fn a_command_relay_reports_a_failing_program() {
        let mut ok = CommandRelay(PathBuf::from("/bin/true"));
        assert_eq!(ok.pulse(300), Ok(()));
        let mut failing = CommandRelay(PathBuf::from("/bin/false"));
        let e = failing.pulse(300).unwrap_err();
        assert!(e.contains("exited with"), "{e}");
        let mut missing = CommandRelay(PathBuf::from("/nonexistent/relay"));
        assert!(
            missing
                .pulse(300)
                .unwrap_err()
                .contains("/nonexistent/relay")
        );
    }
}
