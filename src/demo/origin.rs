//! A real in-process HTTP origin for `zipper demo`, the integration tests and the benches: [`DemoOrigin`].
//!
//! It listens on `127.0.0.1:0` (HTTP/1.1 and cleartext HTTP/2) on the current tokio runtime and stops when
//! its handle is dropped or [`DemoOrigin::shutdown`] is called. It serves:
//!
//! - `GET|HEAD /files/{size}/{seed}/{name}`: `size` bytes of deterministic pseudo-random content made on
//!   the fly from `seed` ([`generated_bytes`], never buffered whole), with `Content-Length`, a strong
//!   `ETag`, `Last-Modified`, `Accept-Ranges: bytes` and single-range `Range`/`If-Range` support
//!   (206 + `Content-Range`, 416 past the end). `name` is only for show.
//! - `GET /manifests/{id}`: a manifest registered with [`DemoOrigin::add_manifest`] (any query, such as
//!   `?timestamp=`, is accepted), or with the answer headers given to
//!   [`DemoOrigin::add_manifest_with_headers`] (a mod_zip file list).
//! - `POST /reports/{name}`: a completion report (docs/reports.md), kept with its headers
//!   ([`DemoOrigin::reports`]) and answered `204`; at most 1 MiB per body, 10,000 reports per origin.
//! - `GET /redirect/{n}/{rest}`: `302` to `/redirect/{n-1}/{rest}`, and at `n = 0` to `/{rest}` (query
//!   kept). `GET /redirect-host/{host}/{rest}`: `302` to `http://{host}:{port}/{rest}` (query kept).
//!
//! Fault knobs (errors, delays, resets, size lies: `faults.rs`) are honoured only by an origin started with
//! [`DemoOrigin::start_with_faults`].
//!
//! Counters ([`DemoOrigin::requests`], [`DemoOrigin::partial_responses`], [`DemoOrigin::bytes_served`]) let tests assert what was fetched.
//! This module is test and demo tooling: it must not be used to serve real data, and it keeps request
//! headers only for manifest paths ([`DemoOrigin::last_manifest_headers`]) and reports, and of file
//! requests only their `traceparent` ([`DemoOrigin::last_file_traceparent`]).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::body::{text, DemoBody};
use super::content::file_path;
use super::faults::{Faults, Knobs};
use super::files::serve_file;
use super::state::{lock, State, MAX_REPORTS};
use http_body_util::{BodyExt, Limited};

// === the handle ===

/// A running demo origin; dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct DemoOrigin {
    addr: SocketAddr,
    state: Arc<State>,
    task: Option<JoinHandle<()>>,
}

impl DemoOrigin {
    /// Binds `127.0.0.1:0` and starts serving on the current tokio runtime, without fault knobs.
    pub async fn start() -> io::Result<DemoOrigin> {
        DemoOrigin::start_with(Faults::Off).await
    }

    /// Like [`DemoOrigin::start`], honouring the fault knobs of each request's query (tests, benches).
    pub async fn start_with_faults() -> io::Result<DemoOrigin> {
        DemoOrigin::start_with(Faults::FromQuery).await
    }

    /// Binds `127.0.0.1:0` and starts serving on the current tokio runtime.
    pub async fn start_with(faults: Faults) -> io::Result<DemoOrigin> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            port: addr.port(),
            faults: Some(faults),
            next_manifest: AtomicU64::new(1),
            ..Default::default()
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Ok(DemoOrigin {
            addr,
            state,
            task: Some(task),
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:{port}`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `base_url() + path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base_url())
    }

    /// The URL of a generated file (see [`file_path`]).
    pub fn file_url(&self, size: u64, seed: u64, name: &str) -> String {
        self.url(&file_path(size, seed, name))
    }

    /// Registers a manifest; returns its path `/manifests/{id}` (append `?timestamp=…` for a callback).
    pub fn add_manifest(&self, json: serde_json::Value) -> String {
        self.add_manifest_bytes(json.to_string())
    }

    /// Registers a manifest body as is (for invalid or oversized manifests); returns its path.
    pub fn add_manifest_bytes(&self, body: impl Into<Bytes>) -> String {
        let id = self.state.next_manifest.fetch_add(1, Ordering::Relaxed);
        lock(&self.state.manifests).insert(id, body.into());
        format!("/manifests/{id}")
    }

    /// Registers a manifest body answered with `headers` instead of `Content-Type: application/json` (a
    /// mod_zip file list with `X-Archive-Files: zip`, say); returns its path.
    pub fn add_manifest_with_headers(&self, body: impl Into<Bytes>, headers: HeaderMap) -> String {
        let path = self.add_manifest_bytes(body);
        lock(&self.state.manifest_answer_headers).insert(path.clone(), headers);
        path
    }

    /// Requests received for paths starting with `path_prefix` (query excluded; `""` counts all).
    pub fn requests(&self, path_prefix: &str) -> u64 {
        self.state.sum(path_prefix, |s| s.requests)
    }

    /// `206 Partial Content` answers sent for paths starting with `path_prefix`.
    pub fn partial_responses(&self, path_prefix: &str) -> u64 {
        self.state.sum(path_prefix, |s| s.partial)
    }

    /// All requests received.
    pub fn total_requests(&self) -> u64 {
        self.state.total_requests.load(Ordering::Relaxed)
    }

    /// Body bytes of generated files handed to the connection for paths starting with `path_prefix`.
    pub fn bytes_served(&self, path_prefix: &str) -> u64 {
        self.state.sum(path_prefix, |s| s.bytes)
    }

