#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release) with all cores.
#   release, debug  the whole project against pip's torch (installer/bootstrap-torch.sh: the CUDA
#                   build where there is an NVIDIA GPU, else the CPU build; RLHF_TORCH_VARIANT forces)
#   asan            the parsers under AddressSanitizer + UBSan, no LibTorch
#   cuda            the CLI and every core library against pip's CUDA torch and the system CUDA
#                   toolkit (no Qt, no tests): compiles the CUDA build without needing a GPU
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
# ccache: paths relative to the checkout and no working-directory hashing, so another clone of
# the same sources (a CI checkout) reuses the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1 CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
torch_args=()
case "$preset" in
  asan) ;;
  cuda) torch_args=(-DRLHF_TORCH_PYTHON="$(installer/bootstrap-torch.sh cuda)") ;;
  *) torch_args=(-DRLHF_TORCH_PYTHON="$(installer/bootstrap-torch.sh)") ;;
esac
mkdir -p build
log="build/configure-$preset.log"
if ! cmake --preset "$preset" "${torch_args[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  echo "build.sh: configuring preset '$preset' failed (log above, also in $log)" >&2
  exit 1
fi
grep -E "^-- (LibTorch|core/dist)" "$log" | sed "s/^-- /build.sh [$preset]: /" || true
cmake --build --preset "$preset" -j "$(nproc)"
if [[ "$preset" == cuda ]]; then
  # Proof that the CLI is the CUDA build: its libtorch_cuda dependency.
  echo "build.sh [cuda]: build/cuda/app/rlhf/rlhf needs: $(readelf -d build/cuda/app/rlhf/rlhf | grep -o 'libtorch[a-z_]*\.so' | sort -u | tr '\n' ' ')"
fi
