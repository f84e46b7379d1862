//! Broker addresses as activation bundles and the agent's `--broker` name them:
//! `host:port`, `mqtt://host:port` (plain) or `mqtts://host:port` (TLS). One parser for the
//! agent, which connects to them, and the server, which names them and issues the embedded
//! broker's certificate for their host.

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

/// A broker address that is none of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the broker address {0:?} is not host:port, mqtt://host:port or mqtts://host:port")]
pub struct BadBrokerAddress(pub String);

impl BrokerAddr {
    /// Parses `host:port`, `mqtt://host:port` or `mqtts://host:port` (an IPv6 host in
    /// brackets).
    pub fn parse(s: &str) -> Result<BrokerAddr, BadBrokerAddress> {
        let bad = || BadBrokerAddress(s.to_string());
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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
}
