#!/usr/bin/env bash
# Installs what compbench needs beyond a Rust toolchain, on Debian/Ubuntu:
#   - dataset-fashion-mnist: the real dataset (under /usr/share/datasets/fashion-mnist);
#   - chromium: only for the report's headless browser test;
#   - python3-numpy: the external-method example (plugins/weight-sharing/, numpy only). When the
#     `python3` on PATH is not the system one (pyenv, a venv), numpy goes into it with pip.
# Without root it falls back to `compbench data fetch`, which unpacks the dataset package into ./data.
set -euo pipefail

need=()
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
python3 -c 'import numpy' >/dev/null 2>&1 || need+=(python3-numpy)

# The plugin manifest runs whatever `python3` is first on PATH; make sure that one has numpy.
python_numpy() {
    python3 -c 'import numpy' >/dev/null 2>&1 && return 0
    [ "$(command -v python3)" = /usr/bin/python3 ] && return 0 # apt's python3-numpy covers it
    echo "setup: $(command -v python3) has no numpy; installing it with pip"
    python3 -m pip install --quiet numpy
}

if [ ${#need[@]} -eq 0 ]; then
    echo "setup: no system package to install"
elif [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    sudo apt-get update -qq
    sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
else
    echo "setup: not root; run 'sudo apt-get install ${need[*]}'," >&2
    echo "       or 'cargo run --release --bin compbench -- data fetch' to unpack the dataset into ./data" >&2
fi

if command -v python3 >/dev/null 2>&1; then python_numpy; fi
