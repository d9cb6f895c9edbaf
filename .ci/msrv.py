#!/usr/bin/env python3
"""The declared MSRV (`rust-version` in Cargo.toml) must not be lower than what any
dependency that users build (normal dependencies, all features) declares: no older toolchain
can be installed here to build with, so this is the part of an MSRV check that can run
offline. Clippy's `incompatible_msrv` lint (run with -D warnings) covers the crate's own use
of newer std APIs against the same `rust-version`."""
import json
import subprocess
import sys


def key(v):
    return tuple(int(x) for x in v.split("."))


meta = json.loads(
    subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"]
    )
)
root = next(p for p in meta["packages"] if p["id"] == meta["resolve"]["root"])
declared = root.get("rust_version")
if not declared:
    sys.exit("Cargo.toml declares no rust-version")
tree = subprocess.check_output(
    ["cargo", "tree", "-e", "normal", "--all-features", "--prefix", "none", "--format", "{p}", "--locked"],
    text=True,
)
used = {tuple(line.split()[:2]) for line in tree.splitlines() if line.strip()}
worst = [
    (p["rust_version"], p["name"], p["version"])
    for p in meta["packages"]
    if p.get("rust_version") and (p["name"], "v" + p["version"]) in used
]
too_new = [w for w in worst if key(w[0]) > key(declared)]
if too_new:
    for rv, name, version in sorted(too_new, key=lambda w: key(w[0])):
        print(f"{name} {version} needs Rust {rv}, above rust-version {declared}")
    sys.exit(1)
print(f"rust-version {declared}: every normal dependency's declared MSRV is at or below it")
