#!/usr/bin/env bash
# Every test: formatting, lints, unit and fabric tests (Verilator), the open
# ECP5 flow on the router and the 2x2 mesh (bitstreams/flow/tests/flow.rs,
# about 5 minutes), and the VFIO proof in a QEMU guest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh
bash scripts/ensure-fpga-tools.sh
export PATH="$HOME/.local/bin:$PATH"
cargo fmt --all --check
cargo test --release --workspace
bash driver/vfio/qemu/run.sh
