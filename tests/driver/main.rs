//! `ctrlog` as containerd's `binary://` logging driver, run as the shim runs it (built only
//! with the `cli` feature). The real-containerd test (`e2e::`) is ignored: it needs root and
//! containerd (`cargo test --all-features --test driver e2e:: -- --ignored`).

mod cli;
mod driver_util;
mod e2e;
mod errors;
