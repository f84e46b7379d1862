//! At most as many uploads verified at once as the machine has cores.
//!
//! Each upload message is handled on tokio's blocking pool, which grows to hundreds of
//! threads. Unbounded, a burst of uploads keeps every core verifying signatures, and the
//! ingester's one thread (which appends the stored events to the access logs) gets a share
//! of 1/(threads + 1): the backlog of unlogged events grows for as long as the burst lasts.
//! With verification bounded to the cores the ingester keeps at least 1/(cores + 1), while any
//! number of uploads may wait for their commit and its sync — a wait that holds no permit, so
//! the cores verify the next uploads meanwhile (docs/benchmarks.md, ingestion).

use std::num::NonZero;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Permits for CPU-bound work; see the module docs.
#[derive(Debug)]
pub struct CpuPermits {
    free: Mutex<usize>,
    returned: Condvar,
}

impl CpuPermits {
    /// `n` permits (at least one).
    pub fn new(n: usize) -> CpuPermits {
        CpuPermits {
            free: Mutex::new(n.max(1)),
            returned: Condvar::new(),
        }
    }

    /// One permit per core this process may use.
    pub fn per_core() -> CpuPermits {
        CpuPermits::new(std::thread::available_parallelism().map_or(2, NonZero::get))
    }

    /// Runs `f` holding a permit, waiting for one first (a blocking wait: call it from a
    /// blocking-pool thread or a thread of its own, never on an async worker).
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut free = self.lock();
        while *free == 0 {
            free = self
                .returned
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        drop(free);
        let _back = Release(self);
        f()
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Gives the permit back, also when `f` panics.
struct Release<'a>(&'a CpuPermits);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        *self.0.lock() += 1;
        self.0.returned.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_more_than_n_at_once_and_every_call_runs() {
        let permits = Arc::new(CpuPermits::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (p, r, m, d) = (
                    Arc::clone(&permits),
                    Arc::clone(&running),
                    Arc::clone(&most),
                    Arc::clone(&done),
                );
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        p.run(|| {
                            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                            m.fetch_max(now, Ordering::SeqCst);
                            std::thread::yield_now();
                            r.fetch_sub(1, Ordering::SeqCst);
                        });
                        d.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), 400);
        let most = most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} ran at once");
    }

    #[test]
    fn a_panic_gives_the_permit_back() {
        let permits = CpuPermits::new(1);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            permits.run(|| panic!("boom"));
        }));
        assert!(r.is_err());
        assert_eq!(permits.run(|| 7), 7);
    }
}
