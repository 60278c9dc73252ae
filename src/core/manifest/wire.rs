//! The manifest's wire format: serde visitors that stream the JSON body straight into typed fields.
//!
//! Owns the shape (an object with `filename` and a `files` array of file objects) and nothing of the rules
//! (`rules.rs` judges each field). Two promises:
//!
//! - **Linear cost.** No `serde_json::Value` is ever built. A field of the wrong JSON type becomes
//!   [`Typed::Other`] and its value is skipped as it is read (`IgnoredAny`), so a 32 MiB `"size": [0, 0, …]`
//!   costs no memory; files are validated one by one as they leave the array.
//! - **No value in an error.** serde's own messages quote what they found (`invalid type: string
//!   "https://…?token=…"`), so none is ever shown: a shape error is rebuilt from where the parser was
//!   ([`At`]) and what was expected there (`files[0]: expected an object at line 1 column 12`). Only JSON
//!   syntax errors keep serde_json's text, whose wording is fixed and never contains input.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{Builder, ManifestError};

/// A field's value: of the JSON type the rules expect, or [`Typed::Other`] when it had another type (the
/// value was skipped, never kept).
#[derive(Debug)]
pub(super) enum Typed<T> {
    /// A value of the expected type.
    Is(T),
    /// A value of any other type.
    Other,
}

/// What a JSON value may become through [`Typed`]; every kind of value not taken here is [`Typed::Other`].
pub(super) trait FromJson: Sized {
    /// From a non-negative integer.
    fn from_u64(_: u64) -> Option<Self> {
        None
    }
    /// From a string.
    fn from_str(_: &str) -> Option<Self> {
        None
    }
    /// From an object; the default skips it.
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl FromJson for String {
    fn from_str(s: &str) -> Option<Self> {
        Some(s.to_owned())
    }
}

impl FromJson for u64 {
    fn from_u64(n: u64) -> Option<Self> {
        Some(n)
    }
}

/// `headers` as written: every pair in document order (a repeated name is kept, to be refused, not
/// overwritten).
#[derive(Debug)]
pub(super) struct HeaderPairs(pub(super) Vec<(String, Typed<String>)>);

impl FromJson for HeaderPairs {
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry::<String, Typed<String>>()? {
            pairs.push(pair);
        }
        Ok(Some(HeaderPairs(pairs)))
    }
}

impl<'de, T: FromJson> Deserialize<'de> for Typed<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TypedVisitor(std::marker::PhantomData))
    }
}

struct TypedVisitor<T>(std::marker::PhantomData<T>);

impl<T> TypedVisitor<T> {
    fn or_other(value: Option<T>) -> Typed<T> {
        value.map_or(Typed::Other, Typed::Is)
    }
}

