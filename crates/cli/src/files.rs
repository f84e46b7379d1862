//! Files the CLI reads and writes: private keys (0600, never overwritten, never too open),
//! tokens (a path or `-` for stdin) and outputs.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use doorman_trust::{SecretKey, token};
use zeroize::Zeroizing;

/// Creates `path` with mode 0600 and writes `data`, crash-safely
/// (`doorman_store::write_new_private_file`); refuses if it exists.
pub fn write_new_private_file(path: &Path, data: &[u8]) -> Result<()> {
    doorman_store::write_new_private_file(path, data).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow!(
                "{} already exists; refusing to overwrite a key (choose another --out)",
                path.display()
            )
        } else {
            anyhow!("writing {}: {e}", path.display())
        }
    })
}

/// Reads a private file (at most 4 KiB), refusing one that others can read, like ssh does.
/// `what` names it in errors ("the key file", "the log key").
pub fn read_private_file(path: &Path, what: &str) -> Result<Zeroizing<String>> {
    Ok(doorman_store::read_private_file(path, what)?)
}

/// Reads a private key file (PKCS#8 PEM).
pub fn read_secret_key(path: &Path) -> Result<SecretKey> {
    let pem = read_private_file(path, "the key file")?;
    SecretKey::from_pem(&pem).with_context(|| format!("in {}", path.display()))
}

/// Reads a TOKEN argument: a file path, or `-` for stdin; returns the token bytes.
pub fn read_token(arg: &str) -> Result<Vec<u8>> {
    let mut text = String::new();
    if arg == "-" {
        std::io::stdin()
            .take(token::MAX_TOKEN_TEXT as u64 + 1)
            .read_to_string(&mut text)
            .context("reading the token from stdin")?;
    } else {
        std::fs::File::open(arg)
            .with_context(|| format!("opening the token file {arg}"))?
            .take(token::MAX_TOKEN_TEXT as u64 + 1)
            .read_to_string(&mut text)
            .with_context(|| format!("reading the token file {arg} (is it text?)"))?;
    }
    token::decode(&text).with_context(|| format!("in {arg}"))
}

/// Writes token text to a file, or to stdout.
pub fn write_output(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(p) => std::fs::write(p, format!("{text}\n"))
            .with_context(|| format!("writing {}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{text}").context("writing to stdout")
        }
    }
}
