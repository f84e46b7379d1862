//! An agent inside another program (tests, `doorman demo`): the same state dir, journal, door
//! and MQTT link as `doorman-agent run`, on a thread of the caller's process, with the
//! caller's clock and relay.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use doorman_core::DeviceId;
use jiff::Timestamp;

use crate::StateDir;
use crate::link::{Core, LinkConfig, LinkEnd, run_link};

/// The clock an embedded agent decides by.
pub type AgentClock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// A running link thread, and what it reported.
pub struct EmbeddedLink {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<LinkEnd>>,
    /// The link's report lines.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for EmbeddedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedLink").finish_non_exhaustive()
    }
}

impl EmbeddedLink {
    /// Starts the link of the agent in `state` (its door in `core`) on a new thread.
    pub fn start(
        config: LinkConfig,
        core: Arc<Mutex<Core>>,
        state: &StateDir,
        clock: AgentClock,
        log: Arc<Mutex<Vec<String>>>,
    ) -> std::io::Result<EmbeddedLink> {
        let stop = Arc::new(AtomicBool::new(false));
        let (stop2, log2) = (Arc::clone(&stop), Arc::clone(&log));
        let state = StateDir::new(state.path());
        let name = format!("agent-{}", config.device);
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            let now = move || clock();
            let mut fresh = || {
                let mut n = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut n);
                n
            };
            run_link(&config, &core, &state, &now, &mut fresh, &stop2, &|line| {
                log2.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line.to_string());
            })
        })?;
        Ok(EmbeddedLink {
            stop,
            thread: Some(thread),
            log,
        })
    }

    /// Stops the link (the door keeps deciding offline) and says how it ended.
    pub fn stop(&mut self) -> Option<LinkEnd> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok())
    }

    /// Waits up to `timeout` for the link to end by itself (the device retired).
    pub fn wait_end(&mut self, timeout: Duration) -> Option<LinkEnd> {
        for _ in 0..timeout.as_millis() / 20 {
            if self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
                return self.thread.take().and_then(|t| t.join().ok());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Whether the thread still runs.
    pub fn running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for EmbeddedLink {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The link configuration of an activated agent: the broker its activation names (or
/// `broker`), its device id and key, the heartbeat. `None` if the activation names no broker.
pub fn link_config(
    state: &StateDir,
    core: &Mutex<Core>,
    broker: Option<&str>,
    heartbeat: Duration,
) -> Result<Option<LinkConfig>, crate::AgentError> {
    let (device_id, key) = state.identity_keys()?;
    let link = core
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .activation
        .link
        .clone();
    let Some(mut link) = link else {
        return Ok(None);
    };
    if let Some(b) = broker {
        link.broker = b.to_string();
    }
    let device = DeviceId::new(device_id.as_str())
        .map_err(|e| crate::AgentError::BadDeviceId(e.to_string()))?;
    Ok(Some(LinkConfig {
        link,
        device,
        key,
        heartbeat,
        broker_ca: None,
    }))
}
