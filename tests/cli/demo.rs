//! `ctrlog demo` (the README's first command) runs on embedded data and passes its checks.
#![cfg(feature = "cli")]

#[test]
fn demo_runs_and_every_check_passes() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ctrlog"))
        .arg("demo")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("FAILED"), "{text}");
    assert!(text.matches("[ok]").count() >= 5, "{text}");
    assert!(text.contains("container not running"), "{text}");
}

#[test]
fn demo_names_an_unusable_temporary_directory() {
    let bad = "/nonexistent-ctrlog-demo-tmp";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ctrlog"))
        .arg("demo")
        .env("TMPDIR", bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(bad), "{err}");
}
