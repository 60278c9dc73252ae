//! The admin listener's routes: `GET /healthz` (the process answers), `GET /readyz` (503 while draining),
//! `GET /metrics` (Prometheus text). Nothing here touches downloads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use super::listener::Body;
use crate::metrics::{Metrics, CONTENT_TYPE};

/// What the admin routes read.
#[derive(Debug, Clone)]
pub struct AdminState {
    /// The registry.
    pub metrics: Arc<Metrics>,
    /// False once shutdown has begun.
    pub ready: Arc<AtomicBool>,
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut res = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    res
}

/// Answers one admin request.
pub async fn handle<B>(state: AdminState, req: Request<B>) -> Response<Body> {
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" if state.ready.load(Ordering::SeqCst) => {
            text(StatusCode::OK, "text/plain", "ready\n".into())
        }
        "/readyz" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "draining\n".into(),
        ),
        "/metrics" => text(StatusCode::OK, CONTENT_TYPE, state.metrics.render()),
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}
