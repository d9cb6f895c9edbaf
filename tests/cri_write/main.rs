//! The writer (`ctrlog::cri::write`, `ctrlog write`): one test binary, one module per topic.
//! Run one module with `cargo test --all-features --test cri_write writer::`.

mod cli;
mod json;
mod prop;
mod real;
mod rotate_cli;
mod safety_cli;
mod util;
mod writer;
