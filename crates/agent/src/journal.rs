//! The agent's durable journal of decisions: every decision is written and synced here before
//! the relay pulses, and stays until the server has acknowledged it.
//!
//! # Why it is shaped like this
//!
//! - **Fail secure.** [`Journal::append`] returns only after the record is on disk
//!   (`fdatasync`). If it fails — disk full, I/O error, the journal at its limit — the caller
//!   keeps the door shut and reports the fault. So every opening has a record, even across a
//!   power cut right after the pulse.
//! - **Nothing acknowledged is lost, nothing unacknowledged is dropped.** Records are trimmed
//!   only up to the sequence number the server acknowledged ([`Journal::ack`]), and trimming
//!   copies the remainder to a temporary file that replaces the journal atomically.
//! - **Small memory.** Only an index of the pending records is kept in memory (about 24 bytes
//!   each); their bytes are read back from the file, and checked again, when uploaded. Open
//!   streams the file through a buffered reader, checking each record as it is read, so even
//!   a backlog of 100,000 records never holds more than one record and the buffer at once.
//! - **A torn tail is not corruption.** A crash in the middle of an append leaves a partial last
//!   record (a short header, a whole header with a short payload, or a zero-filled extension);
//!   it was never synced, so its decision never pulsed the relay: it is cut off at open. The
//!   header has its own checksum, so a damaged length can't pass for a torn write and swallow
//!   the records after it; damage with anything but zeros after it can't come from a crash and
//!   is refused ([`JournalError::Corrupt`]) rather than skipped. (A damaged *payload* of the
//!   very last record looks like a torn write and is cut off.)
//!
//! # File format (`journal.log`)
//!
//! A sequence of records, each:
//!
//! | bytes | |
//! | --- | --- |
//! | 4 | magic `DMJ1` |
//! | 8 | sequence number, big-endian, strictly increasing by one |
//! | 4 | payload length, big-endian, at most [`MAX_RECORD_PAYLOAD`] |
//! | 4 | header checksum: the first 4 bytes of SHA-256(`doorman journal header v1\0` ‖ sequence ‖ length) |
//! | 8 | the first 8 bytes of SHA-256(`doorman journal v1\0` ‖ sequence ‖ length ‖ payload) |
//! | n | payload |
//!
//! `journal.ack` holds the highest acknowledged sequence number (decimal text), replaced
//! atomically; records up to it may be trimmed at any time.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// The journal's file in the state dir.
pub const JOURNAL_FILE: &str = "journal.log";
/// The acknowledged-up-to file.
pub const ACK_FILE: &str = "journal.ack";

/// The largest payload of one record (a signed decision is well under 2 KiB).
pub const MAX_RECORD_PAYLOAD: usize = 16 * 1024;

const MAGIC: &[u8; 4] = b"DMJ1";
/// The read buffer when a journal is read from its file (at open, and by [`read_pending`]).
const READ_BUFFER: usize = 64 * 1024;
const HEADER: usize = 4 + 8 + 4 + 4 + 8;
const DOMAIN: &[u8] = b"doorman journal v1\0";
const HEADER_DOMAIN: &[u8] = b"doorman journal header v1\0";

fn header_checksum(seq: u64, len: u32) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(HEADER_DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(len.to_be_bytes());
    let d: [u8; 32] = h.finalize().into();
    let [a, b, c, e, ..] = d;
    [a, b, c, e]
}

/// Limits of a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalLimits {
    /// The most records waiting for acknowledgement; beyond it appends fail (door shut).
    pub max_pending: usize,
    /// Trim once at least this many acknowledged bytes lead the file.
    pub trim_bytes: u64,
}

impl Default for JournalLimits {
    fn default() -> JournalLimits {
        // 100,000 is what the issue asks to hold offline (a day of a busy building is a few
        // hundred); 250,000 leaves room. A signed decision takes 0.8-1.1 KB (an allow, with
        // its pass, authorization and driver, the most): 100,000 allows are 106 MB of disk,
        // 250,000 at most some 270 MB. Memory stays at the 24-byte index per record.
        JournalLimits {
            max_pending: 250_000,
            trim_bytes: 1 << 20,
        }
    }
}

