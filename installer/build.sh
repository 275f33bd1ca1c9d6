#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release) with all cores.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
# ccache: paths relative to the checkout and no working-directory hashing, so another clone of
# the same sources (a CI checkout) reuses the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1 CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
