//! The demo origin's fault knobs: what the integration tests and benches use to make an origin fail in a
//! chosen way. They are a test concern kept behind one narrow switch, [`Faults`]: an origin started with
//! [`Faults::Off`] (what `zipper demo` runs) ignores every query, and only [`Faults::FromQuery`] (what
//! `DemoOrigin::start_with_faults` and `Demo::start` use) reads them. They stay in the library rather than
//! in `tests/it/` because the benches use the same origin and the demo and the tests must not drift apart.
//!
//! The knobs, as query parameters on any request (counted per path, query excluded):
//!
//! | knob | effect |
//! |---|---|
//! | `status=S&times=N` | answer the first `N` requests (every one without `times`) with status `S` |
//! | `delay_ms=N` | wait `N` ms before answering |
//! | `reset_at=N&reset_times=K` | files: abort the connection after `N` body bytes, on the first `K` requests (default 1) |
//! | `no_range=1` | files: ignore `Range`, always `200` and no `Accept-Ranges` |
//! | `no_validators=1` | files: no `ETag` and no `Last-Modified` |
//! | `chunked=1` | files: no `Content-Length` (chunked), ranges ignored |
//! | `lie=N` | files: send `size + N` bytes (`N` may be negative) chunked, ranges ignored, while `ETag` and the URL claim `size` |
//! | `chunk=N` | files: body chunk size (default 16 KiB) |
//! | `chunk_delay_ms=N` | files: wait `N` ms after each chunk |
//! | `require_auth=V` | answer `403` unless the request's `Authorization` header is exactly `V` (a private file) |
//! | `changed_from=N` | files: from the `N`th request on (0-based), other content (seed + 1) under the same validators: a file changed in place |

use std::time::Duration;

use http::StatusCode;

/// Default body chunk size of generated files.
pub(super) const DEFAULT_CHUNK: usize = 16 * 1024;
/// Largest `chunk=` accepted.
const MAX_CHUNK: usize = 1024 * 1024;

/// Whether an origin honours the fault knobs of its requests' queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Faults {
    /// Every request is served plainly, whatever its query (`zipper demo`).
    Off,
    /// The knobs of the table above are read from each request's query (tests and benches).
    FromQuery,
}

/// The fault knobs of one request.
#[derive(Debug, Default)]
pub(super) struct Knobs {
    pub(super) status: Option<StatusCode>,
    pub(super) times: Option<u64>,
    pub(super) delay: Option<Duration>,
    pub(super) reset_at: Option<u64>,
    pub(super) reset_times: u64,
    pub(super) no_range: bool,
    pub(super) no_validators: bool,
    pub(super) chunked: bool,
    pub(super) lie: i64,
    pub(super) chunk: usize,
    pub(super) chunk_delay: Option<Duration>,
    /// The `Authorization` value the request must carry, else `403`.
    pub(super) require_auth: Option<String>,
    /// From this request index on, the file's content changes (seed + 1).
    pub(super) changed_from: Option<u64>,
}

impl Knobs {
    /// No fault: every file served plainly.
    pub(super) fn none() -> Knobs {
        Knobs {
            reset_times: 1,
            chunk: DEFAULT_CHUNK,
            ..Default::default()
        }
    }

    /// The knobs of a request's query under `faults`; an unreadable knob is an error (a 400).
    pub(super) fn of(faults: Faults, query: Option<&str>) -> Result<Knobs, String> {
        match faults {
            Faults::Off => Ok(Knobs::none()),
            Faults::FromQuery => Knobs::parse(query),
        }
    }

    fn parse(query: Option<&str>) -> Result<Knobs, String> {
        let mut k = Knobs::none();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let num = || -> Result<u64, String> {
                value
                    .parse()
                    .map_err(|_| format!("knob {key}: not a number"))
            };
            match key {
                "status" => {
                    let code = u16::try_from(num()?).map_err(|_| "knob status: too large")?;
                    k.status =
                        Some(StatusCode::from_u16(code).map_err(|_| "knob status: invalid")?);
                }
                "times" => k.times = Some(num()?),
                "delay_ms" => k.delay = Some(Duration::from_millis(num()?)),
                "reset_at" => k.reset_at = Some(num()?),
                "reset_times" => k.reset_times = num()?,
                "no_range" => k.no_range = value != "0",
                "no_validators" => k.no_validators = value != "0",
                "chunked" => k.chunked = value != "0",
                "lie" => {
                    let v = value.strip_prefix('+').unwrap_or(value);
                    k.lie = v.parse().map_err(|_| "knob lie: not an integer")?;
                }
                "chunk" => {
                    let n = usize::try_from(num()?).unwrap_or(MAX_CHUNK);
                    k.chunk = n.clamp(1, MAX_CHUNK);
                }
                "chunk_delay_ms" => k.chunk_delay = Some(Duration::from_millis(num()?)),
                "require_auth" => k.require_auth = Some(value.to_string()),
                "changed_from" => k.changed_from = Some(num()?),
                _ => {}
            }
        }
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_parse() {
        let k = Knobs::parse(Some("status=500&times=2&lie=+5&reset_at=10&no_range=1&x=y"))
            .expect("valid knobs");
        assert_eq!(k.status, Some(StatusCode::INTERNAL_SERVER_ERROR));
        assert_eq!(
            (k.times, k.lie, k.reset_at, k.reset_times),
            (Some(2), 5, Some(10), 1)
        );
        assert!(k.no_range);
        assert_eq!(k.require_auth, None);
        let k = Knobs::parse(Some("require_auth=Bearer-a")).expect("valid knob");
        assert_eq!(k.require_auth.as_deref(), Some("Bearer-a"));
        assert_eq!(
            Knobs::parse(Some("changed_from=1"))
                .map(|k| k.changed_from)
                .ok(),
            Some(Some(1))
        );
        assert_eq!(Knobs::parse(Some("lie=-3")).map(|k| k.lie).ok(), Some(-3));
        assert!(Knobs::parse(Some("status=abc")).is_err());
    }

    #[test]
    fn an_origin_without_faults_ignores_the_query() {
        let k = Knobs::of(Faults::Off, Some("status=500&lie=3&status=abc")).expect("ignored");
        assert_eq!((k.status, k.lie, k.chunk), (None, 0, DEFAULT_CHUNK));
        assert!(Knobs::of(Faults::FromQuery, Some("status=abc")).is_err());
    }
}
