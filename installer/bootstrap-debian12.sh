#!/usr/bin/env bash
# Installs what RLHF Workbench needs on Debian 12 (bookworm), non-interactively; only the
# packages that are missing. Usage: installer/bootstrap-debian12.sh [--tests]
#   --tests  also what the test set-up needs (npm, to fetch reference tokenizer files; Xvfb)
set -euo pipefail

packages=(build-essential cmake ninja-build ccache pkg-config git
          qt6-base-dev libqcustomplot-dev libtorch-dev libsqlite3-dev nlohmann-json3-dev
          libpcre2-dev libutf8proc-dev zlib1g-dev libyaml-cpp-dev libopenblas0-openmp
          libgloo-dev qt6-qpa-plugins libgl-dev libxkbcommon-dev xvfb)
# libgloo-dev: the headers of the Gloo library that Debian's LibTorch was built with, needed to
# compile core/dist (c10d ProcessGroupGloo). python3-torch (optional, not installed here) is only
# for `rlhf bench train`'s comparison with the same step in PyTorch Python.
if [[ "${1:-}" == "--tests" ]]; then
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "bootstrap: all packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "bootstrap: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
