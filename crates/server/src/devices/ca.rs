//! The embedded broker's certificates: a private CA for this server's devices, the broker's
//! TLS certificate, and one client certificate per device.
//!
//! Why certificates at all: rumqttd 0.20 has no topic ACLs. What it has is tenants: with
//! `verify-client-cert` and `validate-tenant-prefix`, a client's certificate must chain to the
//! CA, the Organization of its subject is its tenant, and it may publish and subscribe only
//! under `/tenants/<tenant>/`. Each device's certificate names its own tenant
//! (`doorman_device::messages::tenant`, its id in hex), so on this broker a device can use no
//! topic but its own two.
//!
//! Every key here is derived from the device-messaging secret (`devices.key`), so nothing new
//! is stored and every certificate comes out the same at each start: Ed25519 signatures are
//! deterministic and the validity dates are fixed. A device's certificate is issued for the
//! device's own Ed25519 key (the one it signs its events with): no private key leaves a device
//! and none is generated for it. It carries no trust of its own beyond "this key is that
//! tenant": the broker still admits a device only while its installation is approved (the
//! login check), which is what revocation acts on, so the certificates need no revocation list
//! and do not expire within any device's life.

use std::path::{Path, PathBuf};

use doorman_core::DeviceId;
use doorman_trust::PublicKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PKCS_ED25519, PublicKeyData,
    SerialNumber, SignatureAlgorithm,
};
use zeroize::Zeroizing;

use super::keys::DeviceKeys;

/// The directory in the data dir where the broker's TLS files are written at each start.
pub const BROKER_TLS_DIR: &str = "broker-tls";

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("device {0} cannot have a broker certificate: {1}")]
    Device(DeviceId, String),
    #[error("making a certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("encoding a key: {0}")]
    Key(String),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// The devices' CA and the broker's certificate.
pub struct DevicesCa {
    ca_key: KeyPair,
    ca: Certificate,
    broker_key: KeyPair,
    broker: Certificate,
}

impl std::fmt::Debug for DevicesCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevicesCa").finish_non_exhaustive()
    }
}

/// A device's public key, as rcgen wants it for a certificate it signs.
struct DeviceKey([u8; 32]);

impl PublicKeyData for DeviceKey {
    fn der_bytes(&self) -> &[u8] {
        // For Ed25519 the subjectPublicKey is the raw 32-byte key (RFC 8410).
        &self.0
    }
    fn algorithm(&self) -> &SignatureAlgorithm {
        &PKCS_ED25519
    }
}

fn ed25519_key_pair(seed: &Zeroizing<[u8; 32]>) -> Result<KeyPair, CaError> {
    let signing = ed25519_dalek::SigningKey::from_bytes(seed);
    let der = signing
        .to_pkcs8_der()
        .map_err(|e| CaError::Key(e.to_string()))?;
    Ok(KeyPair::try_from(der.as_bytes())?)
}

/// The fixed validity of every certificate here (see the module comment).
fn fixed_validity(params: &mut CertificateParams) {
    params.not_before = rcgen::date_time_ymd(2026, 1, 1);
    params.not_after = rcgen::date_time_ymd(9999, 12, 31);
}

impl DevicesCa {
    /// The CA and a broker certificate for `hosts` (names or IP addresses devices use to
    /// reach the broker; `localhost`, `127.0.0.1` and `::1` are always in).
    pub fn new(keys: &DeviceKeys, hosts: &[String]) -> Result<DevicesCa, CaError> {
        let ca_key = ed25519_key_pair(&keys.derive(b"doorman/devices-ca-key/v1\0"))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Doorman devices CA");
        params.distinguished_name = dn;
        params.serial_number = Some(SerialNumber::from(1u64));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        fixed_validity(&mut params);
        let ca = params.self_signed(&ca_key)?;

        let broker_key = ed25519_key_pair(&keys.derive(b"doorman/broker-tls-key/v1\0"))?;
        let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        for h in hosts {
            if !names.contains(h) {
                names.push(h.clone());
            }
        }
        let mut params = CertificateParams::new(names)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Doorman embedded broker");
        params.distinguished_name = dn;
        params.serial_number = Some(SerialNumber::from(2u64));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        fixed_validity(&mut params);
        let broker = params.signed_by(&broker_key, &ca, &ca_key)?;
        Ok(DevicesCa {
            ca_key,
            ca,
            broker_key,
            broker,
        })
    }

    /// The CA certificate (PEM): what devices trust the broker by, and the broker its clients.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// The client certificate (PEM) of `device` for its key `key`: subject CN = the device id,
    /// O = its tenant.
    pub fn device_certificate(
        &self,
        device: &DeviceId,
        key: &PublicKey,
    ) -> Result<String, CaError> {
        let tenant = doorman_device::messages::tenant(device)
            .map_err(|e| CaError::Device(device.clone(), e.to_string()))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, device.as_str());
        dn.push(DnType::OrganizationName, tenant);
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        fixed_validity(&mut params);
        // No serial given: rcgen derives it from the public key, so it is stable too.
        Ok(params
            .signed_by(&DeviceKey(key.to_bytes()), &self.ca, &self.ca_key)?
            .pem())
    }

    /// Writes the files rumqttd reads (it opens them at each connection): the CA, the broker's
    /// certificate and its key (0600), in `DIR/broker-tls/`. Returns (ca, cert, key) paths.
    pub fn write_broker_files(&self, data_dir: &Path) -> Result<[PathBuf; 3], CaError> {
        let dir = data_dir.join(BROKER_TLS_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| CaError::Io(dir.clone(), e))?;
        let ca = dir.join("ca.pem");
        let cert = dir.join("broker.pem");
        let key = dir.join("broker.key");
        std::fs::write(&ca, self.ca.pem()).map_err(|e| CaError::Io(ca.clone(), e))?;
        std::fs::write(&cert, self.broker.pem()).map_err(|e| CaError::Io(cert.clone(), e))?;
        let key_pem = Zeroizing::new(self.broker_key.serialize_pem());
        // Rewritten at each start (the key is derived, so it is the same key each time).
        match std::fs::remove_file(&key) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CaError::Io(key.clone(), e)),
        }
        doorman_store::write_new_private_file(&key, key_pem.as_bytes())
            .map_err(|e| CaError::Io(key.clone(), std::io::Error::other(e.to_string())))?;
        Ok([ca, cert, key])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_same_secret_gives_the_same_certificates() {
        let keys = DeviceKeys::from_seed([7; 32]);
        let a = DevicesCa::new(&keys, &[]).unwrap();
        let b = DevicesCa::new(&keys, &[]).unwrap();
        assert_eq!(a.ca_pem(), b.ca_pem());
        assert_eq!(a.broker.pem(), b.broker.pem());
        let device = DeviceId::new("dev_1").unwrap();
        let key = doorman_trust::SecretKey::from_seed(&[3; 32]).public();
        assert_eq!(
            a.device_certificate(&device, &key).unwrap(),
            b.device_certificate(&device, &key).unwrap()
        );
        let other = DevicesCa::new(&DeviceKeys::from_seed([8; 32]), &[]).unwrap();
        assert_ne!(a.ca_pem(), other.ca_pem());
    }

    #[test]
    fn a_device_without_a_topic_safe_id_gets_no_certificate() {
        let ca = DevicesCa::new(&DeviceKeys::from_seed([7; 32]), &[]).unwrap();
        let key = doorman_trust::SecretKey::from_seed(&[3; 32]).public();
        assert!(
            ca.device_certificate(&DeviceId::new("a/b").unwrap(), &key)
                .is_err()
        );
    }
}
