//! `doorman log entry`: entries built from signed tokens and typed flags, ready for
//! `log append`; tokens that do not verify under the given property key are refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{doorman, failed, succeeded};
use doorman_entries::{EntryType, PublicEntry};

#[test]
fn entries_come_from_tokens_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let property = succeeded(&doorman(&["key", "generate", "--out", &path("p.key")]));
    let property = property.trim();
    let other = succeeded(&doorman(&["key", "generate", "--out", &path("o.key")]));
    let device = succeeded(&doorman(&["key", "generate", "--out", &path("d.key")]));
    let carrier = succeeded(&doorman(&["key", "generate", "--out", &path("c.key")]));
    succeeded(&doorman(&[
        "consent",
        "sign",
        "--property-key",
        &path("p.key"),
        "--property",
        "prop-1",
        "--door",
        "street",
        "--device-pub",
        device.trim(),
        "--installer",
        "inst-1",
        "--not-before",
        "2026-11-01T00:00:00Z",
        "--not-after",
        "2027-11-01T00:00:00Z",
        "--out",
        &path("c.tok"),
    ]));
    succeeded(&doorman(&[
        "authorization",
        "sign",
        "--property-key",
        &path("p.key"),
        "--property",
        "prop-1",
        "--carrier",
        "acme",
        "--carrier-pub",
        carrier.trim(),
        "--door",
        "street",
        "--schedule",
        "Mon-Fri 08:00-20:00",
        "--tz",
        "Europe/Paris",
        "--not-before",
        "2026-11-01T00:00:00Z",
        "--not-after",
        "2027-02-01T00:00:00Z",
        "--out",
        &path("a.tok"),
    ]));

    let out = succeeded(&doorman(&[
        "log",
        "entry",
        "property",
        "--property",
        "prop-1",
        "--address",
        "221B Baker St.",
        "--tz",
        "Europe/London",
        "--property-pub",
        property,
        "--verified-by",
        "op",
        "--at",
        "2026-11-25T10:00:00.75Z",
    ]));
    let entry = PublicEntry::parse(out.trim_end().as_bytes()).unwrap();
    match entry {
        PublicEntry::PropertyRegistered {
            address_key, at, ..
        } => {
            assert_eq!(address_key, "221b baker street");
            assert_eq!(at, "2026-11-25T10:00:00Z");
        }
        other => panic!("{other:?}"),
    }

    let out = succeeded(&doorman(&[
        "log",
        "entry",
        "consent",
        &path("c.tok"),
        "--property-pub",
        property,
        "--request",
        "r1",
        "--device",
        "dev-1",
    ]));
    let entry = PublicEntry::parse(out.trim_end().as_bytes()).unwrap();
    assert_eq!(entry.entry_type(), EntryType::ConsentGranted);
    assert_eq!(entry.doors().into_iter().collect::<Vec<_>>(), ["street"]);

    let out = succeeded(&doorman(&[
        "log",
        "entry",
        "authorization",
        &path("a.tok"),
        "--property-pub",
        property,
    ]));
    let entry = PublicEntry::parse(out.trim_end().as_bytes()).unwrap();
    assert_eq!(entry.entry_type(), EntryType::CarrierAuthorized);

    // A token that the given property key did not sign is refused.
    failed(
        &doorman(&[
            "log",
            "entry",
            "consent",
            &path("c.tok"),
            "--property-pub",
            other.trim(),
            "--request",
            "r1",
            "--device",
            "dev-1",
        ]),
        2,
        "does not verify",
    );
    // Bad flags get clear errors.
    failed(
        &doorman(&[
            "log",
            "entry",
            "property",
            "--property",
            "prop-1",
            "--address",
            ",,,",
            "--tz",
            "Europe/London",
            "--property-pub",
            property,
            "--verified-by",
            "op",
        ]),
        2,
        "no letter or digit",
    );
    failed(
        &doorman(&[
            "log",
            "entry",
            "property",
            "--property",
            "prop-1",
            "--address",
            "1 Main St",
            "--tz",
            "Mars/Olympus",
            "--property-pub",
            property,
            "--verified-by",
            "op",
        ]),
        2,
        "time zone",
    );
}
