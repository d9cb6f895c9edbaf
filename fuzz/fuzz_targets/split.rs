#![no_main]
// Placeholder: its module's issue points this at the module's `fuzz_*` function.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = data;
});
