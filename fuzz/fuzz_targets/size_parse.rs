#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctrlog::size::fuzz_size_parse(data));
