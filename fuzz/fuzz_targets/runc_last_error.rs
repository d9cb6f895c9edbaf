#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctrlog::runc::fuzz_runc_last_error(data));
