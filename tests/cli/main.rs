//! Command-line tests that span subcommands (built only with the `cli` feature). Each
//! subcommand's own CLI tests sit with its area: `cri_read/cli*.rs`, `cri_write/*cli.rs`,
//! `runc/*cli.rs`, `driver/`.

mod adversarial_issue9;
mod bench;
mod demo;
mod pods;
#[path = "../cri_read/pods_tree.rs"]
mod pods_tree;
