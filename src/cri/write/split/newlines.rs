//! Where the `\n` bytes of a chunk are: [`Newlines`], one pass over the chunk a 64-byte block
//! at a time, each block's newlines taken from a bit mask. The mask comes from a
//! [`NewlineMask`]: SSE2 (every x86_64 CPU) or portable words by default, AVX2 for the
//! writer's loop when the CPU has it.

/// The bytes one mask covers: one bit per byte of a `u64`.
pub(super) const BLOCK: usize = 64;

/// Blocks without a newline after which the rest of a long line is left to `memchr` (whose
/// wider, unrolled loop scans long runs faster; one call per long line is cheap).
pub(super) const LONG_LINE_BLOCKS: u32 = 4;

/// A way to find the `\n` bytes of one block. A value of the type is needed to use it:
/// [`Avx2`]'s is made only on a CPU that has AVX2.
pub(crate) trait NewlineMask: Copy {
    /// Bit `i` set when `block[i]` is `\n`.
    fn mask(self, block: &[u8; BLOCK]) -> u64;
}

/// The mask every CPU of the target has: SSE2 on x86_64, 8-byte words elsewhere.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Baseline;

impl NewlineMask for Baseline {
    #[inline(always)]
    fn mask(self, block: &[u8; BLOCK]) -> u64 {
        newline_mask(block)
    }
}

/// Two 32-byte compares (AVX2). A value is proof that the CPU has AVX2: the only way to make
/// one is [`Avx2::detect`], so safe code cannot reach the AVX2 instructions on a CPU
/// without them.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// `Some` where the CPU has AVX2 (`is_x86_feature_detected!`, cached after the first
    /// call).
    #[inline]
    pub(crate) fn detect() -> Option<Avx2> {
        std::arch::is_x86_feature_detected!("avx2").then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl NewlineMask for Avx2 {
    #[inline(always)]
    fn mask(self, block: &[u8; BLOCK]) -> u64 {
        // SAFETY: an `Avx2` exists only where `Avx2::detect` found AVX2.
        unsafe { newline_mask_avx2(block) }
    }
}

/// The positions of the `\n` bytes of a slice, in order (see the module docs).
pub(super) struct Newlines<'a, M> {
    hay: &'a [u8],
    /// Offset of the block `mask` covers.
    base: usize,
    /// Newlines of that block not yet returned, one bit per byte.
    mask: u64,
    /// Offset of the next block to scan.
    next: usize,
    /// Blocks scanned since the last newline.
    empty: u32,
    /// How a block's mask is found.
    kind: M,
}

impl<'a, M> Newlines<'a, M> {
    pub(super) fn new(hay: &'a [u8], kind: M) -> Self {
        Newlines {
            hay,
            base: 0,
            mask: 0,
            next: 0,
            empty: 0,
            kind,
        }
    }
}

impl<M: NewlineMask> Iterator for Newlines<'_, M> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            let rest = self.hay.get(self.next..).unwrap_or_default();
            if rest.is_empty() {
                return None;
            }
            if self.empty >= LONG_LINE_BLOCKS {
                self.empty = 0;
                let Some(j) = memchr::memchr(b'\n', rest) else {
                    self.next = self.hay.len();
                    return None;
                };
                let i = self.next + j;
                self.next = i + 1;
                return Some(i);
            }
            self.empty += 1;
            self.base = self.next;
            self.next += BLOCK;
            self.mask = match rest.first_chunk::<BLOCK>() {
                Some(block) => self.kind.mask(block),
                None => {
                    // The short last block, padded with bytes that are not `\n`.
                    let mut block = [0u8; BLOCK];
                    block[..rest.len()].copy_from_slice(rest);
                    self.kind.mask(&block)
                }
            };
        }
        self.empty = 0;
        let i = self.base + self.mask.trailing_zeros() as usize;
        // Clears the lowest set bit.
        self.mask &= self.mask - 1;
        Some(i)
    }
}

/// Bit `i` set when `block[i]` is `\n`: four SSE2 compares (SSE2 is part of every x86_64).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn newline_mask(block: &[u8; BLOCK]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let p = block.as_ptr().cast::<__m128i>();
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics exist on every x86_64
    // CPU; `p.add(0..4)` are the block's four 16-byte lanes (64 readable bytes), and `loadu`
    // needs no alignment.
    let [a, b, c, d] = unsafe {
        let nl = _mm_set1_epi8(b'\n' as i8);
        [0, 1, 2, 3].map(|k| _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(p.add(k)), nl)))
    };
    // Each movemask's 16 low bits are its lane's 16 compares.
    let lane = |m: i32| u64::from(m as u16);
    lane(a) | lane(b) << 16 | lane(c) << 32 | lane(d) << 48
}

/// [`newline_mask`] with two 32-byte compares.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn newline_mask_avx2(block: &[u8; BLOCK]) -> u64 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    let p = block.as_ptr().cast::<__m256i>();
    // SAFETY: the caller guarantees AVX2; `p` and `p.add(1)` are the block's two 32-byte
    // halves, and `loadu` needs no alignment.
    let [a, b] = unsafe {
        let nl = _mm256_set1_epi8(b'\n' as i8);
        [0, 1].map(|k| _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_loadu_si256(p.add(k)), nl)))
    };
    u64::from(a as u32) | u64::from(b as u32) << 32
}

/// Bit `i` set when `block[i]` is `\n`: eight bytes at a time in a `u64` (other targets).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub(super) fn newline_mask(block: &[u8; BLOCK]) -> u64 {
    newline_mask_swar(block)
}

/// The portable [`newline_mask`]: per 8-byte word, an exact zero-byte test of `word ^ '\n'`
/// (high bit of each byte, no false positives), the 8 high bits gathered by a multiply.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
pub(super) fn newline_mask_swar(block: &[u8; BLOCK]) -> u64 {
    let mut mask = 0u64;
    for k in 0..BLOCK / 8 {
        let zero = crate::swar::eq(crate::swar::load(block, 8 * k), b'\n');
        // Moves each byte's high bit to bit 56 + byte index (no carries: one bit per byte).
        let bits = ((zero >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        mask |= bits << (8 * k);
    }
    mask
}
