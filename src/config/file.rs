//! Reading the TOML file: syntax first (one error, with its line), then every key against the type table
//! [`FILE_SETTINGS`], collecting all problems at once, each naming its key and line; only then is
//! [`RawFile`] read from the keys that passed. Messages name a value's type, never the value (it could be a
//! secret put in the wrong place).

use std::collections::BTreeMap;

use super::load::Loader;
use super::suggest::closest;
use super::{setting_names, Kind, RawFile, FILE_SETTINGS};

/// The file's keys, each with the byte offset of its value.
type SpannedTable = BTreeMap<String, toml::Spanned<toml::Value>>;

impl Kind {
    fn accepts(self, value: &toml::Value) -> bool {
        use toml::Value as V;
        match (self, value) {
            (Kind::Text, V::String(_))
            | (Kind::Bool, V::Boolean(_))
            | (Kind::Keys, V::Table(_)) => true,
            (Kind::Whole, V::Integer(n)) => *n >= 0,
            (Kind::TextList, V::Array(items)) => items.iter().all(toml::Value::is_str),
            _ => false,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Kind::Text => "a string in quotes",
            Kind::Whole => "a whole number (0 or more, no quotes or units)",
            Kind::Bool => "true or false (no quotes)",
            Kind::TextList => "a list of strings, e.g. [\"cdn.example.com\"]",
            Kind::Keys => "a table: a [keys] line, then id = \"secret\" lines",
        }
    }
}

/// The type of `value` as the error messages name it.
fn type_name(value: &toml::Value) -> &'static str {
    use toml::Value as V;
    match value {
        V::String(_) => "a string",
        V::Integer(n) if *n < 0 => "a negative number",
        V::Integer(_) => "a whole number",
        V::Float(_) => "a decimal number",
        V::Boolean(_) => "a boolean",
        V::Datetime(_) => "a date-time",
        V::Array(items) if items.iter().all(toml::Value::is_str) => "a list of strings",
        V::Array(_) => "a list with a value that is not a string",
        V::Table(_) => "a table",
    }
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.get(..at)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

impl Loader<'_> {
    /// The file's settings. Syntax errors end the reading (`None`); type errors and unknown keys are
    /// collected, and the keys that passed are read.
    pub(super) fn read_file(&mut self, text: &str) -> Option<RawFile> {
        let table = match toml::from_str::<SpannedTable>(text) {
            Ok(table) => table,
            Err(e) => {
                let message = super::load::toml_error_message(text, &e);
                self.error(self.file_name.clone(), message);
                return None;
            }
        };
        let mut entries: Vec<(String, toml::Spanned<toml::Value>)> = table.into_iter().collect();
        entries.sort_by_key(|(_, v)| v.span().start);
        let mut good = toml::Table::new();
        for (key, value) in entries {
            let line = line_of(text, value.span().start);
            let place = format!("{}: {key}", self.file_name);
            let value = value.into_inner();
            match FILE_SETTINGS.iter().find(|(name, _)| *name == key) {
                None => {
                    let hint = match closest(&key, setting_names()) {
                        Some(name) => format!(" (did you mean {name}?)"),
                        None => " (config/zipper.toml lists every setting)".to_owned(),
                    };
                    self.error(place, format!("line {line}: unknown setting{hint}"));
                }
                Some((_, kind)) if !kind.accepts(&value) => {
                    let got = type_name(&value);
                    let expected = kind.expected();
                    self.error(
                        place,
                        format!("line {line}: expected {expected}, got {got}"),
                    );
                }
                Some(_) => {
                    good.insert(key, value);
                }
            }
        }
        match toml::Value::Table(good).try_into::<RawFile>() {
            Ok(raw) => Some(raw),
            Err(e) => {
                // Only if FILE_SETTINGS and RawFile disagree (tests.rs checks they do not).
                self.error(self.file_name.clone(), e.message().trim_end().to_owned());
                None
            }
        }
    }
}
