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

/// The scheme that asks for TLS.
pub const TLS_SCHEME: &str = "mqtts://";
/// The scheme of plain MQTT (optional: a bare `host:port` is plain too).
pub const PLAIN_SCHEME: &str = "mqtt://";

/// A broker address split into what the client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

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

impl BrokerAddr {
    /// Parses `host:port`, `mqtt://host:port` or `mqtts://host:port` (an IPv6 host in
    /// brackets).
    pub fn parse(s: &str) -> Result<BrokerAddr, TlsSetupError> {
        let bad = || TlsSetupError::BadAddress(s.to_string());
        let (rest, tls) = if let Some(r) = s.strip_prefix(TLS_SCHEME) {
            (r, true)
        } else if let Some(r) = s.strip_prefix(PLAIN_SCHEME) {
            (r, false)
        } else {
            (s, false)
        };
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port.parse::<u16>().map_err(|_| bad())?;
        if host.is_empty() || port == 0 || host.contains(['/', ' ']) {
            return Err(bad());
        }
        Ok(BrokerAddr {
            host: host.to_string(),
            port,
            tls,
        })
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
    fn broker_addresses_parse_with_and_without_a_scheme() {
        let a = |s: &str| BrokerAddr::parse(s);
        assert_eq!(
            a("mqtts://mqtt.example.net:8883").unwrap(),
            BrokerAddr {
                host: "mqtt.example.net".into(),
                port: 8883,
                tls: true
            }
        );
        assert_eq!(
            a("127.0.0.1:18830").unwrap(),
            BrokerAddr {
                host: "127.0.0.1".into(),
                port: 18830,
                tls: false
            }
        );
        assert!(!a("mqtt://h:1").unwrap().tls);
        assert_eq!(a("mqtts://[::1]:8883").unwrap().host, "::1");
        for bad in [
            "",
            "host",
            "mqtts://host",
            "h:0",
            "h:99999",
            ":1883",
            "https://h:1",
            "mqtts://a/b:1",
        ] {
            assert!(a(bad).is_err(), "{bad:?} accepted");
        }
    }

    proptest::proptest! {
        /// Any text: parsed or refused, never a panic; what parses prints back the same way.
        #[test]
        fn any_broker_address_is_parsed_or_refused(s in "\\PC{0,40}", tls: bool, port in 1u16..) {
            let _ = BrokerAddr::parse(&s);
            let host = s.replace([':', '/', ' ', '[', ']'], "");
            proptest::prop_assume!(!host.is_empty());
            let scheme = if tls { TLS_SCHEME } else { PLAIN_SCHEME };
            let a = BrokerAddr::parse(&format!("{scheme}{host}:{port}")).unwrap();
            proptest::prop_assert_eq!(a, BrokerAddr { host, port, tls });
        }
    }

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
