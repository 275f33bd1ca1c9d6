#!/usr/bin/env bash
# GPU checks of issue 12 item 6 on a machine that has a GPU, Python with PyTorch (CUDA), CMake,
# ninja and nvcc, but no Qt, no Debian -dev packages and no network. Two halves:
#
#   installer/gpu-check.sh --prepare DIR
#       HERE, on a Debian 12 machine with network: apt-get download the .deb files the CLI build
#       needs (headers, CMake/pkg-config files, the runtime libraries they point at, and pkgconf)
#       into DIR, with a SHA256SUMS. Put DIR inside the checkout's ignored build/ area (e.g.
#       build/gpu-debs) and carry it to the GPU machine with the working tree.
#   installer/gpu-check.sh [--no-gpu] [--build-dir B] DIR
#       THERE: unpack DIR's .deb files into B/prefix (dpkg-deb -x, or ar + tar without dpkg),
#       configure the CLI only (RLHF_BUILD_GUI=OFF, RLHF_BUILD_TESTS=OFF) against that prefix and
#       the Python's torch (RLHF_TORCH_PYTHON), TORCH_CUDA_ARCH_LIST=9.0, build the `rlhf` target
#       with all cores, then run and print:
#         rlhf version; rlhf check --device cuda;
#         rlhf bench train (SFT, GPT-2 124M shape: MFU; PPO; SFT on a Qwen2.5-0.5B shape, saved);
#         rlhf bench generate on that Qwen2.5-0.5B shape in bf16 (decode at batch 1 and 16);
#         the same SFT step and decode loop in plain PyTorch (no transformers) on the same GPU;
#         a summary: MFU and decode's fraction of the HBM-bandwidth ceiling, ours and PyTorch's.
#       --configure-only stops after configuring (a check of the prefix and the torch CMake files).
#       --no-gpu skips the CUDA runs and runs the CPU ones instead (rlhf check --device cpu, tiny
#       benches, the Python script on tiny shapes): to test this script on a machine without a GPU.
#       Logs go to B/logs/; B defaults to build/gpu-check in the checkout (kept between runs, so a
#       second run only rebuilds what changed).
#
# Environment: PYTHON (default: python3 on PATH; must import torch), JOBS (default: nproc),
# TORCH_CUDA_ARCH_LIST (default 9.0: the H100/H200 the checks run on).
# Budget: under 8 minutes on a 16-core H100 machine (the build is most of it). docs/gpu.md says
# what each figure means.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

# What the CLI build needs from Debian (installer/bootstrap-debian12.sh's list minus Qt, the
# compilers and CMake): the -dev packages, the runtime libraries their .so links point at, and
# pkgconf (CMake's pkg_check_modules needs a pkg-config; the GPU machine may have none).
# libgloo-dev: headers only (c10d's ProcessGroupGloo.hpp), never linked, so not libgloo0.
dev_packages=(nlohmann-json3-dev libsqlite3-dev libpcre2-dev libutf8proc-dev zlib1g-dev libyaml-cpp-dev libgloo-dev)
runtime_packages=(libsqlite3-0 libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3 libutf8proc2 zlib1g libyaml-cpp0.7)
tool_packages=(pkgconf pkgconf-bin libpkgconf3)

