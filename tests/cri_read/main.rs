//! The reader (`ctrlog::cri::read`, `ctrlog logs`): one test binary, one module per topic.
//! Run one module with `cargo test --all-features --test cri_read real::`.

mod cli;
mod cli_faults;
mod faults;
mod format;
mod gzip;
mod kubelet;
mod pipe;
mod pods;
mod pods_tree;
mod prop;
mod real;
mod rotation;
mod structured;
mod tail_prop;
mod writer_prop;
mod zero_copy;
