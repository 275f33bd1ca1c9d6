#!/usr/bin/env bash
# Installs, builds and runs every test: the release build (all labels) and the asan build
# (AddressSanitizer + UBSan over the parsers: io, text, data, store), and compiles the CUDA build
# of the CLI (no GPU needed). Prints CTest's summaries.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
installer/bootstrap-debian12.sh --tests
tests/tools/fetch-reference-files.sh
installer/build.sh release
installer/build.sh asan
# The CUDA build (pip's CUDA torch + the system CUDA toolkit) of the CLI and every core library:
# compiled, not run, so a CUDA-only compile error fails here. CI always builds it; elsewhere it
# needs nvcc (RLHF_SKIP_CUDA_BUILD=1 skips it).
if [[ "${RLHF_SKIP_CUDA_BUILD:-0}" != 1 ]] && { [[ -n "${CI:-}" ]] || command -v nvcc >/dev/null 2>&1; }; then
  installer/build.sh cuda
else
  echo "run-tests.sh: no CUDA toolkit (nvcc): the CUDA build is not compiled"
fi
status=0
ctest --preset release || status=1
ctest --preset asan || status=1
exit $status
