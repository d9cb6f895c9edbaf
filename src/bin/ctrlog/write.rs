//! Placeholder: filled in by this subcommand's issue.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    crate::fail("this subcommand is not implemented yet")
}
