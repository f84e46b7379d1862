//! What a reader of the public log learns as it reads entries in order: which property is at
//! which address under which key, and what looks wrong. `doorman monitor` keeps one (saved in
//! its state dir); the server's address index is the same idea in SQL.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::entry::{PublicEntry, public_key};
use crate::verify::check_tokens;

/// A registered property as the log last described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyRecord {
    pub address: String,
    pub address_key: String,
    pub property_key: String,
    /// The index of its latest `property_registered` entry.
    pub registered_at: u64,
}

/// Properties by id, learnt from `property_registered` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub properties: BTreeMap<String, PropertyRecord>,
}

/// What one entry means to a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The address key of the property the entry is about, if the property is registered.
    pub address_key: Option<String>,
    /// The address as registered, if known.
    pub address: Option<String>,
    /// Things an auditor should look at (entry before its property's registration, a token
    /// that does not verify under the property key, a re-registration under another key or
    /// address).
    pub warnings: Vec<String>,
}

impl Directory {
    /// Reads entry `index` (entries must be observed in log order).
    pub fn observe(&mut self, index: u64, entry: &PublicEntry) -> Observation {
        let mut warnings = Vec::new();
        let property = entry.property().to_string();
        if let PublicEntry::PropertyRegistered {
            address,
            address_key,
            property_key,
            ..
        } = entry
        {
            if let Some(old) = self.properties.get(&property) {
                if old.property_key != *property_key {
                    warnings.push(format!(
                        "property {property} was registered again with a different key \
                         (was {} at entry {})",
                        old.property_key, old.registered_at
                    ));
                }
                if old.address_key != *address_key {
                    warnings.push(format!(
                        "property {property} was registered again at a different address \
                         (was {:?} at entry {})",
                        old.address, old.registered_at
                    ));
                }
            }
            self.properties.insert(
                property.clone(),
                PropertyRecord {
                    address: address.clone(),
                    address_key: address_key.clone(),
                    property_key: property_key.clone(),
                    registered_at: index,
                },
            );
        }
        let record = self.properties.get(&property);
        match record {
            None => warnings.push(format!(
                "{} for property {property}, which no property_registered entry registered",
                entry.entry_type()
            )),
            Some(record) => match public_key("property_key", &record.property_key) {
                Ok(key) => {
                    if let Err(e) = check_tokens(entry, &key) {
                        warnings.push(format!("{}: {e}", entry.entry_type()));
                    }
                }
                Err(e) => warnings.push(e.to_string()),
            },
        }
        Observation {
            address_key: record.map(|r| r.address_key.clone()),
            address: record.map(|r| r.address.clone()),
            warnings,
        }
    }
}
