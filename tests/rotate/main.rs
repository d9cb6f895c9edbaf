//! The rotating and plain output files (`ctrlog::rotate`): one test binary, one module per
//! topic. Run one module with `cargo test --all-features --test rotate lumberjack::`.

mod docker_kubelet;
mod faults;
mod lumberjack;
mod open;
mod ops_prop;
mod plain;
mod rotate_common;
