#!/usr/bin/env bash
# Makes (once) a virtual environment with pip's torch, the LibTorch we build against, and prints
# the path of its Python interpreter on the last line of stdout (installer/build.sh passes it to
# CMake as RLHF_TORCH_PYTHON).
#
# Usage: installer/bootstrap-torch.sh [auto|cpu|cuda]     (default: $RLHF_TORCH_VARIANT or auto)
#   auto  the CUDA build where nvidia-smi finds an NVIDIA GPU, the CPU build otherwise
#   cpu   torch $RLHF_TORCH_CPU_VERSION (default 2.13.0), CPU-only wheel
#   cuda  torch $RLHF_TORCH_CUDA_VERSION (default 2.14.1), CUDA wheel (several GB with its
#         nvidia-* libraries); compiling against it also needs the CUDA toolkit (nvcc)
# The environment lives under the user's data folder, one per version and variant, so every
# checkout and CI clone on this machine shares it (and ccache sees the same header paths):
#   ${RLHF_TORCH_HOME:-${XDG_DATA_HOME:-~/.local/share}/rlhf-workbench}/torch-<version>-<variant>
# RLHF_TORCH_PIP_ARGS adds arguments to pip install (an index that serves the CPU-only wheel, say).
set -euo pipefail

variant="${1:-${RLHF_TORCH_VARIANT:-auto}}"
if [[ "$variant" == auto ]]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    variant=cuda
  else
    variant=cpu
  fi
fi
case "$variant" in
  cpu) version="${RLHF_TORCH_CPU_VERSION:-2.13.0}" ;;
  cuda) version="${RLHF_TORCH_CUDA_VERSION:-2.14.1}" ;;
  *) echo "bootstrap-torch: unknown variant '$variant' (auto, cpu or cuda)" >&2; exit 2 ;;
esac

home="${RLHF_TORCH_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/rlhf-workbench}"
venv="$home/torch-$version-$variant"
python="$venv/bin/python"

check() {  # prints "<torch version> <cuda compiled in>" when the environment is usable
  "$python" -c 'import torch; print(torch.__version__, torch.version.cuda is not None)' 2>/dev/null
}

if ! found=$(check) || [[ "${found%% *}" != "$version"* ]]; then
  echo "bootstrap-torch: installing torch==$version ($variant) into $venv" >&2
  for py in python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1; then break; fi
  done
  if ! "$py" -m venv --help >/dev/null 2>&1; then
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv
  fi
  rm -rf "$venv"
  mkdir -p "$home"
  "$py" -m venv "$venv"
  # shellcheck disable=SC2086  # RLHF_TORCH_PIP_ARGS is a list of words
  "$venv/bin/pip" install --quiet --disable-pip-version-check ${RLHF_TORCH_PIP_ARGS:-} "torch==$version" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  found=$(check) || { echo "bootstrap-torch: torch does not import in $venv" >&2; exit 1; }
  cuda="${found#* }"
  if [[ "$variant" == cpu && "$cuda" == True ]]; then
    echo "bootstrap-torch: note: pip installed a CUDA build of torch $version; set RLHF_TORCH_PIP_ARGS to an index with the CPU-only wheel for a smaller one" >&2
  fi
fi
echo "bootstrap-torch: torch ${found%% *} ($variant) in $venv" >&2
echo "$python"
