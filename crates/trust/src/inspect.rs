//! Reading a token for people: blocks, facts, checks, signers and revocation ids.
//!
//! Inspection does not verify the root signature (the inspector may not have the key); it
//! says so in its output.

use serde::Serialize;

use crate::token::{self, TokenError};

/// One block of a token.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BlockView {
    pub index: usize,
    /// `authority`, `third_party` (signed by `signer`) or `attenuation`.
    pub kind: &'static str,
    /// The third-party signer, for third-party blocks.
    pub signer: Option<String>,
    /// Datalog source of the block: facts, rules and checks.
    pub source: String,
    /// Hex revocation id.
    pub revocation_id: String,
}

/// A token, as a person would read it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenView {
    /// The token kind its authority block declares (`consent`, `carrier_authorization`), or
    /// `unknown`.
    pub kind: String,
    /// `pass` when an authorization carries a third-party block.
    pub role: String,
    pub size_bytes: usize,
    pub root_key_id: Option<String>,
    pub signatures_verified: bool,
    pub blocks: Vec<BlockView>,
}

/// Reads token bytes for display.
pub fn inspect(bytes: &[u8]) -> Result<TokenView, TokenError> {
    let u = token::parse_unverified(bytes)?;
    let ids = u.revocation_identifiers();
    let external = u.external_public_keys();
    let mut blocks = Vec::with_capacity(u.block_count());
    for index in 0..u.block_count() {
        let source = u
            .print_block_source(index)
            .map_err(|e| TokenError::Format(e.to_string()))?;
        let signer = external
            .get(index)
            .and_then(Option::as_ref)
            .map(|k| k.to_string());
        let kind = match (index, &signer) {
            (0, _) => "authority",
            (_, Some(_)) => "third_party",
            _ => "attenuation",
        };
        blocks.push(BlockView {
            index,
            kind,
            signer,
            source,
            revocation_id: ids
                .get(index)
                .map(|i| token::revocation_hex(i))
                .unwrap_or_default(),
        });
    }
    let authority = blocks.first().map(|b| b.source.as_str()).unwrap_or("");
    // The declaring fact opens the authority block (see consent.rs and authorization.rs).
    let kind = if authority.starts_with("consent(") {
        "consent"
    } else if authority.starts_with("authorization(") {
        "carrier_authorization"
    } else {
        "unknown"
    };
    let role = if kind == "carrier_authorization" && blocks.iter().any(|b| b.kind == "third_party")
    {
        "pass"
    } else {
        kind
    };
    Ok(TokenView {
        kind: kind.to_owned(),
        role: role.to_owned(),
        size_bytes: bytes.len(),
        root_key_id: u.root_key_id().map(|id| format!("{id:08x}")),
        signatures_verified: false,
        blocks,
    })
}
