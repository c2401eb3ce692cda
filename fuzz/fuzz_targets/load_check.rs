//! Raw bytes: load -> validate -> shapes/FLOPs -> check on every table -> feed. Seeded with the ONNX conformance
//! suite's node-test models.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| edgebench_fuzz::exercise(data));
