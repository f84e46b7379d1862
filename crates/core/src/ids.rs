//! Identifiers that appear in tokens, logs and the wire.
//!
//! They are validated once, at the edge, so the rest of the code can embed them anywhere
//! (Datalog terms, log lines, file names) without escaping surprises: 1 to 64 bytes of
//! `A-Z a-z 0-9 . _ : @ # / -` and inner spaces.

use std::fmt;
use std::str::FromStr;

/// Longest identifier accepted anywhere, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty; give a non-empty identifier")]
    Empty { kind: &'static str },
    #[error("{kind} is {len} bytes long; the limit is {MAX_ID_LEN}")]
    TooLong { kind: &'static str, len: usize },
    #[error(
        "{kind} contains {found:?}; use letters, digits, spaces inside, and . _ : @ # / - only"
    )]
    BadChar { kind: &'static str, found: char },
    #[error("{kind} starts or ends with a space; trim it")]
    Untrimmed { kind: &'static str },
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '#' | '/' | '-' | ' ')
}

fn validate(kind: &'static str, s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { kind, len: s.len() });
    }
    if let Some(found) = s.chars().find(|c| !allowed(*c)) {
        return Err(IdError::BadChar { kind, found });
    }
    if s.starts_with(' ') || s.ends_with(' ') {
        return Err(IdError::Untrimmed { kind });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an identifier.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                validate($kind, &s)?;
                Ok(Self(s))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A property (building) as registered with Doorman.
    PropertyId,
    "property id"
);
id_type!(
    /// One door of a property (e.g. `street`, `garage`).
    DoorId,
    "door id"
);
id_type!(
    /// A carrier (delivery company) organisation.
    CarrierId,
    "carrier id"
);
id_type!(
    /// An installer organisation or person.
    InstallerId,
    "installer id"
);
id_type!(
    /// A unit (apartment) inside a property.
    UnitId,
    "unit"
);
id_type!(
    /// A carrier's reference for one delivery.
    DeliveryRef,
    "delivery reference"
);
id_type!(
    /// A door device (the agent's id, printed at its first start).
    DeviceId,
    "device id"
);
id_type!(
    /// An installation request filed by an installer.
    RequestId,
    "request id"
);
id_type!(
    /// An organisation: the operator, a property organisation, an installer or a carrier.
    OrgId,
    "organisation id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_ids() {
        for s in [
            "street",
            "door-1",
            "Apt 4B",
            "AMZ:123/45",
            "a",
            &"x".repeat(64),
        ] {
            assert!(DoorId::new(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn rejects_bad_ids_with_a_reason() {
        assert_eq!(DoorId::new(""), Err(IdError::Empty { kind: "door id" }));
        assert!(matches!(
            DoorId::new("x".repeat(65)),
            Err(IdError::TooLong { len: 65, .. })
        ));
        assert!(matches!(
            DoorId::new("a\"b"),
            Err(IdError::BadChar { found: '"', .. })
        ));
        assert!(matches!(DoorId::new("é"), Err(IdError::BadChar { .. })));
        assert!(matches!(DoorId::new(" a"), Err(IdError::Untrimmed { .. })));
        assert!(matches!(
            DoorId::new("a\n"),
            Err(IdError::BadChar { found: '\n', .. })
        ));
    }
}
