//! Address normalisation: two spellings of one building give the same lookup key.
//!
//! The key is what `GET /public/v1/installations?address=` and `doorman monitor --watch`
//! compare, and what `property_registered` entries carry as `address_key`. It is defined here
//! once so the server, monitors and third parties compute the same key:
//!
//! 1. lowercase (Unicode);
//! 2. fold common Latin accents and ligatures (`é` → `e`, `ß` → `ss`, `œ` → `oe`; table below);
//! 3. every character that is not a letter or digit separates words (`12, Rue de l'Église` →
//!    `12 rue de l eglise`);
//! 4. common street-type abbreviations are spelled out (`st` → `street`, `ave` → `avenue`,
//!    `bd`/`blvd` → `boulevard`, `str` → `strasse`, ...);
//! 5. words are joined with single spaces.
//!
//! Letters outside the fold table (other scripts) are kept, lowercased. This does not geocode:
//! `12 Main Street` and `12 Main St.` match, `12 Main Street` and `12-14 Main Street` do not.

use crate::EntryError;

/// The longest address accepted, in bytes.
pub const MAX_ADDRESS_LEN: usize = 256;

const FOLD: &[(char, &str)] = &[
    ('à', "a"),
    ('á', "a"),
    ('â', "a"),
    ('ã', "a"),
    ('ä', "a"),
    ('å', "a"),
    ('æ', "ae"),
    ('ç', "c"),
    ('è', "e"),
    ('é', "e"),
    ('ê', "e"),
    ('ë', "e"),
    ('ì', "i"),
    ('í', "i"),
    ('î', "i"),
    ('ï', "i"),
    ('ñ', "n"),
    ('ò', "o"),
    ('ó', "o"),
    ('ô', "o"),
    ('õ', "o"),
    ('ö', "o"),
    ('ø', "o"),
    ('œ', "oe"),
    ('ù', "u"),
    ('ú', "u"),
    ('û', "u"),
    ('ü', "u"),
    ('ý', "y"),
    ('ÿ', "y"),
    ('ß', "ss"),
];

const ABBREVIATIONS: &[(&str, &str)] = &[
    ("st", "street"),
    ("rd", "road"),
    ("ave", "avenue"),
    ("av", "avenue"),
    ("blvd", "boulevard"),
    ("bd", "boulevard"),
    ("dr", "drive"),
    ("ln", "lane"),
    ("pl", "place"),
    ("sq", "square"),
    ("ct", "court"),
    ("hwy", "highway"),
    ("str", "strasse"),
];

/// The lookup key of an address (see the module docs). Errors if it is longer than
/// [`MAX_ADDRESS_LEN`] bytes or has no letter or digit.
pub fn normalize_address(text: &str) -> Result<String, EntryError> {
    if text.len() > MAX_ADDRESS_LEN {
        return Err(EntryError::BadAddress(format!(
            "{} bytes long; the limit is {MAX_ADDRESS_LEN}",
            text.len()
        )));
    }
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match FOLD.iter().find(|(from, _)| *from == c) {
            Some((_, to)) => folded.push_str(to),
            None if c.is_alphanumeric() => folded.push(c),
            None => folded.push(' '),
        }
    }
    let words: Vec<&str> = folded
        .split_whitespace()
        .map(|w| {
            ABBREVIATIONS
                .iter()
                .find(|(short, _)| *short == w)
                .map_or(w, |(_, long)| long)
        })
        .collect();
    if words.is_empty() {
        return Err(EntryError::BadAddress(
            "it has no letter or digit".to_string(),
        ));
    }
    let key = words.join(" ");
    // Spelling out abbreviations and folding `ß` lengthen the text: the key must fit the limit
    // too, or normalising a key would fail where normalising its address succeeded (found by
    // fuzzing).
    if key.len() > MAX_ADDRESS_LEN {
        return Err(EntryError::BadAddress(format!(
            "its normalised form is {} bytes long; the limit is {MAX_ADDRESS_LEN}",
            key.len()
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_building_match() {
        let key = normalize_address("12, Rue de l'Église, 75001 Paris").unwrap();
        assert_eq!(key, "12 rue de l eglise 75001 paris");
        assert_eq!(
            normalize_address("12 RUE DE L EGLISE   75001 PARIS").unwrap(),
            key
        );
        assert_eq!(
            normalize_address("221B Baker St., London NW1 6XE").unwrap(),
            normalize_address("221b baker street london nw1 6xe").unwrap()
        );
        assert_eq!(
            normalize_address("Hauptstraße 5, Berlin").unwrap(),
            "hauptstrasse 5 berlin"
        );
    }

    #[test]
    fn refuses_empty_and_huge() {
        assert!(matches!(
            normalize_address(" ,.- "),
            Err(EntryError::BadAddress(_))
        ));
        assert!(matches!(
            normalize_address(&"a".repeat(MAX_ADDRESS_LEN + 1)),
            Err(EntryError::BadAddress(_))
        ));
    }

    #[test]
    fn a_key_that_grows_past_the_limit_is_refused() {
        // 256 bytes of text whose key is longer: every `st` becomes `street`.
        let text = "st ".repeat(85) + "s";
        assert!(text.len() <= MAX_ADDRESS_LEN);
        assert!(matches!(
            normalize_address(&text),
            Err(EntryError::BadAddress(m)) if m.contains("normalised")
        ));
    }

    #[test]
    fn is_idempotent() {
        for s in ["12 Main St", "Straße 1", "ÆØÅ 3", "東京都 1-2"] {
            let once = normalize_address(s).unwrap();
            assert_eq!(normalize_address(&once).unwrap(), once, "{s}");
        }
    }
}
