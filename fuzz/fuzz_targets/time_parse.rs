#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctrlog::time::fuzz_time_parse(data));
