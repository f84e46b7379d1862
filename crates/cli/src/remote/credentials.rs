//! The credentials file: the server and session the API commands use when `--url` and
//! `--token` are not given. `setup`, `signup`, `login` and `invitation accept` write it;
//! `logout` deletes it.
//!
//! Where: `$DOORMAN_CREDENTIALS`, else `$XDG_CONFIG_HOME/doorman/credentials.json`, else
//! `~/.config/doorman/credentials.json`. What: `{"url": "http://…", "token": "dms_…"}`.
//! Mode 0600, written whole (a temporary file, synced, renamed over the old one), and refused
//! when others can read it, as ssh refuses a private key.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

/// The variable that names the credentials file.
pub const ENV: &str = "DOORMAN_CREDENTIALS";

/// What the file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The server, as given to `login` (no trailing slash).
    pub url: String,
    /// The session's bearer token.
    pub token: String,
}

/// The credentials file's path.
pub fn path() -> Result<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(p) = var(ENV) {
        return Ok(PathBuf::from(p));
    }
    if let Some(dir) = var("XDG_CONFIG_HOME").map(PathBuf::from)
        && dir.is_absolute()
    {
        return Ok(dir.join("doorman").join("credentials.json"));
    }
    match var("HOME") {
        Some(home) => Ok(PathBuf::from(home)
            .join(".config")
            .join("doorman")
            .join("credentials.json")),
        None => bail!("no credentials file: HOME is not set; set {ENV} to a file path"),
    }
}

/// The stored credentials, if the file exists.
pub fn load(path: &Path) -> Result<Option<Credentials>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = crate::files::read_private_file(path, "the credentials file")?;
    let creds: Credentials = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{} is not a credentials file ({e}); delete it and sign in again with `doorman login`",
            path.display()
        )
    })?;
    Ok(Some(creds))
}

/// Writes the credentials (mode 0600), replacing the file whole.
pub fn save(path: &Path, creds: &Credentials) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut bytes = serde_json::to_vec_pretty(creds).context("encoding the credentials")?;
    bytes.push(b'\n');
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow!(
            "writing the credentials file {}: {e}",
            path.display()
        ));
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Deletes the file; whether there was one.
pub fn remove(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(anyhow!("deleting {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn saved_private_replaced_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("credentials.json");
        let a = Credentials {
            url: "http://a".to_string(),
            token: "dms_a".to_string(),
        };
        save(&path, &a).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = Credentials {
            url: "http://b".to_string(),
            token: "dms_b".to_string(),
        };
        save(&path, &b).unwrap();
        assert_eq!(load(&path).unwrap(), Some(b));
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load(&path).is_err(), "a file others can read is refused");
        assert!(remove(&path).unwrap());
        assert!(!remove(&path).unwrap());
        assert_eq!(load(&path).unwrap(), None);
    }
}
