//! Arbitrary bytes as a mod_zip file list: no panic; a valid list keeps every manifest invariant.
//! The logic lives in `zipper::core::fuzzing::fuzz_mod_zip`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zipper::core::fuzzing::fuzz_mod_zip(data);
});
