#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctrlog::rotate::fuzz_rotate_ops(data));
