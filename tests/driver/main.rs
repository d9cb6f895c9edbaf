//! `ctrlog` as containerd's `binary://` logging driver, run as the shim runs it (built only
//! with the `cli` feature). The real-containerd tests (`e2e::`) are ignored: they need root and
//! containerd (`CTRLOG_E2E_CONTAINERD=1 cargo test --all-features --test driver e2e:: --
//! --ignored`; `.ci/run` runs them).

mod cli;
mod driver_util;
mod e2e;
mod errors;
