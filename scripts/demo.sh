#!/usr/bin/env bash
# The main job: a 4x4 mesh in Verilator with checked traffic, traced paths
# and a link failure routed around; then the replicated-service scenario on
# the 4x4 card (discovery, a replica killed, no call lost, the route, service
# and rule tables). Extra arguments go to `meshctl demo` (e.g. --json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh
export PATH="$HOME/.local/bin:$PATH"
cargo run --release -q -p meshctl -- demo "$@"
