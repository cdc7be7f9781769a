#!/usr/bin/env bash
# Every test: formatting, lints, unit and fabric tests (Verilator), and the
# VFIO proof in a QEMU guest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh
export PATH="$HOME/.local/bin:$PATH"
cargo fmt --all --check
cargo test --release --workspace
bash driver/vfio/qemu/run.sh
