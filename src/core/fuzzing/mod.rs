//! The fuzz harnesses of the pure core: one function per target in `fuzz/fuzz_targets/`, each decoding raw
//! bytes into inputs for one core module and checking that module's invariants.
//!
//! They panic on a broken invariant on purpose (that is what the fuzzer looks for), so they are not part of
//! the production library: this module exists only under `cfg(test)` (the unit tests run the same logic on
//! random inputs in every test run) and with the cargo feature `fuzzing`, which only the fuzz crate in
//! `fuzz/` enables. Nothing in the library may call into it; it may use any core module, and no core module
//! imports it, so it adds no edge to the core's import graph.

mod layout;
mod link;
mod manifest;
mod mod_zip;
mod range;
mod urls;

pub use layout::fuzz_layout;
pub use link::fuzz_link;
pub use manifest::{fuzz_manifest, invariant_violation};
pub use mod_zip::{fuzz_mod_zip, FUZZ_CALLBACK};
pub use range::fuzz_range;
pub use urls::fuzz_urls;
