//! Raw request paths and (callback, file name) pairs through the link parser and verifier: no panic, and any
//! link that verifies re-signs to the same signature. The logic is `zipper::core::fuzzing::fuzz_link`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zipper::core::fuzzing::fuzz_link(data);
});
