//! The decision journal: synced appends survive reopening, a torn last write is cut off and
//! never anything else, damage in the middle is refused, acknowledged records are trimmed and
//! nothing unacknowledged is ever dropped; 100,000 records wait offline.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use doorman_agent::journal::{
    JOURNAL_FILE, Journal, JournalLimits, MAX_RECORD_PAYLOAD, decode_records, encode_record,
};
use proptest::prelude::*;

fn payload(i: u64) -> Vec<u8> {
    format!("decision {i} {}", "x".repeat((i % 50) as usize)).into_bytes()
}

/// The sequence numbers waiting, oldest first.
fn seqs(j: &Journal) -> Vec<u64> {
    j.pending(usize::MAX)
        .unwrap()
        .iter()
        .map(|(s, _)| *s)
        .collect()
}

fn limits() -> JournalLimits {
    JournalLimits::default()
}

#[test]
fn appends_survive_reopening_and_continue_their_sequence() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut j = Journal::open(dir.path(), limits()).unwrap();
        for i in 1..=3 {
            assert_eq!(j.append(&payload(i)).unwrap(), i);
        }
    }
    let mut j = Journal::open(dir.path(), limits()).unwrap();
    assert_eq!(
        j.pending(10).unwrap(),
        (1..=3).map(|i| (i, payload(i))).collect::<Vec<_>>()
    );
    assert_eq!(j.append(&payload(4)).unwrap(), 4);
    assert!(matches!(
        j.append(&vec![0; MAX_RECORD_PAYLOAD + 1])
            .unwrap_err()
            .code(),
        "record_too_large"
    ));
    assert_eq!(j.pending_len(), 4, "a refused record is not written");
}

#[test]
fn a_torn_last_write_is_cut_off_at_every_byte_and_nothing_else_is_lost() {
    let mut file = Vec::new();
    let mut ends = Vec::new();
    for i in 1..=4 {
        file.extend_from_slice(&encode_record(i, &payload(i)).unwrap());
        ends.push(file.len());
    }
    for cut in 0..=file.len() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(JOURNAL_FILE), &file[..cut]).unwrap();
        let mut j = Journal::open(dir.path(), limits()).unwrap();
        let whole = ends.iter().filter(|&&e| e <= cut).count() as u64;
        assert_eq!(j.pending_len() as u64, whole, "cut at {cut}");
        let valid = if whole == 0 {
            0
        } else {
            ends[whole as usize - 1]
        };
        assert_eq!(
            std::fs::metadata(dir.path().join(JOURNAL_FILE))
                .unwrap()
                .len() as usize,
            valid,
            "the torn tail is removed (cut at {cut})"
        );
        assert_eq!(j.append(b"next").unwrap(), whole + 1);
    }
    // A crash can also leave the file extended with zeros: torn, cut off.
    let dir = tempfile::tempdir().unwrap();
    let mut zeroed = file.clone();
    zeroed.extend_from_slice(&[0; 100]);
    std::fs::write(dir.path().join(JOURNAL_FILE), &zeroed).unwrap();
    assert_eq!(
        Journal::open(dir.path(), limits()).unwrap().pending_len(),
        4
    );
}

#[test]
fn damage_before_good_records_is_refused_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = Vec::new();
    for i in 1..=3 {
        file.extend_from_slice(&encode_record(i, &payload(i)).unwrap());
    }
    let first_len = encode_record(1, &payload(1)).unwrap().len();
    let mut bad = file.clone();
    bad[first_len - 1] ^= 0x40; // in record 1's payload
    std::fs::write(dir.path().join(JOURNAL_FILE), &bad).unwrap();
    let err = Journal::open(dir.path(), limits()).unwrap_err();
    assert_eq!(err.code(), "journal_corrupt");
    assert_eq!(
        std::fs::read(dir.path().join(JOURNAL_FILE)).unwrap(),
        bad,
        "kept as it is"
    );
    // A gap in the sequence is damage too.
    let mut gap = encode_record(1, b"a").unwrap();
    gap.extend_from_slice(&encode_record(3, b"c").unwrap());
    assert_eq!(decode_records(&gap).unwrap_err().code(), "journal_corrupt");
}

