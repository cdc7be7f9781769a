#!/usr/bin/env bash
# Every test: formatting, lints, unit and fabric tests (Verilator), the open
# ECP5 flow on the router and the 2x2 mesh (bitstreams/flow/tests/flow.rs,
# about 5 minutes), the waveform build, and the VFIO proof in a QEMU guest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh
bash scripts/ensure-fpga-tools.sh
export PATH="$HOME/.local/bin:$PATH"
step() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
step fmt
cargo fmt --all --check
# Clippy links nothing, so the bridge's build script skips the Verilator
# models under it (verilator-tests/sim/build.rs, "check-only").
step clippy
cargo clippy --workspace --all-targets --release -- -D warnings
step test
cargo test --release --workspace
# VCD tracing is a feature of the bridge: a small traced model, built beside
# the untraced ones (a feature set of its own, so nothing else rebuilds).
step trace
REPLIMESH_MESHES=2x2:64 REPLIMESH_CARDS= \
    cargo test --release -p replimesh-sim --features trace --test trace
step vfio
bash driver/vfio/qemu/run.sh
step done
