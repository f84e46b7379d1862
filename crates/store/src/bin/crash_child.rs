//! The crash test's child process (tests/crash.rs): opens the store in a data dir, appends
//! under load through the [`Sequencer`] from several threads, integrates every 100 ms, and
//! prints to stdout, one line each, as soon as it happens:
//!
//! ```text
//! A <index> <entry>            after the append of <entry> returned <index> (acknowledged)
//! C <base64 of the note>       after a checkpoint was committed (published)
//! ```
//!
//! Usage: `doorman-store-crash-child <data dir> <private key string> <origin> <tag> <threads>`.
//! It runs until killed. Entries are `<tag>-w<thread>-n<count>-` and some `x` padding.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use doorman_store::{
    Integrator, IntegratorConfig, LogStore, Sequencer, SequencerConfig, SqliteLogStore,
};
use doorman_tlog::NoteSigner;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, key, origin, tag, threads] = args.as_slice() else {
        return Err("usage: doorman-store-crash-child DIR PRIVATE-KEY ORIGIN TAG THREADS".into());
    };
    let threads: usize = threads.parse().map_err(|e| format!("threads: {e}"))?;
    let signer = NoteSigner::parse(key).map_err(|e| e.to_string())?;
    let store: Arc<dyn LogStore> =
        Arc::new(SqliteLogStore::open(Path::new(dir)).map_err(|e| e.to_string())?);
    let sequencer = Arc::new(
        Sequencer::new(Arc::clone(&store), SequencerConfig::default())
            .map_err(|e| e.to_string())?,
    );
    // The binary's one clock read.
    #[allow(clippy::disallowed_methods)]
    let clock = Arc::new(SystemTime::now);
    let _integrator = Integrator::spawn(
        Arc::clone(&store),
        signer,
        origin.clone(),
        IntegratorConfig {
            interval: Duration::from_millis(100),
        },
        clock,
        Some(Box::new(|cp| {
            let line = format!("C {}\n", STANDARD.encode(&cp.note));
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        })),
    )
    .map_err(|e| e.to_string())?;
    let workers: Vec<_> = (0..threads)
        .map(|w| {
            let sequencer = Arc::clone(&sequencer);
            let tag = tag.clone();
            std::thread::spawn(move || -> Result<(), String> {
                for n in 0u64.. {
                    let mut entry = format!("{tag}-w{w}-n{n}-");
                    entry.extend(std::iter::repeat_n(
                        'x',
                        usize::try_from(n % 300).unwrap_or(0),
                    ));
                    let index = sequencer
                        .append(entry.clone().into_bytes())
                        .map_err(|e| e.to_string())?;
                    let line = format!("A {index} {entry}\n");
                    std::io::stdout()
                        .lock()
                        .write_all(line.as_bytes())
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker
            .join()
            .map_err(|_| "a worker panicked".to_string())??;
    }
    Ok(())
}
