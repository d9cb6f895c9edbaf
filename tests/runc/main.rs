//! runc/crun log.json (`ctrlog::runc`, `runc::bundle`, `ctrlog last-error`, `summary`,
//! `scan`): one test binary, one module per topic. Run one module with
//! `cargo test --all-features --test runc rules::`. The heap-measuring tests are in
//! `tests/global_state/`.

mod bundle;
mod cap;
mod cap_race;
mod cli;
mod compat_rules;
mod prop;
mod real;
mod rules;
mod scan_cli;
