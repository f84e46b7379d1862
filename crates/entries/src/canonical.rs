//! Canonical JSON: the one byte form of a public entry.
//!
//! RFC 8785 (JCS) restricted to what entries hold: objects with ASCII member names sorted
//! byte-wise (for ASCII, the same order as JCS's UTF-16 order), no insignificant whitespace,
//! strings as serde_json writes them (UTF-8, only `"` `\` and control characters escaped, with
//! the short escapes `\b \f \n \r \t` and lowercase `\u00xx` otherwise, as JCS requires),
//! integers without sign, fraction or exponent, `true`, `false`, `null` not used. Sorting is
//! done here rather than relied on from serde_json's map type, so a dependency that turns on
//! serde_json's `preserve_order` feature cannot silently change the log's bytes.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Writes `value` canonically.
pub fn to_canonical(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(name, out);
                out.push(':');
                write(member, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        // Numbers (integers only in entries), booleans and null print the same in JCS.
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(s: &str, out: &mut String) {
    // serde_json's string escaping is JCS's: it escapes exactly `"`, `\` and U+0000-U+001F.
    out.push_str(&Value::String(s.to_string()).to_string());
}

/// Parses JSON text into a [`Value`], refusing duplicate member names (serde_json would keep
/// the last one silently, so two readers could disagree on what an entry says).
pub fn parse_no_duplicates(text: &str) -> Result<Value, serde_json::Error> {
    let NoDup(value) = serde_json::from_str(text)?;
    Ok(value)
}

struct NoDup(Value);

impl<'de> Deserialize<'de> for NoDup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NoDup, D::Error> {
        d.deserialize_any(NoDupVisitor).map(NoDup)
    }
}

struct NoDupVisitor;

impl<'de> Visitor<'de> for NoDupVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(NoDup(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(de::Error::custom(format!("member {name:?} appears twice")));
            }
            let NoDup(member) = map.next_value()?;
            members.insert(name, member);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_members_and_drops_whitespace() {
        let v =
            parse_no_duplicates(r#" { "b" : [1, {"z":1,"a":"x"}], "a": "é\n\u0001\"" } "#).unwrap();
        assert_eq!(
            to_canonical(&v),
            r#"{"a":"é\n\u0001\"","b":[1,{"a":"x","z":1}]}"#
        );
    }

    #[test]
    fn refuses_duplicate_members() {
        let e = parse_no_duplicates(r#"{"a":1,"a":2}"#).unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
        let e = parse_no_duplicates(r#"{"x":{"a":1,"a":1}}"#).unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
    }
}