/// Why the journal refused. Each has a stable [`code`](JournalError::code).
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the journal is full: {0} records wait for the server's acknowledgement")]
    Full(usize),
    #[error("a record of {0} bytes; the limit is {MAX_RECORD_PAYLOAD}")]
    TooLarge(usize),
    #[error(
        "the journal is damaged at byte {offset}: {why} (not a torn last write; kept as it is for inspection)"
    )]
    Corrupt { offset: u64, why: String },
    #[error("journal {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl JournalError {
    pub fn code(&self) -> &'static str {
        match self {
            JournalError::Full(_) => "journal_full",
            JournalError::TooLarge(_) => "record_too_large",
            JournalError::Corrupt { .. } => "journal_corrupt",
            JournalError::Io { .. } => "journal_io",
        }
    }
}

fn checksum(seq: u64, payload: &[u8]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(
        u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    h.update(payload);
    let d: [u8; 32] = h.finalize().into();
    let [a, b, c, e, f, g, i, j, ..] = d;
    [a, b, c, e, f, g, i, j]
}

/// One record's bytes.
pub fn encode_record(seq: u64, payload: &[u8]) -> Result<Vec<u8>, JournalError> {
    if payload.len() > MAX_RECORD_PAYLOAD {
        return Err(JournalError::TooLarge(payload.len()));
    }
    let len = u32::try_from(payload.len()).map_err(|_| JournalError::TooLarge(payload.len()))?;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&header_checksum(seq, len));
    out.extend_from_slice(&checksum(seq, payload));
    out.extend_from_slice(payload);
    Ok(out)
}

/// What [`decode_records`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The whole records, in order.
    pub records: Vec<(u64, Vec<u8>)>,
    /// Bytes they take; anything after is a torn last write.
    pub valid_len: usize,
}

fn be_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

fn be_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

/// Reads records from the start of `bytes`. A damaged record is a torn last write only if
/// nothing whole follows it: an incomplete header or payload at the very end, or a bad last
/// record. Anything else is [`JournalError::Corrupt`]. Pure; fuzzed. (The same reader as
/// [`Journal::open`]'s, over a slice.)
pub fn decode_records(bytes: &[u8]) -> Result<Decoded, JournalError> {
    let mut records = Vec::new();
    let valid_len = scan_records(bytes, Path::new("(memory)"), |seq, _, payload| {
        records.push((seq, payload.to_vec()));
    })?;
    Ok(Decoded {
        records,
        valid_len: usize::try_from(valid_len).unwrap_or(usize::MAX),
    })
}

