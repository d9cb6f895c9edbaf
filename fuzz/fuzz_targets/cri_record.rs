#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctrlog::cri::read::fuzz_cri_record(data));
