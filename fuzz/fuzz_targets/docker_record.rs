#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctrlog::cri::read::fuzz_docker_record(data));
