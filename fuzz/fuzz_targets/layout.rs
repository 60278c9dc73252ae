//! Planner and offset map: arbitrary entry lists and ranges never panic, and the length invariants hold.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zipper::core::layout::fuzz_layout(data));
