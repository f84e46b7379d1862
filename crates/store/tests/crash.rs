//! Crash test (issue 3): a child process appends under load through the sequencer and
//! integrates every 100 ms; it is killed with SIGKILL at varying moments, twelve times, and
//! restarted on the same data dir. After each kill: every acknowledged entry is stored at its
//! index with its content, and every checkpoint the child published before the kill is
//! consistent with the store's latest (a consistency proof from the store verifies). At the
//! end the parent integrates what is left and recomputes the whole tree from the entries.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::disallowed_methods // the test bounds its own running time with Instant::now
)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use doorman_store::{LogStore, SqliteLogStore};
use doorman_tlog::{Checkpoint, Hash, MemoryTree, NoteSigner, verify_consistency};

const ORIGIN: &str = "example.com/doorman/crash";

enum Line {
    Ack(u64, String),
    Checkpoint(Vec<u8>),
}

/// When to kill the child in each round: after at least this many acknowledgements of the
/// round, or at the latest after this many milliseconds (whichever comes first); a few rounds
/// also wait for a checkpoint of the round first, so there is something to be consistent with.
const ROUNDS: [(usize, u64, bool); 12] = [
    (1, 0, false),
    (1, 40, false),
    (50, 150, true),
    (5, 5, false),
    (500, 400, true),
    (200, 60, false),
    (2_000, 250, true),
    (10, 120, false),
    (100_000, 330, true),
    (3, 1, false),
    (700, 180, true),
    (100_000, 500, false),
];

#[test]
fn sigkill_loses_no_acknowledged_entry_and_no_checkpoint_forks() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::from_seed(ORIGIN, &[9; 32]).unwrap();
    let verifier = signer.verifier();
    let key = signer.private_key_string();
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut seen: Vec<Checkpoint> = Vec::new();

    for (round, &(acks, millis, want_checkpoint)) in ROUNDS.iter().enumerate() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_doorman-store-crash-child"))
            .args([
                dir.path().to_str().unwrap(),
                key.as_str(),
                ORIGIN,
                &format!("r{round}"),
                "8",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let parsed = match line.split_once(' ') {
                    Some(("A", rest)) => {
                        let (index, entry) = rest.split_once(' ').unwrap();
                        Line::Ack(index.parse().unwrap(), entry.to_string())
                    }
                    Some(("C", note)) => Line::Checkpoint(STANDARD.decode(note).unwrap()),
                    _ => panic!("unexpected line from the child: {line:?}"),
                };
                if tx.send(parsed).is_err() {
                    break;
                }
            }
        });

        // Run until the round's kill moment.
        let round_start = Instant::now();
        let deadline = round_start + Duration::from_millis(millis);
        let hard_deadline = round_start + Duration::from_secs(5);
        let mut round_acks = 0;
        let mut round_checkpoints = 0;
        let mut record = |line: Line, acks: &mut usize, cps: &mut usize| match line {
            Line::Ack(index, entry) => {
                *acks += 1;
                if let Some(old) = acked.insert(index, entry.clone()) {
                    panic!("index {index} acknowledged twice: {old:?} and {entry:?}");
                }
            }
            Line::Checkpoint(note) => {
                *cps += 1;
                seen.push(Checkpoint::open(&note, ORIGIN, &verifier).unwrap());
            }
        };
        loop {
            let now = Instant::now();
            let enough = round_acks >= acks && (!want_checkpoint || round_checkpoints > 0);
            if enough || (now >= deadline && (!want_checkpoint || round_checkpoints > 0)) {
                break;
            }
            assert!(
                now < hard_deadline,
                "round {round}: the child made no progress"
            );
            let wait = deadline
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            if let Ok(line) = rx.recv_timeout(wait) {
                record(line, &mut round_acks, &mut round_checkpoints);
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        // Lines the child wrote before it died were acknowledged too.
        reader.join().unwrap();
        for line in rx.try_iter() {
            record(line, &mut round_acks, &mut round_checkpoints);
        }
        println!(
            "round {round}: killed after {:?}, {round_acks} acknowledged, {round_checkpoints} checkpoints",
            round_start.elapsed()
        );

        check_store(&SqliteLogStore::open(dir.path()).unwrap(), &acked, &seen);
    }

    // Integrate what the last child left and check the whole tree from the entries.
    let store = SqliteLogStore::open(dir.path()).unwrap();
    let last = store
        .integrate(&signer, ORIGIN, UNIX_EPOCH)
        .unwrap()
        .or(store.latest_checkpoint().unwrap())
        .unwrap();
    let size = store.sequenced_size().unwrap();
    assert_eq!(last.size, size);
    let mut tree = MemoryTree::new();
    let mut start = 0;
    while start < size {
        let end = size.min(start + 10_000);
        for e in store.entries(start, end).unwrap() {
            tree.append(&e).unwrap();
        }
        start = end;
    }
    assert_eq!(tree.root().unwrap(), last.root);
    check_store(&store, &acked, &seen);
    // Every stored checkpoint, not only those seen, is a prefix of the final tree.
    for cp in store.checkpoints(0, usize::MAX).unwrap() {
        assert_eq!(tree.root_at(cp.size).unwrap(), cp.root);
    }
    println!(
        "{} rounds, {} acknowledged entries, {} checkpoints seen, final size {size}, {:?}",
        ROUNDS.len(),
        acked.len(),
        seen.len(),
        started.elapsed()
    );
    assert!(acked.len() > 100, "too little load to mean anything");
    assert!(seen.len() >= 5, "too few checkpoints seen");
    assert!(started.elapsed() < Duration::from_secs(50));
}

fn check_store(store: &SqliteLogStore, acked: &BTreeMap<u64, String>, seen: &[Checkpoint]) {
    // Every acknowledged entry, at its index, with its content.
    let size = store.sequenced_size().unwrap();
    if let Some((&max, _)) = acked.last_key_value() {
        assert!(
            size > max,
            "acknowledged index {max} lost: {size} entries stored"
        );
    }
    let mut start = 0;
    while start < size {
        let end = size.min(start + 10_000);
        let entries = store.sequenced_entries(start, end).unwrap();
        for (index, entry) in (start..end).zip(entries) {
            if let Some(want) = acked.get(&index) {
                assert_eq!(entry, want.as_bytes(), "entry {index}");
            }
        }
        start = end;
    }
    // Every checkpoint published before the kill is stored and consistent with the latest.
    let Some(latest) = store.latest_checkpoint().unwrap() else {
        assert!(seen.is_empty(), "published checkpoints lost");
        return;
    };
    for cp in seen {
        assert!(
            cp.size() <= latest.size,
            "checkpoint {} rolled back",
            cp.size()
        );
        let proof = store.consistency_proof(cp.size(), latest.size).unwrap();
        verify_consistency(cp.size(), latest.size, &proof, cp.root(), &latest.root)
            .unwrap_or_else(|e| panic!("{} -> {}: {e}", cp.size(), latest.size));
        let stored = store.checkpoints(cp.size(), 1).unwrap();
        assert_eq!(stored[0].size, cp.size());
        assert_eq!(stored[0].root, *cp.root());
    }
    let _: Hash = latest.root;
}