    /// All generated-file body bytes handed to connections.
    pub fn total_bytes_served(&self) -> u64 {
        self.state.total_bytes.load(Ordering::Relaxed)
    }

    /// The headers of the last request to the manifest at `path` (as returned by [`Self::add_manifest`]).
    pub fn last_manifest_headers(&self, path: &str) -> Option<HeaderMap> {
        lock(&self.state.manifest_headers).get(path).cloned()
    }

    /// The `traceparent` of the last request to the file at `path` (a path of [`Self::file_url`]).
    pub fn last_file_traceparent(&self, path: &str) -> Option<String> {
        lock(&self.state.file_traceparents).get(path).cloned()
    }

    /// `url("/reports/{name}")`: a `notify_url` whose reports this origin keeps.
    pub fn report_url(&self, name: &str) -> String {
        self.url(&format!("/reports/{name}"))
    }

    /// The reports received at `path` (such as `/reports/a`, query excluded), oldest first: headers and body.
    pub fn reports(&self, path: &str) -> Vec<(HeaderMap, Bytes)> {
        lock(&self.state.reports)
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, h, b)| (h.clone(), b.clone()))
            .collect()
    }

    /// Stops the server and waits until its tasks are gone.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // The task ends cancelled; nothing else can be learned from it.
            let _ = task.await;
        }
    }
}

impl Drop for DemoOrigin {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Accepts connections until aborted; aborting drops the `JoinSet`, which aborts every connection.
async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let state = Arc::clone(&state);
                    connections.spawn(async move {
                        let service = service_fn(move |req| handle(Arc::clone(&state), req));
                        // A broken connection (including our own resets) only ends that connection.
                        let _ = auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Err(e) => {
                    tracing::debug!(error = %e, "demo origin: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

// === request handling ===

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<DemoBody>, Infallible> {
    let path = req.uri().path().to_string();
    let index = state.count_request(&path);
    let faults = state.faults.unwrap_or(Faults::Off);
    let knobs = match Knobs::of(faults, req.uri().query()) {
        Ok(k) => k,
        Err(msg) => return Ok(text(StatusCode::BAD_REQUEST, msg)),
    };
    if let Some(delay) = knobs.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = knobs.status {
        if knobs.times.is_none_or(|times| index < times) {
            return Ok(text(status, format!("demo origin: status knob {status}")));
        }
    }
    if let Some(want) = &knobs.require_auth {
        let given = req.headers().get(http::header::AUTHORIZATION);
        if given.is_none_or(|v| v.as_bytes() != want.as_bytes()) {
            return Ok(text(
                StatusCode::FORBIDDEN,
                "demo origin: missing or wrong Authorization".into(),
            ));
        }
    }
    if req.method() == Method::POST && path.starts_with("/reports/") {
        return Ok(receive_report(&state, path, req).await);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(text(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD".into()));
    }
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let response = if let Some(rest) = path.strip_prefix("/files/") {
        if let Some(tp) = req
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
        {
            lock(&state.file_traceparents).insert(path.clone(), tp.to_string());
        }
        serve_file(&state, &req, &path, rest, &knobs, index)
    } else if let Some(id) = path.strip_prefix("/manifests/") {
        lock(&state.manifest_headers).insert(path.clone(), req.headers().clone());
        let body = id
            .parse::<u64>()
            .ok()
            .and_then(|id| lock(&state.manifests).get(&id).cloned());
        match body {
            Some(body) => {
                let mut r = Response::new(DemoBody::full(body));
                match lock(&state.manifest_answer_headers).get(&path) {
                    Some(headers) => r.headers_mut().extend(headers.clone()),
                    None => {
                        r.headers_mut()
                            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    }
                }
                r
            }
            None => text(StatusCode::NOT_FOUND, "no such manifest".into()),
        }
    } else if let Some(rest) = path.strip_prefix("/redirect/") {
        match rest.split_once('/') {
            Some((n, target)) => match n.parse::<u32>() {
                Ok(0) => redirect(format!("/{target}{query}")),
                Ok(n) => redirect(format!("/redirect/{}/{target}{query}", n - 1)),
                Err(_) => text(StatusCode::NOT_FOUND, "bad redirect count".into()),
            },
            None => text(StatusCode::NOT_FOUND, "bad redirect path".into()),
        }
    } else if let Some(rest) = path.strip_prefix("/redirect-host/") {
        match rest.split_once('/') {
            Some((host, target)) => {
                redirect(format!("http://{host}:{}/{target}{query}", state.port))
            }
            None => text(StatusCode::NOT_FOUND, "bad redirect path".into()),
        }
    } else {
        text(StatusCode::NOT_FOUND, "not found".into())
    };
    Ok(response)
}

/// Keeps a completion report (at most 1 MiB of body) and answers `204`.
async fn receive_report(state: &State, path: String, req: Request<Incoming>) -> Response<DemoBody> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, 1024 * 1024).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "report too large".into()),
    };
    let mut reports = lock(&state.reports);
    if reports.len() < MAX_REPORTS {
        reports.push((path, parts.headers, body));
    }
    text(StatusCode::NO_CONTENT, String::new())
}

fn redirect(location: String) -> Response<DemoBody> {
    let mut r = text(StatusCode::FOUND, String::new());
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            r.headers_mut().insert(LOCATION, v);
            r
        }
        Err(_) => text(StatusCode::BAD_REQUEST, "bad redirect target".into()),
    }
}
