//! Arbitrary bytes as a manifest body: no panic; a valid manifest keeps every invariant.
//! The logic lives in `zipper::core::fuzzing::fuzz_manifest`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    zipper::core::fuzzing::fuzz_manifest(body);
});
