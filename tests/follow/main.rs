//! Following (`LogReader::follow`, `ctrlog logs -f`): one test binary, one module per topic.
//! Run one module with `cargo test --all-features --test follow window::`.

mod load;
mod open;
mod step;
mod window;
