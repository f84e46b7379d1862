//! The server's device-messaging secret (`devices.key` in the data dir, 0600): 32 random
//! bytes from which, with HMAC-SHA-256 under distinct labels, come
//!
//! - the Ed25519 key that signs every message to devices (its public half is named, as
//!   `server_key`, in each device's configuration, which the property key signs), and
//! - the embedded broker's CA and TLS keys (`ca.rs`), and
//! - each device's broker password: `base64url(HMAC(secret, "mqtt-password/v1\0" || device id))`.
//!   Nothing per device is stored: the embedded broker recomputes it, and the activation
//!   bundle hands it to the device. Rotating the file rotates every password (and the key, so
//!   every device then needs a new configuration).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doorman_trust::SecretKey;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::StartError;

/// The secret's file in the data dir.
pub const DEVICES_KEY_FILE: &str = "devices.key";

/// The server's own broker account and client id (no device id can take it: the broker
/// checks this name against the server's password only).
pub const SERVER_USER: &str = "doorman-server";

type HmacSha256 = Hmac<Sha256>;

/// The device-messaging secret and what is derived from it.
pub struct DeviceKeys {
    seed: Zeroizing<[u8; 32]>,
    signer: SecretKey,
}

impl std::fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKeys")
            .field("server_key", &self.signer.public().to_string())
            .finish_non_exhaustive()
    }
}

fn mac(seed: &[u8; 32], label: &[u8], data: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    let mut m = match HmacSha256::new_from_slice(seed) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    };
    m.update(label);
    m.update(data);
    m
}

#[cold]
fn unreachable_hmac() -> HmacSha256 {
    // Not reachable (HMAC accepts every key length); a zero-key HMAC keeps this total.
    <HmacSha256 as Mac>::new(&Default::default())
}

impl DeviceKeys {
    /// From the 32-byte secret.
    pub fn from_seed(seed: [u8; 32]) -> DeviceKeys {
        let derived: [u8; 32] = mac(&seed, b"doorman/server-signing-key/v1\0", b"")
            .finalize()
            .into_bytes()
            .into();
        let derived = Zeroizing::new(derived);
        DeviceKeys {
            signer: SecretKey::from_seed(&derived),
            seed: Zeroizing::new(seed),
        }
    }

    /// Reads `DIR/devices.key` (64 hex digits), or creates it. Returns whether it was created.
    pub fn load_or_create(data_dir: &Path) -> Result<(DeviceKeys, bool), StartError> {
        let path = data_dir.join(DEVICES_KEY_FILE);
        match std::fs::metadata(&path) {
            Ok(_) => {
                let text = doorman_store::read_private_file(&path, "the device-messaging key")
                    .map_err(|e| StartError(e.to_string()))?;
                let bytes = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                    .ok_or_else(|| {
                        StartError(format!("{}: must be 64 hex digits", path.display()))
                    })?;
                Ok((DeviceKeys::from_seed(bytes), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
                let mut text = Zeroizing::new(hex::encode(seed));
                text.push('\n');
                doorman_store::write_new_private_file(&path, text.as_bytes())
                    .map_err(|e| StartError(format!("writing {}: {e}", path.display())))?;
                Ok((DeviceKeys::from_seed(seed), true))
            }
            Err(e) => Err(StartError(format!("reading {}: {e}", path.display()))),
        }
    }

    /// 32 bytes for `label`'s own use (the broker's CA and TLS keys, `ca.rs`).
    pub(crate) fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(mac(&self.seed, label, b"").finalize().into_bytes().into())
    }

    /// The key that signs messages to devices.
    pub fn signer(&self) -> &SecretKey {
        &self.signer
    }

    /// The broker password of a broker account (a device id, or [`SERVER_USER`]).
    pub fn password(&self, user: &str) -> String {
        URL_SAFE_NO_PAD.encode(
            mac(&self.seed, b"doorman/mqtt-password/v1\0", user.as_bytes())
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `password` is `user`'s (compared in constant time).
    pub fn check_password(&self, user: &str, password: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(password) else {
            return false;
        };
        mac(&self.seed, b"doorman/mqtt-password/v1\0", user.as_bytes())
            .verify_slice(&tag)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_per_account_and_checked() {
        let k = DeviceKeys::from_seed([1; 32]);
        let p = k.password("dev_1");
        assert!(k.check_password("dev_1", &p));
        assert!(!k.check_password("dev_2", &p));
        assert!(!k.check_password("dev_1", "nope"));
        assert!(!DeviceKeys::from_seed([2; 32]).check_password("dev_1", &p));
        assert_ne!(k.password(SERVER_USER), p);
    }

    #[test]
    fn the_signing_key_is_stable_and_secret_dependent() {
        assert_eq!(
            DeviceKeys::from_seed([1; 32]).signer().public(),
            DeviceKeys::from_seed([1; 32]).signer().public()
        );
        assert_ne!(
            DeviceKeys::from_seed([1; 32]).signer().public(),
            DeviceKeys::from_seed([2; 32]).signer().public()
        );
    }
}
