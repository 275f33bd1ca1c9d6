#!/usr/bin/env bash
# Installs, builds and opens the workbench on its bundled demo project.
set -euo pipefail
cd "$(dirname "$0")/.."
installer/bootstrap-debian12.sh
installer/build.sh release
project="${RLHF_DEMO_PROJECT:-$HOME/rlhf-demo}"
if ./build/release/app/rlhf/rlhf --help | grep -q '^  demo '; then
  [[ -f "$project/models/sft/config.json" ]] || ./build/release/app/rlhf/rlhf demo --project "$project" --force
else
  mkdir -p "$project"
fi
exec ./build/release/app/workbench/rlhf-workbench "$project"