impl<'de, T: FromJson> Visitor<'de> for TypedVisitor<T> {
    type Value = Typed<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Typed<T>, E> {
        Ok(Typed::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Typed<T>, E> {
        Ok(Typed::Other)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Typed<T>, E> {
        Ok(Self::or_other(T::from_u64(n)))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Typed<T>, E> {
        Ok(Typed::Other)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Typed<T>, E> {
        Ok(Self::or_other(T::from_str(s)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Typed<T>, E> {
        Ok(Typed::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Typed<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Typed::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Typed<T>, A::Error> {
        Ok(Self::or_other(T::from_map(map)?))
    }
}

/// A file object as written. Each field is `None` when absent or `null`.
#[derive(Debug, Default)]
pub(super) struct RawFile {
    pub(super) url: Option<Typed<String>>,
    pub(super) path: Option<Typed<String>>,
    pub(super) size: Option<Typed<u64>>,
    pub(super) crc32: Option<Typed<String>>,
    pub(super) modified: Option<Typed<String>>,
    pub(super) compression: Option<Typed<String>>,
    pub(super) headers: Option<Typed<HeaderPairs>>,
}

/// Where the parser is, to name the place of a shape or syntax error.
#[derive(Debug, Clone, Copy)]
pub(super) enum At {
    /// The top-level value.
    Top,
    /// The `files` value.
    Files,
    /// `files[i]`.
    File(usize),
}

impl At {
    fn place(self) -> String {
        match self {
            At::Top => "manifest".into(),
            At::Files => "files".into(),
            At::File(index) => format!("files[{index}]"),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            At::Top | At::File(_) => "an object",
            At::Files => "an array",
        }
    }
}

/// A problem found while reading the shape, kept until serde_json's error says where it happened.
#[derive(Debug)]
pub(super) enum Failure {
    /// A rule failed: the error is complete.
    Invalid(ManifestError),
    /// A shape problem (`files[0]: duplicate field `path``) that gets the line and column.
    Shape(String),
}

/// The manifest error for a deserialiser error that no visitor recorded.
pub(super) fn json_error(error: &serde_json::Error, at: At) -> ManifestError {
    let message = match error.classify() {
        // A type mismatch: serde's message would quote the value found.
        serde_json::error::Category::Data => format!("{}: expected {}", at.place(), at.expected()),
        // Syntax and end-of-input messages are fixed texts without input (and end in the position).
        _ => {
            let text = error.to_string();
            let text = text.split(" at line ").next().unwrap_or_default();
            match at {
                At::Top => format!("invalid JSON: {text}"),
                at => format!("{}: invalid JSON: {text}", at.place()),
            }
        }
    };
    positioned(message, error)
}

/// A [`ManifestError::Json`] with `message` and the position of `error`.
pub(super) fn positioned(message: String, error: &serde_json::Error) -> ManifestError {
    let (line, column) = (error.line(), error.column());
    ManifestError::Json {
        message: format!("{message} at line {line} column {column}"),
        line,
        column,
    }
}

/// The top-level keys zipper reads; every other key is skipped.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum TopField {
    Filename,
    Files,
    #[serde(rename = "notify_url")]
    NotifyUrl,
    #[serde(other)]
    Other,
}

/// The keys of a file object zipper reads; every other key is skipped.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum FileField {
    Url,
    Path,
    Size,
    Crc32,
    Modified,
    Compression,
    Headers,
    #[serde(other)]
    Other,
}

/// A key given twice in one object (`place` names the object).
fn duplicate(place: &str, key: &str) -> Failure {
    Failure::Shape(format!("{place}: duplicate field `{key}`"))
}

/// Reads the next value into `slot`, or fails on a key given twice in one object (`place` names the object).
fn read_field<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    builder: &mut Builder<'_>,
    map: &mut A,
    slot: &mut Option<Option<T>>,
    place: &str,
    key: &str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(builder.fail(duplicate(place, key)));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// Deserialises the top-level object into the builder.
pub(super) struct TopLevel<'b, 'a>(pub(super) &'b mut Builder<'a>);

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a manifest object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let builder = self.0;
        let mut filename_seen = false;
        let mut notify_url_seen = false;
        while let Some(key) = map.next_key::<TopField>()? {
            match key {
                TopField::Filename => {
                    if std::mem::replace(&mut filename_seen, true) {
                        return Err(builder.fail(duplicate("manifest", "filename")));
                    }
                    if let Some(raw) = map.next_value::<Option<Typed<String>>>()? {
                        if let Err(error) = builder.set_filename(raw) {
                            return Err(builder.fail(Failure::Invalid(error)));
                        }
                    }
                }
                TopField::NotifyUrl => {
                    if std::mem::replace(&mut notify_url_seen, true) {
                        return Err(builder.fail(duplicate("manifest", "notify_url")));
                    }
                    if let Some(raw) = map.next_value::<Option<Typed<String>>>()? {
                        if let Err(error) = builder.set_notify_url(raw) {
                            return Err(builder.fail(Failure::Invalid(error)));
                        }
                    }
                }
                TopField::Files => {
                    if std::mem::replace(&mut builder.files_seen, true) {
                        return Err(builder.fail(duplicate("manifest", "files")));
                    }
                    builder.at = At::Files;
                    map.next_value_seed(Files(&mut *builder))?;
                    builder.at = At::Top;
                }
                TopField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Deserialises the `files` array, validating each file as it arrives.
struct Files<'b, 'a>(&'b mut Builder<'a>);

impl<'de> DeserializeSeed<'de> for Files<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Files<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of file objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let builder = self.0;
        for index in 0.. {
            builder.at = At::File(index);
            let Some(raw) = seq.next_element_seed(File(&mut *builder, index))? else {
                break;
            };
            if index >= builder.limits.max_entries {
                let max = builder.limits.max_entries;
                return Err(builder.fail(Failure::Invalid(ManifestError::TooManyEntries { max })));
            }
            if let Err(error) = builder.push(index, raw) {
                return Err(builder.fail(Failure::Invalid(error)));
            }
        }
        builder.at = At::Files;
        Ok(())
    }
}

/// Deserialises one file object (`files[index]`) into a [`RawFile`].
struct File<'b, 'a>(&'b mut Builder<'a>, usize);

impl<'de> DeserializeSeed<'de> for File<'_, '_> {
    type Value = RawFile;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<RawFile, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for File<'_, '_> {
    type Value = RawFile;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a file object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFile, A::Error> {
        let File(builder, index) = self;
        let place = format!("files[{index}]");
        let mut seen = (None, None, None, None, None, None, None);
        while let Some(key) = map.next_key::<FileField>()? {
            let m = &mut map;
            let p = place.as_str();
            match key {
                FileField::Url => read_field(builder, m, &mut seen.0, p, "url")?,
                FileField::Path => read_field(builder, m, &mut seen.1, p, "path")?,
                FileField::Size => read_field(builder, m, &mut seen.2, p, "size")?,
                FileField::Crc32 => read_field(builder, m, &mut seen.3, p, "crc32")?,
                FileField::Modified => read_field(builder, m, &mut seen.4, p, "modified")?,
                FileField::Compression => read_field(builder, m, &mut seen.5, p, "compression")?,
                FileField::Headers => read_field(builder, m, &mut seen.6, p, "headers")?,
                FileField::Other => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RawFile {
            url: seen.0.flatten(),
            path: seen.1.flatten(),
            size: seen.2.flatten(),
            crc32: seen.3.flatten(),
            modified: seen.4.flatten(),
            compression: seen.5.flatten(),
            headers: seen.6.flatten(),
        })
    }
}
