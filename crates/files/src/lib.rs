//! Private files: written crash-safely, read only when nobody else can read them (key files
//! of the logs, the master key, the CLI's keys and credentials).

use std::io::{Read as _, Write as _};
use std::path::Path;

/// Why a private file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PrivateFileError {
    #[error("{what} {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`")]
    Exposed {
        what: String,
        path: String,
        mode: u32,
    },
    #[error("reading {what} {path}: {source}")]
    Io {
        what: String,
        path: String,
        source: std::io::Error,
    },
}

/// Reads a private file (at most 4 KiB: key files are small), refusing one that others can
/// read, like ssh does. `what` names it in errors ("the log key", "the key file").
pub fn read_private_file(
    path: &Path,
    what: &str,
) -> Result<zeroize::Zeroizing<String>, PrivateFileError> {
    use std::os::unix::fs::PermissionsExt as _;
    let io = |source| PrivateFileError::Io {
        what: what.to_string(),
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(PrivateFileError::Exposed {
            what: what.to_string(),
            path: path.display().to_string(),
            mode,
        });
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_string(&mut text))
        .map_err(io)?;
    Ok(text)
}

/// Writes a new file readable by its owner only (mode 0600): to `<path>.tmp` first, synced,
/// then linked in place — which fails with `AlreadyExists` if `path` exists, so a key is never
/// overwritten — then the directory is synced. A crash leaves either no file at `path` or a
/// whole one (never a truncated key that would stop the next start).
pub fn write_new_private_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let (dir, tmp) = write_temporary(path, data)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked?;
    sync_dir(dir);
    Ok(())
}

/// Writes `data` to a fresh `<path>.tmp` (mode 0600) and syncs it; returns the directory and
/// the temporary's path. A leftover temporary of a crash was never linked, so it is removed
/// first.
fn write_temporary<'a>(
    path: &'a Path,
    data: &[u8],
) -> std::io::Result<(&'a Path, std::path::PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    if let Err(e) = file.write_all(data).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok((dir, tmp))
}

/// Syncs a directory, so a new or renamed entry in it survives a crash (best effort: not
/// every file system can).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes `path` whole, readable by its owner only (mode 0600), replacing what was there: to
/// `<path>.tmp` first, synced, then renamed over `path` (atomic on one file system), then the
/// directory is synced. A crash leaves the old file or the new one, never a mix. For state
/// that changes (an agent's activation), where [`write_new_private_file`] is for keys.
pub fn replace_private_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let (dir, tmp) = write_temporary(path, data)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn writes_once_owner_only_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        // A leftover temporary of an earlier crash is ignored.
        std::fs::write(dir.path().join("k.key.tmp"), b"half").unwrap();
        write_new_private_file(&path, b"secret\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"secret\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let e = write_new_private_file(&path, b"other\n").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"secret\n");
        assert!(!dir.path().join("k.key.tmp").exists());
    }

    #[test]
    fn replacing_keeps_the_mode_and_swaps_the_content() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        replace_private_file(&path, b"one").unwrap();
        replace_private_file(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!dir.path().join("state.json.tmp").exists());
    }
}