#[test]
fn acknowledged_records_are_trimmed_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let small = JournalLimits {
        max_pending: 1000,
        trim_bytes: 100,
    };
    let mut j = Journal::open(dir.path(), small).unwrap();
    for i in 1..=10 {
        j.append(&payload(i)).unwrap();
    }
    let before = std::fs::metadata(dir.path().join(JOURNAL_FILE))
        .unwrap()
        .len();
    j.ack(7).unwrap();
    assert_eq!(seqs(&j), [8, 9, 10]);
    let after = std::fs::metadata(dir.path().join(JOURNAL_FILE))
        .unwrap()
        .len();
    assert!(after < before, "trimmed: {before} -> {after}");
    // Acknowledgements of the past or of the future change nothing.
    j.ack(3).unwrap();
    j.ack(99).unwrap();
    assert_eq!(j.pending_len(), 3);
    assert_eq!(j.append(b"eleven").unwrap(), 11);
    drop(j);
    let mut j = Journal::open(dir.path(), small).unwrap();
    assert_eq!(seqs(&j), [8, 9, 10, 11]);
    j.ack(11).unwrap();
    drop(j);
    // Everything acknowledged and trimmed away: the sequence still goes on.
    let mut j = Journal::open(dir.path(), small).unwrap();
    assert_eq!(j.pending_len(), 0);
    assert_eq!(j.append(b"twelve").unwrap(), 12);
}

#[test]
fn a_full_journal_refuses_appends_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = JournalLimits {
        max_pending: 3,
        trim_bytes: 1 << 20,
    };
    let mut j = Journal::open(dir.path(), tiny).unwrap();
    for i in 1..=3 {
        j.append(&payload(i)).unwrap();
    }
    assert_eq!(j.append(b"four").unwrap_err().code(), "journal_full");
    j.ack(1).unwrap();
    assert_eq!(j.append(b"four").unwrap(), 4);
}

#[test]
fn a_hundred_thousand_records_wait_offline() {
    let dir = tempfile::tempdir().unwrap();
    // Written in one go (100,000 synced appends would only measure the disk); the journal
    // reads them like its own.
    let mut file = Vec::new();
    for i in 1..=100_000u64 {
        file.extend_from_slice(&encode_record(i, &payload(i)).unwrap());
    }
    std::fs::write(dir.path().join(JOURNAL_FILE), &file).unwrap();
    let mut j = Journal::open(dir.path(), limits()).unwrap();
    assert_eq!(j.pending_len(), 100_000);
    assert_eq!(j.append(b"one more").unwrap(), 100_001);
    let first = j.pending(2).unwrap();
    assert_eq!(first[0], (1, payload(1)));
    j.ack(100_001).unwrap();
    assert_eq!(j.pending_len(), 0);
    assert_eq!(
        std::fs::metadata(dir.path().join(JOURNAL_FILE))
            .unwrap()
            .len(),
        0
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Records round-trip; a changed byte anywhere either is refused, or (only in the last
    /// record) drops that record as torn — never a changed payload or sequence accepted.
    #[test]
    fn no_changed_byte_is_read_as_a_record(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..6),
        at in any::<prop::sample::Index>(),
        delta in 1u8..=255,
    ) {
        let mut file = Vec::new();
        let mut ends = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            file.extend_from_slice(&encode_record(i as u64 + 1, p).unwrap());
            ends.push(file.len());
        }
        let good = decode_records(&file).unwrap();
        prop_assert_eq!(good.records.len(), payloads.len());
        let i = at.index(file.len());
        file[i] ^= delta;
        if let Ok(d) = decode_records(&file) {
            let last_start = if ends.len() > 1 { ends[ends.len() - 2] } else { 0 };
            prop_assert!(i >= last_start, "a change at {} before the last record was accepted", i);
            prop_assert_eq!(d.records.len(), payloads.len() - 1);
            for (k, (seq, p)) in d.records.iter().enumerate() {
                prop_assert_eq!(*seq, k as u64 + 1);
                prop_assert_eq!(p, &payloads[k]);
            }
        }
    }
}

#[test]
fn a_record_changed_on_disk_after_it_was_written_is_not_uploaded() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path(), limits()).unwrap();
    for i in 1..=3 {
        j.append(&payload(i)).unwrap();
    }
    let path = dir.path().join(JOURNAL_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(j.pending(10).unwrap_err().code(), "journal_corrupt");
    assert_eq!(
        j.pending(2).unwrap().len(),
        2,
        "the records before it still read"
    );
}

