//! Integration tests.
//!
//! The crate root is `tests/it.rs`, so modules under `tests/it/` need a `#[path]`.

// Origin-side I/O against the in-process demo origin: file fetches, retries, resume, guard, manifests.
#[path = "it/origin.rs"]
mod origin;
