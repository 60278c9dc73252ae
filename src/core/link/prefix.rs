//! The `path_prefix` setting (docs/contract.md, Settings): the path under which links live when zipper sits
//! behind a reverse proxy that forwards, say, `/zip/…` to it. Owns [`PathPrefix`] (parsed once, at
//! configuration load, into its one normal form) and stripping it from a request path. Pure: it knows
//! nothing of settings files or requests beyond the path string.

use std::fmt;

/// Where links live: `/` followed by one or more segments of `A-Z a-z 0-9 - . _ ~`, no trailing `/`, no
/// empty, `.` or `..` segment (`/zip`, `/downloads/zip`), or nothing (the default: links at the root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathPrefix(String);

/// Why a `path_prefix` value is refused. Each message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrefixError {
    /// Not starting with `/`.
    #[error("must start with '/' (e.g. \"/zip\")")]
    NoLeadingSlash,
    /// `/` alone.
    #[error("\"/\" is the root: leave path_prefix empty or unset for links at the root")]
    Root,
    /// Ending with `/`.
    #[error("must not end with '/' (write \"{0}\")")]
    TrailingSlash(String),
    /// An empty, `.` or `..` segment.
    #[error("must be a normalised path: no empty, '.' or '..' segment (write \"{0}\")")]
    NotNormal(String),
    /// A byte outside the unreserved set.
    #[error(
        "may contain only A-Z, a-z, 0-9, '-', '.', '_', '~' and '/' (no escapes, spaces or query)"
    )]
    BadCharacter,
}

impl PathPrefix {
    /// No prefix: links at the root.
    pub fn none() -> PathPrefix {
        PathPrefix::default()
    }

    /// Parses a prefix as written in the configuration. The empty string is [`PathPrefix::none`].
    pub fn parse(text: &str) -> Result<PathPrefix, PrefixError> {
        if text.is_empty() {
            return Ok(PathPrefix::none());
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(PrefixError::NoLeadingSlash);
        };
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
        {
            return Err(PrefixError::BadCharacter);
        }
        let kept: Vec<&str> = rest.split('/').filter(|s| !s.is_empty() && *s != ".").fold(
            Vec::new(),
            |mut kept, segment| {
                if segment == ".." {
                    kept.pop();
                } else {
                    kept.push(segment);
                }
                kept
            },
        );
        let normal = format!("/{}", kept.join("/"));
        if kept.is_empty() {
            return Err(PrefixError::Root);
        }
        if text.ends_with('/') {
            return Err(PrefixError::TrailingSlash(normal));
        }
        if normal != text {
            return Err(PrefixError::NotNormal(normal));
        }
        Ok(PathPrefix(normal))
    }

    /// The prefix as configured (`""` for none).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rest of `path` after the prefix (starting with `/`), or `None` when `path` is not under it.
    /// `/zip/a` is under `/zip`; `/zipx/a`, `/zip` and `/a` are not.
    pub fn strip<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(self.0.as_str())?;
        rest.starts_with('/').then_some(rest)
    }
}

impl fmt::Display for PathPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_taken_only_in_their_normal_form() {
        for good in ["/zip", "/a/b", "/downloads-v2/zip.files", "/~x"] {
            assert_eq!(PathPrefix::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(PathPrefix::parse("").unwrap(), PathPrefix::none());
        let cases = [
            ("zip", PrefixError::NoLeadingSlash),
            ("/zip/", PrefixError::TrailingSlash("/zip".into())),
            ("/", PrefixError::Root),
            ("/./", PrefixError::Root),
            ("//zip", PrefixError::NotNormal("/zip".into())),
            ("/a//b", PrefixError::NotNormal("/a/b".into())),
            ("/a/./b", PrefixError::NotNormal("/a/b".into())),
            ("/a/../b", PrefixError::NotNormal("/b".into())),
            ("/zip?x=1", PrefixError::BadCharacter),
            ("/z%20ip", PrefixError::BadCharacter),
            ("/zíp", PrefixError::BadCharacter),
        ];
        for (text, want) in cases {
            assert_eq!(PathPrefix::parse(text), Err(want), "{text:?}");
        }
        assert!(PathPrefix::parse("/zip/")
            .unwrap_err()
            .to_string()
            .contains("write \"/zip\""));
    }

    #[test]
    fn strip_takes_whole_segments_only() {
        let p = PathPrefix::parse("/zip").unwrap();
        assert_eq!(p.strip("/zip/a/b/c/d.zip"), Some("/a/b/c/d.zip"));
        assert_eq!(p.strip("/zip/"), Some("/"));
        assert_eq!(p.strip("/zip"), None);
        assert_eq!(p.strip("/zipx/a"), None);
        assert_eq!(p.strip("/a/zip/b"), None);
        assert_eq!(p.strip(""), None);
        let none = PathPrefix::none();
        assert_eq!(none.strip("/a/b"), Some("/a/b"));
        assert_eq!(none.strip("a"), None);
    }
}
