//! TLS for the agent's MQTT link: `mqtts://host:port` in the activation's broker address (or
//! `--broker`) makes the link verify the broker's certificate and encrypt everything.
//!
//! The broker is trusted through the CA certificates given with `--broker-ca` (a PEM file: the
//! operator's own CA, the usual case for a fleet of devices), else through the system's roots.
//! An activation from a server with the embedded broker carries that broker's CA and the
//! device's client certificate (issued for the device key): the link then trusts that CA
//! (unless `--broker-ca` says otherwise) and presents the certificate, signing the handshake
//! with the device key. The certificate names the device's tenant, which is what keeps it to
//! its own topics on that broker.
//!
//! TLS protects the broker credential and the traffic's confidentiality; it is not what makes
//! a message trusted — every message is signed end to end either way (docs/mqtt.md).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use doorman_device::broker::{BrokerAddr, PLAIN_SCHEME, TLS_SCHEME};

/// Why the link can't be set up as configured.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TlsSetupError {
    #[error("the broker address {0:?} is not host:port, mqtt://host:port or mqtts://host:port")]
    BadAddress(String),
    #[error("the broker CA file holds no PEM certificate ({0})")]
    NoCertificate(String),
    #[error("a broker CA certificate is not usable: {0}")]
    BadCertificate(String),
    #[error(
        "no trusted roots: the system has none readable ({0}); give the broker's CA with --broker-ca"
    )]
    NoRoots(String),
    #[error("the device's broker certificate is not usable: {0}")]
    BadClientCertificate(String),
    #[error("TLS setup: {0}")]
    Rustls(String),
}

impl From<doorman_device::broker::BadBrokerAddress> for TlsSetupError {
    fn from(e: doorman_device::broker::BadBrokerAddress) -> Self {
        TlsSetupError::BadAddress(e.0)
    }
}

/// The client configuration: trust `ca_pem`'s certificates, or the system's roots if none;
/// with `identity` (a client certificate in PEM and the device key it was issued for), present
/// it when the broker asks.
pub fn client_config(
    ca_pem: Option<&[u8]>,
    identity: Option<(&str, &doorman_trust::SecretKey)>,
) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| TlsSetupError::NoCertificate(e.to_string()))?;
            if certs.is_empty() {
                return Err(TlsSetupError::NoCertificate("empty".into()));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| TlsSetupError::BadCertificate(e.to_string()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_string(), ToString::to_string);
                return Err(TlsSetupError::NoRoots(why));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert_pem, key)) => {
            let bad = |e: String| TlsSetupError::BadClientCertificate(e);
            let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(e.to_string()))?;
            if chain.is_empty() {
                return Err(bad("no PEM certificate".into()));
            }
            let key_pem = key.to_pem().map_err(|e| bad(e.to_string()))?;
            let key_der = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
                .map_err(|e| bad(e.to_string()))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| bad(e.to_string()))?
        }
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        assert!(matches!(
            client_config(Some(b"not pem"), None),
            Err(TlsSetupError::NoCertificate(_))
        ));
        assert!(
            client_config(
                Some(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
                None
            )
            .is_err()
        );
    }
}