/// Fills `buf` from `reader` as far as it goes; fewer bytes than asked only at the end.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0usize;
    while let Some(rest) = buf.get_mut(got..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => got = got.saturating_add(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Whether everything `reader` has left is zero bytes (read in small chunks).
fn rest_is_zeros(reader: &mut impl Read) -> std::io::Result<bool> {
    let mut chunk = [0u8; 4096];
    loop {
        let n = read_full(reader, &mut chunk)?;
        if !chunk.get(..n).unwrap_or_default().iter().all(|&b| b == 0) {
            return Ok(false);
        }
        if n < chunk.len() {
            return Ok(true);
        }
    }
}

/// The journal's one reader: reads records in order from `reader`, checking each as it goes
/// and handing it to `visit` (sequence, offset of its header, payload) without keeping it, so
/// memory stays at one record whatever the length. Returns the bytes the whole records take;
/// anything after is a torn last write. The rules are [`decode_records`]'s; `path` only names
/// the source in an I/O error.
fn scan_records(
    mut reader: impl Read,
    path: &Path,
    mut visit: impl FnMut(u64, u64, &[u8]),
) -> Result<u64, JournalError> {
    let io = |e: std::io::Error| io_err(path)(e);
    let mut at = 0u64;
    let mut expected: Option<u64> = None;
    let mut header = [0u8; HEADER];
    let mut payload = Vec::with_capacity(MAX_RECORD_PAYLOAD);
    loop {
        let corrupt = |why: &str| JournalError::Corrupt {
            offset: at,
            why: why.to_string(),
        };
        let got = read_full(&mut reader, &mut header).map_err(io)?;
        if got < HEADER {
            break; // the end, or an incomplete header at the end: torn
        }
        let (magic, seq, len, hsum, sum) = (
            header.get(..4),
            header.get(4..12).and_then(be_u64),
            header.get(12..16).and_then(be_u32),
            header.get(16..20),
            header.get(20..28),
        );
        let (Some(magic), Some(seq), Some(len32), Some(hsum), Some(sum)) =
            (magic, seq, len, hsum, sum)
        else {
            break;
        };
        if magic != MAGIC || hsum != header_checksum(seq, len32) {
            // A file extended with zeros by a crash is torn; anything else is damage.
            if header.iter().all(|&b| b == 0) && rest_is_zeros(&mut reader).map_err(io)? {
                break;
            }
            return Err(corrupt("a damaged record header"));
        }
        let len = usize::try_from(len32).unwrap_or(usize::MAX);
        if len > MAX_RECORD_PAYLOAD {
            return Err(corrupt("a record longer than the limit"));
        }
        payload.resize(len, 0);
        if read_full(&mut reader, &mut payload).map_err(io)? < len {
            break; // a whole header, a short payload: the append did not finish
        }
        if checksum(seq, &payload) != sum {
            if rest_is_zeros(&mut reader).map_err(io)? {
                break; // the last record, unfinished
            }
            return Err(corrupt("a damaged record with more records after it"));
        }
        if let Some(want) = expected
            && seq != want
        {
            return Err(corrupt(&format!("sequence {seq} where {want} was due")));
        }
        expected = seq.checked_add(1);
        visit(seq, at, &payload);
        at = at.saturating_add(record_size(len));
    }
    Ok(at)
}

/// Reads the records of the journal in `dir` that the server has not acknowledged, without
/// changing anything (safe beside a running agent: a torn tail is only ignored).
pub fn read_pending(dir: &Path) -> Result<Vec<(u64, Vec<u8>)>, JournalError> {
    let path = dir.join(JOURNAL_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let acked = match std::fs::read_to_string(dir.join(ACK_FILE)) {
        Ok(t) => t.trim().parse::<u64>().unwrap_or(0),
        Err(_) => 0,
    };
    let mut pending = Vec::new();
    scan_records(
        BufReader::with_capacity(READ_BUFFER, file),
        &path,
        |seq, _, payload| {
            if seq > acked {
                pending.push((seq, payload.to_vec()));
            }
        },
    )?;
    Ok(pending)
}

/// A pending record: where it is in the file. Payloads stay on disk (a backlog of 100,000
/// decisions would otherwise hold some 80 MB of memory on a small box).
#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u64,
    /// Offset of the record's header in the file.
    offset: u64,
    /// The whole record's size (header and payload).
    size: u64,
}

/// The journal: records on disk, an index of the pending ones (not yet acknowledged) in memory.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    ack_path: PathBuf,
    file: File,
    limits: JournalLimits,
    /// Records after the acknowledged sequence number, oldest first; they are the file's tail.
    pending: std::collections::VecDeque<Slot>,
    /// The file's length: where the next record goes.
    len: u64,
    next_seq: u64,
    acked: u64,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.display().to_string();
    move |source| JournalError::Io { path, source }
}

fn record_size(payload_len: usize) -> u64 {
    u64::try_from(HEADER.saturating_add(payload_len)).unwrap_or(u64::MAX)
}

impl Journal {
    /// Opens (creating) the journal in `dir`, cutting off a torn last write.
    pub fn open(dir: &Path, limits: JournalLimits) -> Result<Journal, JournalError> {
        let path = dir.join(JOURNAL_FILE);
        let ack_path = dir.join(ACK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io_err(&path))?;
        // Read first (its error is still reported after the journal's own, as before): the
        // records up to it are not indexed at all.
        let acked = match std::fs::read_to_string(&ack_path) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|_| JournalError::Corrupt {
                    offset: 0,
                    why: format!("{} does not hold a sequence number", ack_path.display()),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io_err(&ack_path)(e)),
        };
        let floor = acked.as_ref().map_or(0, |a| *a);
        // Streamed, each record checked as it is read and then dropped: memory stays at one
        // record and the read buffer whatever the backlog; only the index stays.
        let mut pending = std::collections::VecDeque::new();
        let mut last: Option<u64> = None;
        let len = scan_records(
            BufReader::with_capacity(READ_BUFFER, &file),
            &path,
            |seq, offset, payload| {
                last = Some(seq);
                if seq > floor {
                    let size = record_size(payload.len());
                    pending.push_back(Slot { seq, offset, size });
                }
            },
        )?;
        if file.metadata().map_err(io_err(&path))?.len() > len {
            // The torn tail of an append that never returned: never pulsed, never reported.
            file.set_len(len)
                .and_then(|()| file.sync_all())
                .map_err(io_err(&path))?;
        }
        let acked = acked?;
        let next_seq = last.map_or(1, |s| s.saturating_add(1));
        Ok(Journal {
            path,
            ack_path,
            file,
            limits,
            pending,
            len,
            next_seq: next_seq.max(acked.saturating_add(1)),
            acked,
        })
    }

    /// Writes one record and syncs it; returns its sequence number. Only after this returns
    /// may the relay pulse.
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, JournalError> {
        if self.pending.len() >= self.limits.max_pending {
            return Err(JournalError::Full(self.pending.len()));
        }
        let seq = self.next_seq;
        let bytes = encode_record(seq, payload)?;
        let path = self.path.clone();
        if let Err(e) = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data())
        {
            // Whatever part of the record reached the file is a torn tail now: cut it off, so
            // the next record starts where the index says (and a reopen would cut it anyway).
            let _ = self.file.set_len(self.len);
            return Err(io_err(&path)(e));
        }
        let size = record_size(payload.len());
        self.pending.push_back(Slot {
            seq,
            offset: self.len,
            size,
        });
        self.len = self.len.saturating_add(size);
        self.next_seq = seq.saturating_add(1);
        Ok(seq)
    }

    /// The sequence number the next append gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Up to `max` records waiting for acknowledgement, oldest first, read back from the file
    /// and checked again.
    pub fn pending(&self, max: usize) -> Result<Vec<(u64, Vec<u8>)>, JournalError> {
        use std::os::unix::fs::FileExt as _;
        let mut out = Vec::new();
        for slot in self.pending.iter().take(max) {
            let mut buf = vec![0u8; usize::try_from(slot.size).unwrap_or(0)];
            self.file
                .read_exact_at(&mut buf, slot.offset)
                .map_err(io_err(&self.path))?;
            let mut records = decode_records(&buf)?.records.into_iter();
            match records.next() {
                Some((seq, payload)) if seq == slot.seq && records.next().is_none() => {
                    out.push((seq, payload));
                }
                _ => {
                    return Err(JournalError::Corrupt {
                        offset: slot.offset,
                        why: format!("record {} changed on disk since it was written", slot.seq),
                    });
                }
            }
        }
        Ok(out)
    }

    /// How many records wait.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The server acknowledged every record up to `seq`: remember it (synced), and trim the
    /// file once the acknowledged records lead it by at least the trim size and by at least
    /// as much as the pending ones (so catching up a long backlog copies each record a bounded
    /// number of times). An acknowledgement of a sequence number not yet written, or older
    /// than the last one, changes nothing.
    pub fn ack(&mut self, seq: u64) -> Result<(), JournalError> {
        if seq <= self.acked || seq >= self.next_seq {
            return Ok(());
        }
        doorman_files::replace_private_file(&self.ack_path, format!("{seq}\n").as_bytes())
            .map_err(io_err(&self.ack_path))?;
        self.acked = seq;
        while self.pending.front().is_some_and(|s| s.seq <= seq) {
            self.pending.pop_front();
        }
        let first = self.pending.front().map_or(self.len, |s| s.offset);
        let rest = self.len.saturating_sub(first);
        if first >= self.limits.trim_bytes && first >= rest {
            self.trim(first)?;
        }
        Ok(())
    }

    /// Rewrites the journal with its tail from `first` (the pending records) only: copied to
    /// a temporary, synced, renamed over.
    fn trim(&mut self, first: u64) -> Result<(), JournalError> {
        use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
        let tmp = self.path.with_extension("log.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        let mut at = first;
        let mut buf = vec![0u8; 64 * 1024];
        while at < self.len {
            let n = usize::try_from((self.len - at).min(64 * 1024)).unwrap_or(0);
            let chunk = buf.get_mut(..n).unwrap_or_default();
            self.file
                .read_exact_at(chunk, at)
                .and_then(|()| out.write_all(chunk))
                .map_err(io_err(&self.path))?;
            at = at.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        }
        out.sync_all()
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(io_err(&self.path))?;
        if let Some(dir) = self.path.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(io_err(&self.path))?;
        for slot in &mut self.pending {
            slot.offset = slot.offset.saturating_sub(first);
        }
        self.len = self.len.saturating_sub(first);
        Ok(())
    }
}
