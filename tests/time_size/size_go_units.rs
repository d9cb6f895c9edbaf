//! go-units' `TestFromHumanSize` and `TestRAMInBytes` tables (v0.5), ported.

use ctrlog::size::{from_human_size, ram_in_bytes, SizeError};

const KB: f64 = 1000.0;
const MB: f64 = KB * 1000.0;
const GB: f64 = MB * 1000.0;
const TB: f64 = GB * 1000.0;
const PB: f64 = TB * 1000.0;
const KIB: f64 = 1024.0;
const MIB: f64 = KIB * 1024.0;
const GIB: f64 = MIB * 1024.0;
const TIB: f64 = GIB * 1024.0;
const PIB: f64 = TIB * 1024.0;

#[test]
fn from_human_size_table() {
    let ok: &[(f64, &str)] = &[
        (0.0, "0"),
        (0.0, "0b"),
        (0.0, "0B"),
        (0.0, "0 B"),
        (32.0, "32"),
        (32.0, "32b"),
        (32.0, "32B"),
        (32.0 * KB, "32k"),
        (32.0 * KB, "32K"),
        (32.0 * KB, "32kb"),
        (32.0 * KB, "32Kb"),
        (32.0 * MB, "32Mb"),
        (32.0 * GB, "32Gb"),
        (32.0 * TB, "32Tb"),
        (32.0 * PB, "32Pb"),
        (32.5 * KB, "32.5kB"),
        (32.5 * KB, "32.5 kB"),
        (32.0, "32.5 B"),
        (300.0, "0.3 K"),
        (300.0, ".3kB"),
        (0.0, "0."),
        (0.0, "0. "),
        (0.0, "0.b"),
        (0.0, "0.B"),
        (0.0, "-0"),
        (0.0, "-0b"),
        (0.0, "-0B"),
        (0.0, "-0 b"),
        (0.0, "-0 B"),
        (32.0, "32."),
        (32.0, "32.b"),
        (32.0, "32.B"),
        (32.0, "32. b"),
        (32.0, "32. B"),
        (0.0, "0 "),
        // Docker's max-size is decimal even with binary-looking suffixes.
        (10.0 * MB, "10m"),
        (10.0 * MB, "10MiB"),
        (1.5 * GB, "1.5g"),
        (100.0, "100"),
    ];
    for &(want, input) in ok {
        assert_eq!(from_human_size(input), Ok(want as u64), "{input:?}");
    }
    let bad = [
        " 0", " 0b", " 0B", " 0 B", "0b ", "0B ", "0 B ", "", "hello", ".", ". ", " ", "  ", " .",
        " . ", "-32", "-32b", "-32B", "-32 b", "-32 B", "32b.", "32B.", "32 b.", "32 B.", "32 bb",
        "32 BB", "32 b b", "32 B B", "32  b", "32  B", " 32 ", "32m b", "32bm",
    ];
    for input in bad {
        assert!(
            from_human_size(input).is_err(),
            "{input:?} accepted: {:?}",
            from_human_size(input)
        );
    }
}

#[test]
fn ram_in_bytes_table() {
    let ok: &[(f64, &str)] = &[
        (32.0, "32"),
        (32.0, "32b"),
        (32.0, "32B"),
        (32.0 * KIB, "32k"),
        (32.0 * KIB, "32K"),
        (32.0 * KIB, "32kb"),
        (32.0 * KIB, "32Kb"),
        (32.0 * KIB, "32Kib"),
        (32.0 * KIB, "32KIB"),
        (32.0 * MIB, "32Mb"),
        (32.0 * GIB, "32Gb"),
        (32.0 * TIB, "32Tb"),
        (32.0 * PIB, "32Pb"),
        (32.0 * PIB, "32PB"),
        (32.0 * PIB, "32P"),
        (32.0, "32.3"),
        (32.3 * MIB, "32.3 mb"),
        (0.3 * MIB, "0.3MB"),
    ];
    for &(want, input) in ok {
        assert_eq!(ram_in_bytes(input), Ok(want as u64), "{input:?}");
    }
    for input in ["", "hello", "-32", " 32 ", "32m b", "32bm"] {
        assert!(ram_in_bytes(input).is_err(), "{input:?} accepted");
    }
}

#[test]
fn overflow_is_an_error_naming_the_input() {
    // The largest f64 below 2^63 fits; 2^63 - 1 rounds up to 2^63 as a float (as in Go).
    assert_eq!(
        from_human_size("9223372036854774784"),
        Ok(9223372036854774784)
    );
    assert!(matches!(
        from_human_size("9223372036854775807"),
        Err(SizeError::Overflow(_))
    ));
    for big in [
        "9223372036854775808",
        "10000p",
        "1e400",
        "99999999999999999999P",
    ] {
        match from_human_size(big) {
            Err(SizeError::Overflow(s)) | Err(SizeError::Invalid(s)) => assert_eq!(s, big),
            other => panic!("{big}: {other:?}"),
        }
    }
    let e = from_human_size("32x").unwrap_err().to_string();
    assert!(e.contains("32x") && e.contains("suffix"), "{e}");
}