log() { printf '[gpu-check %4ds] %s\n' "$SECONDS" "$*"; }
die() { printf 'gpu-check: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------------------------------------
if [[ "${1:-}" == "--prepare" ]]; then
  [[ $# -eq 2 ]] || die "usage: installer/gpu-check.sh --prepare DIR"
  mkdir -p "$2"
  dir="$(cd "$2" && pwd)"
  cd "$dir"
  rm -f ./*.deb SHA256SUMS
  all=("${dev_packages[@]}" "${runtime_packages[@]}" "${tool_packages[@]}")
  if ! apt-get download "${all[@]}" 2>apt.log; then
    log "apt-get download failed; refreshing the package lists once"
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    apt-get download "${all[@]}" 2>apt.log || { cat apt.log >&2; die "apt-get download failed"; }
  fi
  rm -f apt.log
  for f in ./*%3a*.deb; do  # epochs are URL-encoded in the file names ("1%3a1.2.13"): plain names travel better
    [[ -e "$f" ]] && mv "$f" "${f//%3a/.}"
  done
  sha256sum ./*.deb >SHA256SUMS
  n=$(ls ./*.deb | wc -l)
  [[ $n -eq ${#all[@]} ]] || die "expected ${#all[@]} .deb files, got $n"
  log "$n .deb files, $(du -sh . | cut -f1), in $dir:"
  ls -1 ./*.deb | sed 's|^\./|  |'
  exit 0
fi

# ------------------------------------------------------------------------------------------------
gpu=1
configure_only=0
build=""
while [[ $# -gt 1 ]]; do
  case "$1" in
    --no-gpu) gpu=0; shift ;;
    --configure-only) configure_only=1; shift ;;
    --build-dir) build="$2"; shift 2 ;;
    *) die "unknown option $1 (usage: installer/gpu-check.sh [--no-gpu] [--configure-only] [--build-dir B] DIR)" ;;
  esac
done
[[ $# -eq 1 ]] || die "usage: installer/gpu-check.sh [--no-gpu] [--build-dir B] DIR | --prepare DIR"
debs="$(cd "$1" && pwd)"
build="${build:-$repo/build/gpu-check}"
mkdir -p "$build/logs"
build="$(cd "$build" && pwd)"
prefix="$build/prefix"
logs="$build/logs"
py="${PYTHON:-$(command -v python3 || true)}"
jobs="${JOBS:-$(nproc)}"
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
failures=()

# ---- unpack
log "unpacking $(ls "$debs"/*.deb | wc -l) .deb files into $prefix"
[[ -f "$debs/SHA256SUMS" ]] && (cd "$debs" && sha256sum --quiet -c SHA256SUMS) || die "$debs: missing or bad SHA256SUMS"
rm -rf "$prefix"
mkdir -p "$prefix"
for deb in "$debs"/*.deb; do
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$deb" "$prefix"
  else  # no dpkg: a .deb is an ar archive holding data.tar.{xz,zst,gz}
    tmp="$(mktemp -d)"
    (cd "$tmp" && ar x "$deb" && tar -xf data.tar.* -C "$prefix")
    rm -rf "$tmp"
  fi
done
arch="$(gcc -print-multiarch 2>/dev/null || true)"
arch="${arch:-$(uname -m)-linux-gnu}"
libdir="$prefix/usr/lib/$arch"
[[ -f "$libdir/libyaml-cpp.so" ]] || die "unpacked prefix has no $libdir/libyaml-cpp.so"

# pkg-config files with the prefix written in (they say prefix=/usr), and a pkg-config.
mkdir -p "$prefix/pkgconfig" "$prefix/bin"
for pc in "$libdir"/pkgconfig/*.pc "$prefix"/usr/share/pkgconfig/*.pc; do
  [[ -f "$pc" ]] && sed -e "s|^prefix=/usr\$|prefix=$prefix/usr|" "$pc" >"$prefix/pkgconfig/$(basename "$pc")"
done
pkg_config="$(command -v pkg-config || true)"
if [[ -z "$pkg_config" ]]; then
  pkg_config="$prefix/bin/pkg-config"
  printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s" "$@"\n' \
    "$libdir" "$prefix/usr/bin/pkgconf" >"$pkg_config"
  chmod +x "$pkg_config"
fi
export PKG_CONFIG_PATH="$prefix/pkgconfig"
PKG_CONFIG_PATH="$prefix/pkgconfig" "$pkg_config" --cflags libpcre2-8 libutf8proc | grep -q "$prefix" ||
  die "pkg-config does not find libpcre2-8/libutf8proc in $prefix/pkgconfig"

# ---- Python's torch
[[ -n "$py" ]] || die "no python3 on PATH (set PYTHON)"
"$py" - <<'EOF' || die "$py cannot import torch"
import torch
print(f"python torch {torch.__version__} (CUDA {torch.version.cuda}), cuda available: {torch.cuda.is_available()}"
      + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""))
EOF
if ((gpu && !configure_only)); then
  "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || die "torch sees no CUDA device (use --no-gpu?)"
fi

# A CUDA wheel's headers (ATen/cuda/CUDAContext.h) include cuBLAS/cuSPARSE/cuDNN headers; a
# minimal toolkit lacks them, and pip's nvidia-* packages next to torch ship them.
extra_flags="-isystem $prefix/usr/include"
nvcc_include="$(dirname "$(dirname "$(command -v nvcc 2>/dev/null || echo /nonexistent/bin/nvcc)")")/include"
if [[ ! -f "$nvcc_include/cublas_v2.h" || ! -f "$nvcc_include/cusparse.h" ]]; then
  for d in $("$py" -c "import glob, os, torch; sp = os.path.dirname(os.path.dirname(torch.__file__)); print(' '.join(sorted(glob.glob(sp + '/nvidia/*/include'))))"); do
    extra_flags+=" -isystem $d"
  done
fi

# ---- configure and build the CLI
log "configuring in $build/cmake (torch from $py, TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST)"
cmake -S "$repo" -B "$build/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DRLHF_BUILD_GUI=OFF -DRLHF_BUILD_TESTS=OFF -DRLHF_TORCH_PYTHON="$py" \
  -DTORCH_CUDA_ARCH_LIST="$TORCH_CUDA_ARCH_LIST" \
  -DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_LIBRARY_PATH="$libdir" -DCMAKE_INCLUDE_PATH="$prefix/usr/include" \
  -DPKG_CONFIG_EXECUTABLE="$pkg_config" \
  -Dnlohmann_json_DIR="$prefix/usr/share/cmake/nlohmann_json" -Dyaml-cpp_DIR="$libdir/cmake/yaml-cpp" \
  -DSQLite3_INCLUDE_DIR="$prefix/usr/include" -DSQLite3_LIBRARY="$libdir/libsqlite3.so" \
  -DZLIB_INCLUDE_DIR="$prefix/usr/include" -DZLIB_LIBRARY="$libdir/libz.so" \
  -DRLHF_GLOO_INCLUDE_DIR="$prefix/usr/include" \
  -DCMAKE_CXX_FLAGS="$extra_flags" >"$logs/configure.log" 2>&1 || { tail -40 "$logs/configure.log"; die "configure failed ($logs/configure.log)"; }
grep -E "LibTorch|NCCL|CUDA" "$logs/configure.log" | grep -v "^--   " | head -8 || true
if ((configure_only)); then
  log "configured ($logs/configure.log); --configure-only: stopping here"
  exit 0
fi
log "building rlhf with -j$jobs"
cmake --build "$build/cmake" --target rlhf -j "$jobs" >"$logs/build.log" 2>&1 || { grep -E "error|Error" "$logs/build.log" | head -30; die "build failed ($logs/build.log)"; }
rlhf="$build/cmake/app/rlhf/rlhf"
log "built $rlhf"
ldd "$rlhf" | grep -E "torch_cuda|yaml-cpp|utf8proc|pcre2|sqlite" | sed 's/^\s*/  /' || true

# ---- runs: each under a timeout, its output shown and kept; a failure is noted, the rest run
run() {  # run NAME SECONDS CMD...
  local name="$1" limit="$2"
  shift 2
  log "$name: $*"
  set +e
  timeout "$limit" "$@" 2>&1 | tee "$logs/$name.log"
  local rc=${PIPESTATUS[0]}
  set -e
  ((rc == 0)) || { failures+=("$name (exit $rc)"); log "$name: exit $rc"; }
}

"$rlhf" version | tee "$logs/version.log"
"$rlhf" version --json >"$logs/version.json"
model_dir="$build/qwen2.5-0.5b-random"
pycheck="$build/pytorch_reference.py"
sed -n "/^: <<'PYTHON'\$/,/^PYTHON\$/p" "$0" | sed '1d;$d' >"$pycheck"
if ((gpu)); then
  run check 240 "$rlhf" check --device cuda
  run train_sft_gpt2 180 "$rlhf" bench train --algo sft --random gpt2-124m --device cuda --batch 16 --prompt-len 512 --response-len 512 --steps 8
  run train_ppo_gpt2 180 "$rlhf" bench train --algo ppo --random gpt2-124m --device cuda --batch 16 --prompt-len 128 --response-len 128 --steps 3 --ppo-epochs 1
  run train_sft_qwen 180 "$rlhf" bench train --algo sft --random qwen2.5-0.5b --device cuda --batch 4 --prompt-len 256 --response-len 256 --steps 4 --save "$model_dir"
  run generate_qwen 240 "$rlhf" bench generate --model "$model_dir" --device cuda --dtype bf16 --prompt-len 128 --new-tokens 128
  run pytorch_train 180 "$py" "$pycheck" train --shape gpt2-124m --device cuda --batch 16 --seq-len 1024 --steps 8
  run pytorch_decode 180 "$py" "$pycheck" decode --shape qwen2.5-0.5b --device cuda --prompt-len 128 --new-tokens 128
else
  run check 240 "$rlhf" check --device cpu
  run train_sft_gpt2 180 "$rlhf" bench train --algo sft --random gpt2 --device cpu --batch 2 --prompt-len 16 --response-len 16 --steps 3 --threads 1
  run train_ppo_gpt2 180 "$rlhf" bench train --algo ppo --random gpt2 --device cpu --batch 2 --prompt-len 8 --response-len 8 --steps 2 --ppo-epochs 1 --threads 1
  run train_sft_qwen 180 "$rlhf" bench train --algo sft --random qwen2 --device cpu --batch 2 --prompt-len 16 --response-len 16 --steps 2 --threads 1 --save "$model_dir"
  run generate_qwen 240 "$rlhf" bench generate --model "$model_dir" --device cpu --prompt-len 16 --new-tokens 8 --threads 1 --model-only
  run pytorch_train 180 "$py" "$pycheck" train --shape gpt2-tiny --device cpu --batch 2 --seq-len 32 --steps 3
  run pytorch_decode 180 "$py" "$pycheck" decode --shape qwen2-tiny --device cpu --prompt-len 16 --new-tokens 8
fi
if ((gpu)); then
  "$py" "$pycheck" summary --logs "$logs" | tee "$logs/summary.log" || failures+=("summary")
else
  "$py" "$pycheck" summary --logs "$logs" --decode-shape qwen2-tiny --prompt-len 16 --new-tokens 8 |
    tee "$logs/summary.log" || failures+=("summary")
fi

if ((${#failures[@]})); then
  log "FAILED: ${failures[*]} (logs in $logs)"
  exit 1
fi
log "all runs finished in ${SECONDS} s (logs in $logs)"
exit 0

# ---- pytorch_reference.py (written next to the build and run with the machine's Python)
: <<'PYTHON'
"""Plain PyTorch (no transformers) next to `rlhf bench train` and `rlhf bench generate`, and the
summary of installer/gpu-check.sh. Same shapes, random weights, the same LibTorch kernels:

  train:  one SFT step as core/train's SftTask + Trainer do it: forward over B x L tokens under
          bf16 autocast (CUDA) over fp32 weights, token-mean cross-entropy over the response half
          in fp32, backward, clip_grad_norm_(1.0), AdamW (torch's default implementation), zero_grad.
  decode: greedy decoding through a preallocated KV cache with bf16 weights (CUDA), the argmax
          fed back on the device: no host synchronisation inside the loop.
  summary: reads the logs of the runs and prints MFU and decode's share of the HBM ceiling.

MFU = model FLOPs/s / the GPU's dense bf16 peak, model FLOPs per token = 6*N + 12*layers*heads*
head_dim*L (PaLM appendix B), N = parameters of the matmuls (all but GPT-2's position table).
HBM ceiling of a decode step: bytes that must be read / bandwidth, bytes = the bf16 weights
(2 bytes x parameters; a tied embedding is read once, as the LM head) + the K and V cache read
(2 x layers x kv_heads x head_dim x 2 bytes x context x batch).
B = batch, L = sequence length, C = hidden, H = heads, Hkv = kv heads, D = head dim, V = vocab.
"""
import argparse
import glob
import json
import math
import os
import re
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {  # tied embeddings throughout, as the originals and `rlhf bench train --random`
    "gpt2-124m": dict(kind="gpt2", C=768, L=12, H=12, Hkv=12, I=3072, V=50257, P=1024, eps=1e-5),
    "qwen2.5-0.5b": dict(kind="qwen2", C=896, L=24, H=14, Hkv=2, I=4864, V=151936, P=32768, eps=1e-6, theta=1e6),
    "gpt2-tiny": dict(kind="gpt2", C=128, L=2, H=4, Hkv=4, I=512, V=2048, P=1024, eps=1e-5),
    "qwen2-tiny": dict(kind="qwen2", C=128, L=2, H=4, Hkv=2, I=344, V=2048, P=1024, eps=1e-6, theta=1e4),
}
# Dense bf16 tensor-core TFLOP/s and HBM TB/s from NVIDIA's data sheets, matched in order.
GPUS = [  # (name has, and has, bf16 TFLOP/s, HBM TB/s)
    ("H100", "PCIe", 756.0, 2.0), ("H100", "NVL", 835.0, 3.9), ("H100", "", 989.0, 3.35),
    ("H200", "", 989.0, 4.8), ("A100", "40GB", 312.0, 1.555), ("A100", "", 312.0, 2.039),
]


def gpu_figures(name):
    for a, b, tflops, tbs in GPUS:
        if a in name and b in name:
            return tflops, tbs
    return None, None


class Block(nn.Module):
    def __init__(self, s):
        super().__init__()
        C, H, Hkv, I = s["C"], s["H"], s["Hkv"], s["I"]
        self.gpt2 = s["kind"] == "gpt2"
        self.H, self.Hkv, self.D = H, Hkv, C // H
        Norm = nn.LayerNorm if self.gpt2 else nn.RMSNorm
        self.ln1, self.ln2 = Norm(C, eps=s["eps"]), Norm(C, eps=s["eps"])
        self.qkv = nn.Linear(C, (H + 2 * Hkv) * self.D, bias=True)  # GPT-2 c_attn; Qwen2 q/k/v with bias
        self.o = nn.Linear(C, C, bias=self.gpt2)
        if self.gpt2:
            self.up, self.down = nn.Linear(C, I), nn.Linear(I, C)
        else:
            self.gate_up, self.down = nn.Linear(C, 2 * I, bias=False), nn.Linear(I, C, bias=False)

    def forward(self, x, rope, cache, pos):  # x: (B, T, C)
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split([self.H * self.D, self.Hkv * self.D, self.Hkv * self.D], dim=-1)
        q = q.view(B, T, self.H, self.D).transpose(1, 2)      # (B, H, T, D)
        k = k.view(B, T, self.Hkv, self.D).transpose(1, 2)    # (B, Hkv, T, D)
        v = v.view(B, T, self.Hkv, self.D).transpose(1, 2)
        if rope is not None:
            cos, sin = rope  # (T, D)
            rot = lambda t: torch.cat([-t[..., self.D // 2:], t[..., : self.D // 2]], dim=-1)
            q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        if cache is not None:  # write positions [pos, pos+T), attend to [0, pos+T)
            kc, vc = cache
            kc[:, :, pos:pos + T] = k
            vc[:, :, pos:pos + T] = v
            k, v = kc[:, :, :pos + T], vc[:, :, :pos + T]
        if self.Hkv != self.H:
            k, v = k.repeat_interleave(self.H // self.Hkv, 1), v.repeat_interleave(self.H // self.Hkv, 1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)  # decode: one query sees all
        x = x + self.o(y.transpose(1, 2).reshape(B, T, C))
        h = self.ln2(x)
        if self.gpt2:
            return x + self.down(F.gelu(self.up(h), approximate="tanh"))
        g, u = self.gate_up(h).chunk(2, dim=-1)
        return x + self.down(F.silu(g) * u)


class LM(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        self.wte = nn.Embedding(s["V"], s["C"])
        self.wpe = nn.Embedding(s["P"], s["C"]) if s["kind"] == "gpt2" else None
        self.blocks = nn.ModuleList(Block(s) for _ in range(s["L"]))
        self.ln_f = (nn.LayerNorm if s["kind"] == "gpt2" else nn.RMSNorm)(s["C"], eps=s["eps"])
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)
        if s["kind"] != "gpt2":
            D = s["C"] // s["H"]
            self.register_buffer("inv_freq", 1.0 / s["theta"] ** (torch.arange(0, D, 2).float() / D), persistent=False)

    def forward(self, ids, caches=None, pos=0):  # ids: (B, T) -> logits (B, T, V)
        T = ids.shape[1]
        x = self.wte(ids)
        rope = None
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(pos, pos + T, device=ids.device))
        else:
            f = torch.outer(torch.arange(pos, pos + T, device=ids.device).float(), self.inv_freq)
            f = torch.cat([f, f], dim=-1)
            rope = (f.cos().to(x.dtype), f.sin().to(x.dtype))
        for i, b in enumerate(self.blocks):
            x = b(x, rope, None if caches is None else caches[i], pos)
        return self.ln_f(x) @ self.wte.weight.t()  # tied LM head


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def matmul_params(model):
    return sum(p.numel() for p in model.parameters()) - (model.wpe.weight.numel() if model.wpe is not None else 0)


def cmd_train(a):
    dev, s = torch.device(a.device), SHAPES[a.shape]
    torch.manual_seed(0)
    model = LM(s).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    ids = torch.randint(0, s["V"], (a.batch, a.seq_len), device=dev)
    half = a.seq_len // 2  # the prompt half is not trained on, as in the SFT bench

    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model(ids)  # (B, L, V): every position, as the SFT bench
        loss = F.cross_entropy(logits[:, half - 1:-1].float().reshape(-1, s["V"]), ids[:, half:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()  # warm-up: allocator, cuBLAS, the optimizer's state
    sync(dev)
    t0 = time.perf_counter()
    for _ in range(a.steps - 1):
        step()
    sync(dev)
    dt = (time.perf_counter() - t0) / (a.steps - 1)
    n = matmul_params(model)
    flops_per_token = 6 * n + 12 * s["L"] * s["H"] * (s["C"] // s["H"]) * a.seq_len
    out = dict(bench="train", impl=f"pytorch {torch.__version__}", shape=a.shape, device=str(dev), batch=a.batch,
               seq_len=a.seq_len, params=sum(p.numel() for p in model.parameters()), seconds_per_step=dt,
               positions_per_second=a.batch * a.seq_len / dt, flops_per_token=flops_per_token,
               model_tflops_per_second=flops_per_token * a.batch * a.seq_len / dt / 1e12)
    if dev.type == "cuda":
        peak, _ = gpu_figures(torch.cuda.get_device_name(dev))
        out["device_name"] = torch.cuda.get_device_name(dev)
        if peak:
            out["peak_bf16_tflops"], out["mfu"] = peak, out["model_tflops_per_second"] / peak
    print(json.dumps(out), flush=True)


@torch.no_grad()
def cmd_decode(a):
    dev, s = torch.device(a.device), SHAPES[a.shape]
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    torch.manual_seed(0)
    model = LM(s).to(dev, dtype).eval()
    D, total = s["C"] // s["H"], a.prompt_len + a.new_tokens
    for batch in (1, 16):
        caches = [(torch.zeros(batch, s["Hkv"], total, D, device=dev, dtype=dtype),
                   torch.zeros(batch, s["Hkv"], total, D, device=dev, dtype=dtype)) for _ in range(s["L"])]
        ids = torch.randint(0, s["V"], (batch, a.prompt_len), device=dev)
        model(ids[:, :8], caches, 0)  # warm-up
        sync(dev)
        t0 = time.perf_counter()
        nxt = model(ids, caches, 0)[:, -1:].argmax(-1)  # prefill: (B, 1)
        sync(dev)
        t1 = time.perf_counter()
        out = [nxt]
        for i in range(1, a.new_tokens):
            nxt = model(nxt, caches, a.prompt_len + i - 1)[:, -1:].argmax(-1)
            out.append(nxt)
        torch.cat(out, 1).cpu()  # the only host read
        t2 = time.perf_counter()
        ms = 1000 * (t2 - t1) / (a.new_tokens - 1)
        rec = dict(bench="decode", impl=f"pytorch {torch.__version__}", shape=a.shape, device=str(dev),
                   dtype=str(dtype).replace("torch.", ""), batch=batch, prompt_len=a.prompt_len,
                   new_tokens=a.new_tokens, prefill_s=t1 - t0, ms_per_step=ms,
                   tokens_per_second=batch * 1000 / ms, params=sum(p.numel() for p in model.parameters()))
        print(json.dumps(rec), flush=True)


def hbm_fraction(shape, params, batch, prompt_len, new_tokens, ms_per_step, tbs, bytes_per=2):
    s = SHAPES[shape]
    D = s["C"] // s["H"]
    context = prompt_len + new_tokens / 2  # mean context over the decode
    kv = 2 * s["L"] * s["Hkv"] * D * bytes_per * context * batch
    ceiling_ms = (bytes_per * params + kv) / (tbs * 1e12) * 1e3
    return ceiling_ms / ms_per_step, ceiling_ms


def json_lines(path):
    out = []
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def cmd_summary(a):
    L = lambda n: os.path.join(a.logs, n + ".log")
    name = ""
    try:
        v = json.load(open(os.path.join(a.logs, "version.json")))
        cuda = [d for d in v["devices"] if d["type"] == "cuda"]
        name = cuda[0].get("name", "") if cuda else ""
        print(f"== summary: rlhf {v['rlhf']}, LibTorch {v['torch']}, CUDA {v['cuda_version']}, {name or 'no GPU'}")
    except (OSError, ValueError, KeyError, IndexError):
        print("== summary")
    peak, tbs = gpu_figures(name)
    if name:
        print(f"   {name}: dense bf16 peak {peak} TFLOP/s, HBM {tbs} TB/s" if peak else f"   {name}: not in the peak table")
    chk = open(L("check")).read() if os.path.exists(L("check")) else ""
    m = re.search(r"check: (\d+) passed, (\d+) failed", chk)
    print(m.group(0).replace("check: ", "check:  ") if m else "check:  no summary line (see logs/check.log)")
    for f in re.findall(r"^(?:FAIL|INFO) .*$", chk, re.M):
        print("  ", f)
    for log in ("train_sft_gpt2", "train_sft_qwen"):
        for r in json_lines(L(log)):
            label = "SFT " + r["model"].replace("random ", "")
            mfu = f", MFU {100 * r['mfu']:.1f}%" if "mfu" in r else ""
            print(f"train:  rlhf    {label}: B {r['batch']} L {r['seq_len']}, {r['positions_per_second']:,.0f} tok/s, "
                  f"{r['model_tflops_per_second']:.1f} TFLOP/s{mfu} (fwd {r['ms_forward']:.1f} / bwd {r['ms_backward']:.1f} / "
                  f"opt {r['ms_optimizer']:.1f} ms)")
    for r in json_lines(L("pytorch_train")):
        mfu = f", MFU {100 * r['mfu']:.1f}%" if "mfu" in r else ""
        print(f"train:  pytorch SFT {r['shape']}: B {r['batch']} L {r['seq_len']}, {r['positions_per_second']:,.0f} tok/s, "
              f"{r['model_tflops_per_second']:.1f} TFLOP/s{mfu}")
    for r in json_lines(L("train_ppo_gpt2")):
        print(f"train:  rlhf    PPO {r['model']}: B {r['batch']}, {r['tokens_per_second']:,.0f} generated tok/s, "
              f"{r['seconds_per_iteration']:.2f} s/iteration ({r['percent_generate']:.0f}% generate, "
              f"{r['percent_score']:.0f}% score, {r['percent_train']:.0f}% train)")
    # Decode: `rlhf bench generate` prints "batch  N: prefill ... | decode K tokens X tok/s (Y ms/step; ...".
    qwen = json_lines(L("train_sft_qwen"))
    params = qwen[0]["params"] if qwen else None  # the model `rlhf bench generate` loads was saved by this run
    gen = open(L("generate_qwen")).read() if os.path.exists(L("generate_qwen")) else ""
    shape = a.decode_shape
    for m in re.finditer(r"batch\s+(\d+): prefill.*?decode (\d+) tokens\s+([\d.]+) tok/s \(([\d.]+) ms/step", gen):
        batch, ms = int(m.group(1)), float(m.group(4))
        line = f"decode: rlhf    {shape} batch {batch:2d}: {ms:.2f} ms/step, {float(m.group(3)):,.0f} tok/s"
        if tbs and params:
            frac, ceil = hbm_fraction(shape, params, batch, a.prompt_len, a.new_tokens, ms, tbs)
            line += f", {100 * frac:.0f}% of the HBM ceiling ({ceil:.2f} ms/step)"
        print(line)
    if not gen:
        print("decode: rlhf    no bench generate output")
    for r in json_lines(L("pytorch_decode")):
        line = f"decode: pytorch {r['shape']} batch {r['batch']:2d}: {r['ms_per_step']:.2f} ms/step, {r['tokens_per_second']:,.0f} tok/s"
        if tbs:
            frac, ceil = hbm_fraction(r["shape"], r["params"], r["batch"], r["prompt_len"], r["new_tokens"], r["ms_per_step"], tbs)
            line += f", {100 * frac:.0f}% of the HBM ceiling ({ceil:.2f} ms/step)"
        print(line)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--shape", default="gpt2-124m", choices=SHAPES)
    t.add_argument("--device", default="cuda")
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--seq-len", type=int, default=1024)
    t.add_argument("--steps", type=int, default=8)
    d = sub.add_parser("decode")
    d.add_argument("--shape", default="qwen2.5-0.5b", choices=SHAPES)
    d.add_argument("--device", default="cuda")
    d.add_argument("--prompt-len", type=int, default=128)
    d.add_argument("--new-tokens", type=int, default=128)
    s = sub.add_parser("summary")
    s.add_argument("--logs", required=True)
    s.add_argument("--decode-shape", default="qwen2.5-0.5b", choices=SHAPES)  # of the `rlhf bench generate` run
    s.add_argument("--prompt-len", type=int, default=128)   # of the `rlhf bench generate` run
    s.add_argument("--new-tokens", type=int, default=128)
    a = p.parse_args()
    {"train": cmd_train, "decode": cmd_decode, "summary": cmd_summary}[a.cmd](a)


if __name__ == "__main__":
    main()
PYTHON
