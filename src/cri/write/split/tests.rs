//! The chunk-at-a-time path ([`LineSplitter::try_for_each`], [`Newlines`]) against the
//! record-at-a-time one ([`LineSplitter::split`]); both are checked against the whole-input
//! oracle by the fuzz target and the property tests (`tests/cri_write/prop.rs`).

use super::newlines::*;
use super::*;

/// A small xorshift: reproducible inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Bytes rich in `\n` and `\r`, in runs of random length.
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let dense = self.below(40) + 2;
        (0..len)
            .map(|_| match self.below(dense) {
                0 => b'\n',
                1 => b'\r',
                _ => b'a' + self.below(26) as u8,
            })
            .collect()
    }
}

fn naive_mask(block: &[u8; BLOCK]) -> u64 {
    (0..BLOCK).fold(0, |m, i| m | (u64::from(block[i] == b'\n') << i))
}

#[test]
fn masks_equal_the_naive_one() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut blocks = vec![
        [0u8; BLOCK],
        [b'\n'; BLOCK],
        [0xff; BLOCK],
        [b'\n' ^ 0x80; BLOCK],
    ];
    for i in 0..BLOCK {
        let mut b = [b'x'; BLOCK];
        b[i] = b'\n';
        blocks.push(b);
        let mut b = [b'\n'; BLOCK];
        b[i] = 0x0b;
        blocks.push(b);
    }
    for _ in 0..2000 {
        let mut b = [0u8; BLOCK];
        // Bytes near '\n' (0x0a) and with the high bit set are where a SWAR test errs.
        for x in &mut b {
            *x = match rng.below(4) {
                0 => b'\n',
                1 => (rng.below(4) as u8 + 0x08) | (rng.below(2) as u8 * 0x80),
                _ => rng.next() as u8,
            };
        }
        blocks.push(b);
    }
    for b in &blocks {
        assert_eq!(newline_mask(b), naive_mask(b), "{b:?}");
        assert_eq!(newline_mask_swar(b), naive_mask(b), "{b:?}");
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, just checked.
            assert_eq!(unsafe { newline_mask_avx2(b) }, naive_mask(b), "{b:?}");
        }
    }
}

/// The newlines of `hay` from the baseline masks, checked against the AVX2 ones where the
/// CPU has AVX2.
fn newlines(hay: &[u8]) -> Vec<usize> {
    let got: Vec<usize> = Newlines::new(hay, Baseline).collect();
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = Avx2::detect() {
        let wide: Vec<usize> = Newlines::new(hay, avx2).collect();
        assert_eq!(wide, got);
    }
    got
}

#[test]
fn newlines_are_memchr_iter() {
    let mut rng = Rng(7);
    for len in (0..300).chain([1000, 4096, 65_537]) {
        let hay = rng.bytes(len);
        let got = newlines(&hay);
        let want: Vec<usize> = memchr::memchr_iter(b'\n', &hay).collect();
        assert_eq!(got, want, "len {len}");
    }
    // Long lines (left to memchr after a few blocks) between short ones.
    for round in 0..200 {
        let mut hay = Vec::new();
        while hay.len() < 20_000 {
            let n = match rng.below(3) {
                0 => rng.below(BLOCK * LONG_LINE_BLOCKS as usize * 3),
                _ => rng.below(100),
            };
            hay.extend(std::iter::repeat_n(b'x', n));
            hay.push(b'\n');
        }
        hay.truncate(hay.len() - rng.below(2));
        let got = newlines(&hay);
        let want: Vec<usize> = memchr::memchr_iter(b'\n', &hay).collect();
        assert_eq!(got, want, "round {round}");
    }
    assert_eq!(newlines(&[b'\n'; 130]).len(), 130);
}

/// `split` called in a loop: the record-at-a-time reference.
fn one_at_a_time(s: &mut LineSplitter, mut input: &[u8], out: &mut Vec<(Tag, Vec<u8>)>) {
    loop {
        let (step, used) = s.split(input);
        match step {
            Split::Record(t, c) => out.push((t, c.to_vec())),
            Split::NeedInput => return,
        }
        input = &input[used..];
    }
}

#[test]
fn for_each_gives_the_records_of_split() {
    let mut rng = Rng(0xdead_beef);
    for round in 0..3000 {
        let len = rng.below(600);
        let input = rng.bytes(len);
        let opts = SplitOptions {
            max_len: MaxLen::from_signed([1, 2, 3, 7, 16, 64, 200][round % 7]),
            cr_policy: if round % 2 == 0 {
                CrPolicy::Strip
            } else {
                CrPolicy::Keep
            },
            ..SplitOptions::default()
        };
        let (mut a, mut b) = (
            LineSplitter::with_options(opts),
            LineSplitter::with_options(opts),
        );
        let (mut got, mut want) = (Vec::new(), Vec::new());
        let mut rest = &input[..];
        while !rest.is_empty() {
            let n = (rng.below(150) + 1).min(rest.len());
            a.for_each(&rest[..n], |t, c| got.push((t, c.to_vec())));
            one_at_a_time(&mut b, &rest[..n], &mut want);
            rest = &rest[n..];
        }
        a.finish_each(|t, c| got.push((t, c.to_vec())));
        b.finish_each(|t, c| want.push((t, c.to_vec())));
        assert_eq!(
            got,
            want,
            "round {round}: {:?}",
            String::from_utf8_lossy(&input)
        );
    }
}

#[test]
fn try_for_each_stops_at_the_first_error() {
    let mut s = LineSplitter::new(MaxLen::from_signed(4));
    let mut seen = Vec::new();
    let r = s.try_for_each(b"ab\nabcdefgh\nlast\n", |t, c| {
        seen.push((t, c.to_vec()));
        if seen.len() == 2 {
            Err("full")
        } else {
            Ok(())
        }
    });
    assert_eq!(r, Err("full"));
    assert_eq!(
        seen,
        vec![
            (Tag::Full, b"ab".to_vec()),
            (Tag::Partial, b"abcd".to_vec())
        ]
    );
}
