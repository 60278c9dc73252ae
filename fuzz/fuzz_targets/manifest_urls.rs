//! Lines of arbitrary bytes as a manifest's file URLs: the parser that remembers authorities agrees with a
//! full parse on every one. The logic lives in `zipper::core::fuzzing::fuzz_urls`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zipper::core::fuzzing::fuzz_urls(data);
});
