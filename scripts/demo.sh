#!/usr/bin/env bash
# The main job: a 4x4 mesh in Verilator with checked traffic, traced paths
# and a link failure routed around. Extra arguments go to `meshctl demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh
export PATH="$HOME/.local/bin:$PATH"
cargo run --release -q -p meshctl -- demo "$@"
