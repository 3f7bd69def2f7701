//! Phase one: TOML text → `RawConfig`, reporting every unknown key and wrong type, not just the first.
//!
//! serde stops at the first error, so the file is parsed once into toml's spanned tree
//! ([`DeTable`]), and then, until it deserializes: deserialize a copy of the tree; on error, record
//! it at its span and drop the offending key (with its whole value or table section) from the tree;
//! retry. Spans live in the tree, so positions of later errors stay those of the original text,
//! exactly as if the key had been blanked out of the text with spaces — without the risk of
//! blanking leaving invalid TOML behind (inside an inline table, after a dotted key).
//!
//! Dropped keys are remembered ([`Dropped`]) so that phase two does not report them again as
//! missing, nor their defaults as problems: one mistake, one message.

use serde::Deserialize;
use toml::de::{DeTable, DeValue, Deserializer};

use super::diagnostics::Report;
use super::raw::RawConfig;

/// Keys dropped by phase one, as paths like `camera[1].redact.target`.
#[derive(Debug, Default)]
pub(super) struct Dropped(Vec<String>);

impl Dropped {
    /// Whether a key was dropped directly inside the table at `table` (`""` is the top level).
    ///
    /// Phase two then does not report a key of that table as missing, nor a default of it as a
    /// problem: the dropped key may well be the one the user meant (`nmae` for `name`, a `redact`
    /// of the wrong type, a `[camera.redcat]` section).
    pub(super) fn any_in(&self, table: &str) -> bool {
        self.0.iter().any(|path| path.rsplit_once('.').map_or("", |(parent, _)| parent) == table)
    }
}

/// Deserializes `text`, reporting every problem serde finds. `None` after a TOML syntax error
/// (reported alone: nothing after it can be trusted) or an error no key can be blamed for.
pub(super) fn deserialize_all(text: &str, report: &mut Report<'_>) -> Option<(RawConfig, Dropped)> {
    let mut tree = match DeTable::parse(text) {
        Ok(tree) => tree,
        Err(err) => {
            report.error(err.span().map_or(0, |s| s.start), explain_syntax(err.message()));
            return None;
        }
    };
    let mut dropped = Dropped::default();
    loop {
        let err = match RawConfig::deserialize(Deserializer::from(tree.clone())) {
            Ok(raw) => return Some((raw, dropped)),
            Err(err) => err,
        };
        let at = err.span().map_or(0, |s| s.start);
        let Some(key) = drop_key_at(tree.get_mut(), at, "") else {
            report.error(at, err.message());
            return None;
        };
        report.error(at, explain(err.message(), &key));
        dropped.0.push(key.path);
    }
}

/// A key removed from the tree.
struct DroppedKey {
    /// Dotted path with array indices, e.g. `camera[0].redact`.
    path: String,
    /// Whether its value was a table (a `[section]` or an inline `{ }`).
    was_table: bool,
}

/// Removes the innermost key whose name or value holds byte `at`, searching `table` and all below.
fn drop_key_at(table: &mut DeTable<'_>, at: usize, parent: &str) -> Option<DroppedKey> {
    let mut hit = None;
    for (key, value) in table.iter_mut() {
        let path =
            if parent.is_empty() { key.get_ref().to_string() } else { format!("{parent}.{}", key.get_ref()) };
        if let Some(inner) = drop_key_within(value.get_mut(), at, &path) {
            return Some(inner);
        }
        if key.span().contains(&at) || value.span().contains(&at) {
            let was_table = matches!(value.get_ref(), DeValue::Table(_));
            hit = Some((key.get_ref().to_string(), DroppedKey { path, was_table }));
        }
    }
    let (name, dropped) = hit?;
    table.remove(name.as_str());
    Some(dropped)
}

/// [`drop_key_at`] inside a value: into tables, and into arrays that hold tables.
fn drop_key_within(value: &mut DeValue<'_>, at: usize, path: &str) -> Option<DroppedKey> {
    match value {
        DeValue::Table(table) => drop_key_at(table, at, path),
        DeValue::Array(items) => items
            .iter_mut()
            .enumerate()
            .find_map(|(i, item)| drop_key_within(item.get_mut(), at, &format!("{path}[{i}]"))),
        _ => None,
    }
}

/// toml's syntax message, marked as such; a bare word starting with `t` or `f` (`target = frame`)
/// reads as a broken boolean to the parser, so the likely fix is spelled out.
fn explain_syntax(message: &str) -> String {
    let hint = if message.starts_with("invalid boolean") {
        "; if this is text, put it in double quotes"
    } else {
        ""
    };
    format!("invalid TOML: {message}{hint}")
}

/// serde's message, in TOML's words, and with a hint where the mistake is a common one.
fn explain(message: &str, key: &DroppedKey) -> String {
    const CAMERA_KEYS: [&str; 4] = ["name", "source", "redact", "output"];
    if key.path == "camera" && key.was_table {
        return "write `[[camera]]` (double brackets), not `[camera]`: each camera is one entry of an \
                array of tables"
            .into();
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let what = if key.was_table { "table" } else { "key" };
        let hint = if CAMERA_KEYS.contains(&key.path.as_str()) {
            "; camera settings belong after a `[[camera]]` header (e.g. `[camera.redact]`)"
        } else {
            ""
        };
        return format!("unknown {what} {rest}{hint}");
    }
    let Some((found, expected)) =
        message.strip_prefix("invalid type: ").and_then(|m| m.rsplit_once(", expected "))
    else {
        return message.to_owned();
    };
    format!(
        "wrong type for `{}`: expected {}, found {}",
        leaf(&key.path),
        toml_words(expected),
        toml_words(found)
    )
}

/// serde's name of a kind of value (at the start of `text`) as TOML calls it.
fn toml_words(text: &str) -> String {
    const WORDS: [(&str, &str); 5] = [
        ("floating point", "float"),
        ("map", "a table"),
        ("a sequence", "an array"),
        ("sequence", "an array"),
        ("i64", "an integer"),
    ];
    if text.starts_with("struct ") {
        return "a table".into();
    }
    for (serde_word, toml_word) in WORDS {
        if let Some(rest) = text.strip_prefix(serde_word) {
            return format!("{toml_word}{rest}");
        }
    }
    text.to_owned()
}

/// The last key of a path: `crf` of `camera[0].output.crf`.
fn leaf(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}
