//! The contract's error codes (docs/contract.md, Failures) and their HTTP mapping: the one place where a
//! typed error becomes a status and a JSON body.
//!
//! Every boundary has its own error enum (`LinkError`, `ManifestError`, `FetchError`, ...); each reports its
//! [`Code`] through [`HasCode`], and only this module turns a code into a status and a body. It must not know
//! how the errors arise.

use http::StatusCode;

/// An error code of docs/contract.md, Failures, as seen by clients in `{"error":{"code":...}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// Unknown route.
    NotFound,
    /// The origin answered 404 for the manifest.
    DownloadNotFound,
    /// Malformed link segments, bad percent-encoding, no timestamp, not `.zip`.
    BadLink,
    /// The link's key id is not in the key set.
    UnknownKey,
    /// The signature does not match.
    BadSignature,
    /// The link's timestamp is too far in the future.
    BadTimestamp,
    /// The origin answered 403 for the manifest.
    Forbidden,
    /// The link is older than the allowed age.
    LinkExpired,
    /// The origin answered 410 for the manifest.
    DownloadGone,
    /// The Range cannot be satisfied.
    RangeNotSatisfiable,
    /// The manifest could not be fetched.
    ManifestUnavailable,
    /// The manifest is invalid or too large.
    InvalidManifest,
    /// A file could not be fetched from its origin (status, connection, too slow, changed).
    FileUnavailable,
    /// A callback or file host is refused by the allowlist or the private-network rule.
    OriginNotAllowed,
    /// Too many concurrent downloads.
    Overloaded,
    /// The method is not GET or HEAD.
    MethodNotAllowed,
    /// A bug or an unexpected internal failure.
    Internal,
}

impl Code {
    /// The code as it appears in the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NotFound => "not_found",
            Code::DownloadNotFound => "download_not_found",
            Code::BadLink => "bad_link",
            Code::UnknownKey => "unknown_key",
            Code::BadSignature => "bad_signature",
            Code::BadTimestamp => "bad_timestamp",
            Code::Forbidden => "forbidden",
            Code::LinkExpired => "link_expired",
            Code::DownloadGone => "download_gone",
            Code::RangeNotSatisfiable => "range_not_satisfiable",
            Code::ManifestUnavailable => "manifest_unavailable",
            Code::InvalidManifest => "invalid_manifest",
            Code::FileUnavailable => "file_unavailable",
            Code::OriginNotAllowed => "origin_not_allowed",
            Code::Overloaded => "overloaded",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::Internal => "internal",
        }
    }

    /// The HTTP status the contract gives this code.
    pub fn status(self) -> StatusCode {
        match self {
            Code::NotFound | Code::DownloadNotFound => StatusCode::NOT_FOUND,
            Code::BadLink => StatusCode::BAD_REQUEST,
            Code::UnknownKey | Code::BadSignature | Code::BadTimestamp | Code::Forbidden => {
                StatusCode::FORBIDDEN
            }
            Code::LinkExpired | Code::DownloadGone => StatusCode::GONE,
            Code::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            Code::ManifestUnavailable
            | Code::InvalidManifest
            | Code::FileUnavailable
            | Code::OriginNotAllowed => StatusCode::BAD_GATEWAY,
            Code::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Implemented by every boundary error: which contract code it answers with.
pub trait HasCode: std::fmt::Display {
    /// The contract code for this error.
    fn code(&self) -> Code;
}

/// The JSON body of an error response: `{"error":{"code":"…","message":"…"}}`.
pub fn json_body(code: Code, message: &str) -> String {
    serde_json::json!({ "error": { "code": code.as_str(), "message": message } }).to_string()
}

/// Status and JSON body for any boundary error.
pub fn to_response_parts(err: &dyn HasCode) -> (StatusCode, String) {
    let code = err.code();
    (code.status(), json_body(code, &err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_contract_table() {
        let table = [
            (Code::NotFound, 404),
            (Code::DownloadNotFound, 404),
            (Code::BadLink, 400),
            (Code::UnknownKey, 403),
            (Code::BadSignature, 403),
            (Code::BadTimestamp, 403),
            (Code::Forbidden, 403),
            (Code::LinkExpired, 410),
            (Code::DownloadGone, 410),
            (Code::RangeNotSatisfiable, 416),
            (Code::ManifestUnavailable, 502),
            (Code::InvalidManifest, 502),
            (Code::FileUnavailable, 502),
            (Code::OriginNotAllowed, 502),
            (Code::Overloaded, 503),
        ];
        for (code, status) in table {
            assert_eq!(code.status().as_u16(), status, "{}", code.as_str());
        }
    }

    #[test]
    fn json_body_has_code_and_message() {
        let v: serde_json::Value =
            serde_json::from_str(&json_body(Code::BadLink, "say \"hi\"")).expect("valid json");
        assert_eq!(v["error"]["code"], "bad_link");
        assert_eq!(v["error"]["message"], "say \"hi\"");
    }
}
