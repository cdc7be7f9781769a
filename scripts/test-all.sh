#!/usr/bin/env bash
# Every test: formatting, lints, unit and fabric tests (Verilator), the open
# ECP5 flow on the router and the 2x2 mesh (bitstreams/flow/tests/flow.rs,
# about 5 minutes), the waveform build, and the VFIO proof in a QEMU guest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh
bash scripts/ensure-fpga-tools.sh
export PATH="$HOME/.local/bin:$PATH"
cargo fmt --all --check
cargo clippy --workspace --all-targets --release -- -D warnings
cargo test --release --workspace
# VCD tracing is a feature of the bridge: build a small traced model apart
# (its own target dir, so the main models are not rebuilt) and check a dump.
REPLIMESH_MESHES=2x2:64 CARGO_TARGET_DIR=target/trace \
    cargo test --release -p replimesh-sim --features trace --test trace
bash driver/vfio/qemu/run.sh
