//! Fuzz entry point (placeholder).
#[doc(hidden)]
pub fn fuzz_rotate_ops(data: &[u8]) {
    let _ = data;
}
