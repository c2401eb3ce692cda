//! Raw bytes as a TFLite flatbuffer (the file identifier forced to `TFL3` so every input reaches the reader):
//! load -> validate -> shapes/FLOPs -> check on every table. Seeded with the zoo's smallest .tflite when cached.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| edgebench_fuzz::exercise_tflite(data));
