#!/usr/bin/env bash
# One command for the KCU105 PCIe bitstream (needs Vivado 2023.2 on PATH).
# UNVERIFIED here: no Vivado on this machine; see docs/hardware.md.
#   bash bitstreams/xilinx/kcu105/build.sh [WxH]      (default 4x4, 64-bit flits)
set -euo pipefail
cd "$(dirname "$0")/../../.."
MESH="${1:-4x4}"
OUT="bitstreams/out/kcu105"
if ! command -v vivado >/dev/null 2>&1; then
    echo "build.sh: vivado not on PATH: source <Vivado 2023.2>/settings64.sh first" >&2
    exit 1
fi
mkdir -p "$OUT"
cargo run --release -p meshctl -- hw sources --mesh "$MESH" --flit-bits 64 --out "$OUT/gen"
vivado -mode batch -nojournal -log "$OUT/vivado.log" \
    -source bitstreams/xilinx/kcu105/build.tcl -tclargs "$OUT/gen" "$OUT"
sha256sum "$OUT/replimesh_kcu105.bit"
