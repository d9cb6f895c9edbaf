//! The small parsers every subcommand uses: RFC 3339 times (`ctrlog::time`) and sizes
//! (`ctrlog::size`), against Go's own results.

mod serde_round_trip;
mod size_go_units;
mod time_golden;
