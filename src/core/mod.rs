//! The pure core: zip format, layout, encoding, links, manifests, names, Range math and completion reports.
//!
//! Nothing under `core` does I/O, reads the clock, spawns tasks or imports tokio, hyper or reqwest; callers
//! pass time and bytes in. That is what lets it be unit-tested, property-tested and fuzzed without a socket
//! (`tests/it/layering.rs` checks the imports).

pub mod dostime;
pub mod encoder;
pub mod etag;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod header;
pub mod keys;
pub mod layout;
pub mod link;
pub mod manifest;
pub mod names;
pub mod range;
pub mod report;
pub mod spec;
pub mod traceparent;
