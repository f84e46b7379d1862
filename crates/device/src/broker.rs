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

/// A fresh MQTT client id for each connection, where the broker needs one (the embedded
/// broker: [`BrokerLink::client_id_per_connection`](crate::activation::BrokerLink)):
/// `<device>.<n>`, `n` larger on every attempt.
///
/// Why: rumqttd 0.20 keeps, per listener, a table of client ids whose connection ended; a
/// connection that fails between its CONNECT and the broker's CONNACK (the device gave up
/// waiting) leaves its entry stale, and the next connection with the same client id on that
/// listener makes rumqttd panic while it holds the table's lock. From then on every new
/// connection on that listener fails (upstream: bytebeamio/rumqtt#1062). A client id is
/// therefore never used twice: the device counts up, and the server admits only a number
/// larger than the last it admitted for that device ([`admits`]).
pub fn session_client_id(device: &str, n: u64) -> String {
    format!("{device}.{n}")
}

/// The number of a per-connection client id of `user` (`<user>.<n>`), or None.
pub fn session_of(client_id: &str, user: &str) -> Option<u64> {
    let n = client_id.strip_prefix(user)?.strip_prefix('.')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// Whether the server admits connection number `n` of a device whose last admitted one was
/// `last`: only a larger one, so no client id is ever used twice.
pub fn admits(last: Option<u64>, n: u64) -> bool {
    last.is_none_or(|l| n > l)
}

/// A device's connection numbers: the time in milliseconds (so a restarted agent starts
/// above its previous numbers while its clock is right), and never less than one more
/// than the last.
#[derive(Debug, Default, Clone)]
pub struct SessionCounter {
    last: u64,
}

impl SessionCounter {
    /// A counter that has given no number yet.
    pub const fn new() -> Self {
        SessionCounter { last: 0 }
    }

    /// The next number, given the time now in milliseconds since the Unix epoch.
    pub fn next(&mut self, now_ms: u64) -> u64 {
        let n = now_ms.max(self.last.saturating_add(1));
        self.last = n;
        n
    }
}

impl std::fmt::Display for BrokerAddr {
    /// The address with its scheme, in a form [`BrokerAddr::parse`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { TLS_SCHEME } else { PLAIN_SCHEME };
        if self.host.contains(':') {
            write!(f, "{scheme}[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn per_connection_client_ids_read_back_and_only_for_their_user() {
        let id = session_client_id("dev-street", 1_765_000_000_123);
        assert_eq!(id, "dev-street.1765000000123");
        assert_eq!(session_of(&id, "dev-street"), Some(1_765_000_000_123));
        for (bad, user) in [
            ("dev-street", "dev-street"),
            ("dev-street.", "dev-street"),
            ("dev-street.12x", "dev-street"),
            ("dev-street.+12", "dev-street"),
            ("dev-street.1", "dev-stree"),
            ("dev-streetX1", "dev-street"),
            ("other.1", "dev-street"),
            ("dev-street.99999999999999999999999", "dev-street"),
        ] {
            assert_eq!(session_of(bad, user), None, "{bad} for {user}");
        }
    }

    proptest::proptest! {
        /// Whatever the clock does, the counter's numbers only go up, and the server admits
        /// each of them in turn and none of them again.
        #[test]
        fn connection_numbers_only_go_up_and_each_is_admitted_once(
            clock in proptest::collection::vec(0u64..5_000, 1..50),
        ) {
            let mut counter = SessionCounter::default();
            let mut last = None;
            let mut seen = Vec::new();
            for t in clock {
                let n = counter.next(t);
                proptest::prop_assert!(admits(last, n));
                for &old in &seen {
                    proptest::prop_assert!(!admits(Some(n), old));
                }
                last = Some(n);
                seen.push(n);
            }
        }
    }

    #[test]
    fn an_address_written_out_reads_back_the_same() {
        for s in [
            "mqtts://mqtt.example.net:8883",
            "mqtt://10.0.0.1:1883",
            "mqtts://[::1]:8884",
        ] {
            let a = BrokerAddr::parse(s).unwrap();
            assert_eq!(a.to_string(), s);
            assert_eq!(BrokerAddr::parse(&a.to_string()).unwrap(), a);
        }
        assert_eq!(BrokerAddr::parse("h:1").unwrap().to_string(), "mqtt://h:1");
    }

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
