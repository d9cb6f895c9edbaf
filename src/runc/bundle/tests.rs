//! Unit tests of the sans-IO parts: identifiers, `/proc` lines, mountinfo escapes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::prune::{mount_point, under};
use super::residue::{parse_stat, parse_uptime};
use super::*;

/// containerd's own cases (`pkg/identifiers/validate_test.go`).
#[test]
fn identifiers_as_containerd() {
    let max = "a".repeat(MAX_IDENTIFIER_LEN);
    for ok in [
        "default",
        "Default",
        "TestValidIdentifiers",
        "default-default",
        "containerd.io",
        "foo.boo",
        "swarmkit.docker.io",
        "0912341234",
        "task.0.0123456789",
        "container.system-75-f19a.00",
        "underscores_are_allowed",
        max.as_str(),
    ] {
        assert_eq!(validate_identifier(ok.as_bytes()), Ok(()), "{ok}");
    }
    let long = "a".repeat(MAX_IDENTIFIER_LEN + 1);
    for bad in [
        "",
        ".foo..foo",
        "foo/foo",
        "foo/..",
        "foo..foo",
        "foo.-boo",
        "-foo.boo",
        "foo.boo-",
        "but__only_tasteful_underscores",
        "zn--e9.org",
        "default--default",
        long.as_str(),
        "..",
        ".",
        "a b",
        "é",
    ] {
        assert!(validate_identifier(bad.as_bytes()).is_err(), "{bad:?}");
    }
    assert_eq!(validate_identifier(b""), Err(IdentifierError::Empty));
    assert_eq!(
        validate_identifier(long.as_bytes()),
        Err(IdentifierError::TooLong(77))
    );
    assert_eq!(
        validate_identifier(b"ab-"),
        Err(IdentifierError::Malformed(2))
    );
    assert_eq!(
        validate_identifier(b"a/b"),
        Err(IdentifierError::Malformed(1))
    );
    assert_eq!(
        validate_identifier(b"a\xff"),
        Err(IdentifierError::Malformed(1))
    );
}

#[test]
fn stat_fields_counted_from_the_last_paren() {
    // A command name with spaces and parentheses, as `/proc/<pid>/stat` shows it.
    let line = b"4242 (evil) S 1 2 3 (x) R 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 0\n";
    assert_eq!(parse_stat(line), Some((b'R', 987654)));
    let line = b"1 (systemd) S 0 1 1 0 -1 4194560 53396 1449093 112 2271 146 112 3396 1326 20 0 1 0 7 22708224 3233\n";
    assert_eq!(parse_stat(line), Some((b'S', 7)));
    assert_eq!(parse_stat(b"1 (x) S 0 1"), None);
    assert_eq!(parse_stat(b"no paren"), None);
    assert_eq!(
        parse_uptime("12345.67 999.00\n"),
        Some(Duration::from_millis(12_345_670))
    );
    assert_eq!(parse_uptime("x"), None);
    assert_eq!(parse_uptime("-1 2"), None);
}

#[test]
fn mountinfo_mount_point_with_escapes() {
    let line = br"36 35 98:0 /mnt1 /run/containerd/io.containerd.runtime.v2.task/k8s.io/a\040b/rootfs rw,noatime master:1 - overlay overlay rw,lowerdir=/x";
    assert_eq!(
        mount_point(line),
        Some(PathBuf::from(
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/a b/rootfs"
        ))
    );
    assert_eq!(
        mount_point(br"1 2 0:1 / /a\134b\011c\012d rw - tmpfs t rw"),
        Some(PathBuf::from("/a\\b\tc\nd"))
    );
    // Not an escape: kept as is.
    assert_eq!(
        mount_point(br"1 2 0:1 / /a\9z\400 rw - tmpfs t rw"),
        Some(PathBuf::from(r"/a\9z\400"))
    );
    assert_eq!(mount_point(b"1 2 0:1 /\n"), None);
    let mounts = [
        PathBuf::from("/run/x/ns/id1/rootfs"),
        PathBuf::from("/run/x/ns/id10"),
        PathBuf::from("/run/x/ns/id1"),
        PathBuf::from("/"),
    ];
    // Component-wise: `id10` is not under `id1`; `/` is above, not under.
    assert_eq!(
        under(&mounts, Path::new("/run/x/ns/id1")),
        [mounts[0].clone(), mounts[2].clone()]
    );
}

#[test]
fn bundle_from_path() {
    let b = Bundle::from_path(Path::new(
        "/run/containerd/io.containerd.runtime.v1.linux/moby/abc",
    ))
    .unwrap();
    assert_eq!(
        (b.namespace.as_str(), b.id.as_str(), b.kind),
        ("moby", "abc", TaskKind::V1)
    );
    assert_eq!(
        b.log_json(),
        Path::new("/run/containerd/io.containerd.runtime.v1.linux/moby/abc/log.json")
    );
    let b = Bundle::from_path(Path::new("ns/id")).unwrap();
    assert_eq!(b.kind, TaskKind::V2);
    for bad in ["/x/ns/.id", "/x/n..s/id", "id", "/x/ns/id/.."] {
        let e = Bundle::from_path(Path::new(bad)).unwrap_err();
        assert!(e.to_string().contains("not a bundle path"), "{bad}: {e}");
    }
}
