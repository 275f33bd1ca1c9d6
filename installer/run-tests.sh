#!/usr/bin/env bash
# Installs, builds and runs every test: the release build (all labels) and the asan build
# (AddressSanitizer + UBSan over the parsers: io, text, data, store). Prints CTest's summaries.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
installer/bootstrap-debian12.sh --tests
tests/tools/fetch-reference-files.sh
installer/build.sh release
installer/build.sh asan
status=0
ctest --preset release || status=1
ctest --preset asan || status=1
exit $status
