//! Arbitrary `Range` / `If-Range` headers and lengths: no panic; a partial range lies within the length.
//! The logic lives in `zipper::core::fuzzing::fuzz_range`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, u64, Option<&str>)| {
    let (header, len, if_range) = input;
    zipper::core::fuzzing::fuzz_range(header, len, if_range);
});