/// Open reads the file through a buffer, not whole: the same rules hold for damage, torn
/// tails and zero-filled extensions that lie past the buffer and span its refills, and open
/// agrees with the in-memory reader byte for byte.
#[test]
fn open_streams_with_the_same_rules_past_its_read_buffer() {
    let mut file = Vec::new();
    let mut starts = Vec::new();
    for i in 1..=3000u64 {
        starts.push(file.len());
        file.extend_from_slice(&encode_record(i, &payload(i)).unwrap());
    }
    assert!(file.len() > 3 * 64 * 1024, "spans several buffer refills");
    let last = *starts.last().unwrap();
    let open = |bytes: &[u8]| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(JOURNAL_FILE), bytes).unwrap();
        let j = Journal::open(dir.path(), limits());
        let len = std::fs::metadata(dir.path().join(JOURNAL_FILE))
            .unwrap()
            .len() as usize;
        let after = std::fs::read(dir.path().join(JOURNAL_FILE)).unwrap();
        (j, len, after)
    };
    let zeros = vec![0u8; 200 * 1024];
    // Each case: the bytes, and how many records survive (None: refused).
    let torn_payload = file[..file.len() - 3].to_vec();
    let mut zero_tail = file.clone();
    zero_tail.extend_from_slice(&zeros);
    let mut zeros_then_byte = zero_tail.clone();
    zeros_then_byte.push(1);
    let mut bad_last_then_zeros = file.clone();
    bad_last_then_zeros[last + 30] ^= 0x01; // the last record's payload
    bad_last_then_zeros.extend_from_slice(&zeros);
    let mut bad_last_then_junk = bad_last_then_zeros.clone();
    bad_last_then_junk.push(7);
    let mut damaged_middle = file.clone();
    damaged_middle[starts[1999] + 30] ^= 0x01; // record 2000's payload, well past the buffer
    let mut damaged_header = file.clone();
    damaged_header[starts[2500] + 5] ^= 0x01; // record 2501's sequence number
    let cases: [(&str, &[u8], Option<usize>); 8] = [
        ("whole", &file, Some(3000)),
        ("a torn last payload", &torn_payload, Some(2999)),
        ("a zero-filled extension", &zero_tail, Some(3000)),
        ("zeros, then a byte", &zeros_then_byte, None),
        (
            "a bad last record, then zeros",
            &bad_last_then_zeros,
            Some(2999),
        ),
        ("a bad last record, then a byte", &bad_last_then_junk, None),
        ("a damaged payload in the middle", &damaged_middle, None),
        ("a damaged header in the middle", &damaged_header, None),
    ];
    for (what, bytes, survive) in cases {
        let (j, len, after) = open(bytes);
        let decoded = decode_records(bytes);
        match survive {
            Some(n) => {
                let j = j.unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(j.pending_len(), n, "{what}");
                let d = decoded.unwrap();
                assert_eq!(d.records.len(), n, "{what}: the in-memory reader agrees");
                assert_eq!(
                    len, d.valid_len,
                    "{what}: cut where the in-memory reader ends"
                );
                assert_eq!(len, if n == 3000 { file.len() } else { last }, "{what}");
                assert_eq!(j.next_seq(), n as u64 + 1, "{what}");
            }
            None => {
                let e = j.unwrap_err();
                assert_eq!(e.code(), "journal_corrupt", "{what}");
                let d = decoded.unwrap_err();
                assert_eq!(e.to_string(), d.to_string(), "{what}: the same finding");
                assert_eq!(after, bytes, "{what}: kept as it is");
            }
        }
    }
    // The damage is reported where it is.
    let e = open(&damaged_middle).0.unwrap_err();
    assert!(
        e.to_string().contains(&format!("at byte {}", starts[1999])),
        "{e}"
    );
}

/// An acknowledgement file that holds no sequence number is refused, and the journal itself
/// is still checked first (its damage is what gets reported).
#[test]
fn a_damaged_acknowledgement_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = Vec::new();
    for i in 1..=3 {
        file.extend_from_slice(&encode_record(i, &payload(i)).unwrap());
    }
    std::fs::write(dir.path().join(JOURNAL_FILE), &file).unwrap();
    std::fs::write(dir.path().join("journal.ack"), "two\n").unwrap();
    let e = Journal::open(dir.path(), limits()).unwrap_err();
    assert_eq!(e.code(), "journal_corrupt");
    assert!(e.to_string().contains("journal.ack"), "{e}");
    std::fs::write(dir.path().join("journal.ack"), "2\n").unwrap();
    let j = Journal::open(dir.path(), limits()).unwrap();
    assert_eq!(seqs(&j), [3]);
    assert_eq!(j.next_seq(), 4);
}
