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
