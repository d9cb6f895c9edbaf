#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctrlog::cri::write::fuzz_json_encode(data));
