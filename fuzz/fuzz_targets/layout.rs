//! Planner and offset map: arbitrary entry lists and ranges never panic, and the length invariants hold.
//! The logic lives in `zipper::core::fuzzing::fuzz_layout`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zipper::core::fuzzing::fuzz_layout(data));
