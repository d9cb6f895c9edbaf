#!/bin/bash
# Lines lost/duplicated by `ctrlog logs -f` while `ctrlog write --max-size 64k --max-file 3`
# rotates under it, by rate (BENCHMARKS.md "Following"). The harness is the ignored test
# `follow_load_table` in tests/follow/load.rs; its module docs list the knobs:
#   CTRLOG_FOLLOW_RATES (lines/s, 0 = unthrottled), CTRLOG_FOLLOW_SECS, CTRLOG_FOLLOW_MODE=lib,
#   CTRLOG_FOLLOW_MAX_SIZE, CTRLOG_FOLLOW_MAX_FILE, CTRLOG_BIN (another ctrlog to measure).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --features cli,gzip
export CTRLOG_BIN=${CTRLOG_BIN:-$PWD/target/release/ctrlog}
export CTRLOG_FOLLOW_RATES=${CTRLOG_FOLLOW_RATES:-5000,20000,25000,30000,50000,100000,0}
echo "load: $(uptime)"
cargo test --release --all-features --test follow -- --ignored --nocapture load::follow_load_table
echo "load: $(uptime)"
