//! What the API commands print: for people, aligned fields and tables (`show`, `list`); for
//! scripts, `--json` (the API's JSON, as the wire types encode it) or `-q` (only the ids, one
//! per line). Data goes to stdout; confirmations and hints go to stderr.
//!
//! Text that comes from the server is printed with control characters escaped, so a name or
//! note cannot move the cursor or recolour the terminal.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use clap::Args;
use doorman_proto::List;
use jiff::Timestamp;
use serde::Serialize;

/// `--json` / `-q`: how a command prints its result.
#[derive(Debug, Clone, Copy, Args)]
pub struct OutputOpts {
    /// Print the API's JSON (the wire format) instead of text.
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,
    /// Print only the id (one per line for lists), for scripts.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `--json` alone, for the commands that have no id to print.
#[derive(Debug, Clone, Copy, Args)]
pub struct JsonOpt {
    /// Print the API's JSON (the wire format) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One thing, shown as fields.
pub trait Show: Serialize {
    /// What `-q` prints: its id.
    fn key(&self) -> String;
    /// Its fields, for people (empty values are left out).
    fn fields(&self) -> Vec<(&'static str, String)>;
}

/// One row of a list.
pub trait Row: Serialize {
    const HEADERS: &'static [&'static str];
    /// What `-q` prints: its id.
    fn key(&self) -> String;
    fn row(&self) -> Vec<String>;
}

/// Pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).context("encoding the JSON output")?
    );
    Ok(())
}

/// Prints one thing the way `out` asks.
pub fn one<T: Show>(out: OutputOpts, value: &T) -> Result<()> {
    one_keyed(out, value, &value.key())
}

/// Prints one thing, with `key` as what `-q` prints (an invitation's code, a token's secret).
pub fn one_keyed<T: Show>(out: OutputOpts, value: &T, key: &str) -> Result<()> {
    if out.json {
        return print_json(value);
    }
    if out.quiet {
        println!("{}", clean(key));
        return Ok(());
    }
    print!("{}", fields(&value.fields()));
    Ok(())
}

/// Prints a list the way `out` asks.
pub fn list<T: Row>(out: OutputOpts, list: &List<T>) -> Result<()> {
    if out.json {
        return print_json(list);
    }
    if out.quiet {
        for item in &list.items {
            println!("{}", clean(&item.key()));
        }
        return Ok(());
    }
    print!("{}", table(T::HEADERS, list.items.iter().map(Row::row)));
    Ok(())
}

/// `name: value` lines with the values aligned; empty values are left out.
pub fn fields(pairs: &[(&'static str, String)]) -> String {
    let width = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut s = String::new();
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        let _ = writeln!(s, "{:<w$}  {}", format!("{k}:"), clean(v), w = width + 1);
    }
    s
}

/// An aligned table with a header line; `(none)` when there are no rows.
pub fn table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.map(|r| r.iter().map(|c| clean(c)).collect()).collect();
    if rows.is_empty() {
        return "(none)\n".to_string();
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let _ = write!(l, "{cell:<w$}");
        }
        s.push_str(l.trim_end());
        s.push('\n');
    };
    line(&mut headers.iter().copied());
    for r in &rows {
        line(&mut r.iter().map(String::as_str));
    }
    s
}

/// Text from the server, safe for a terminal: control characters (newlines too) escaped.
pub fn clean(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A time for people: UTC, whole seconds (`--json` keeps the server's precision).
pub fn time(t: &Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An optional time (empty if absent).
pub fn opt_time(t: Option<&Timestamp>) -> String {
    t.map(time).unwrap_or_default()
}

/// An optional time for a table cell (`-` if absent).
pub fn cell_time(t: Option<&Timestamp>) -> String {
    t.map(time).unwrap_or_else(|| "-".to_string())
}

/// An optional value as text (empty if absent, so [`fields`] leaves it out).
pub fn opt<T: ToString>(v: Option<&T>) -> String {
    v.map(ToString::to_string).unwrap_or_default()
}

/// An optional value for a table cell (`-` if absent).
pub fn cell<T: ToString>(v: Option<&T>) -> String {
    v.map(ToString::to_string)
        .unwrap_or_else(|| "-".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_escape() {
        let t = table(
            &["ID", "NAME"],
            [
                vec!["a".to_string(), "x\u{1b}[31m".to_string()],
                vec!["long-id".to_string(), "y".to_string()],
            ]
            .into_iter(),
        );
        assert_eq!(t, "ID       NAME\na        x\\u{1b}[31m\nlong-id  y\n");
        assert_eq!(table(&["ID"], std::iter::empty()), "(none)\n");
    }

    #[test]
    fn fields_skip_empty_values() {
        let f = fields(&[
            ("id", "p1".to_string()),
            ("note", String::new()),
            ("status", "ok".to_string()),
        ]);
        assert_eq!(f, "id:      p1\nstatus:  ok\n");
    }
}
