#!/usr/bin/python3
"""The PyTorch-Python side of `rlhf bench generate`: the same greedy KV-cached decode loop written
plainly in Python (our own minimal GPT-2 and llama modules), on the same shapes, batches (1 and
16), prompt length, new tokens and thread count, printing one JSON line per batch.

Both sides run the same LibTorch kernels (Debian's python3-torch and libtorch-dev are one build),
so the ratio measures what our C++ adds or saves around them (per-op overhead, masks, copies,
cache writes), not BLAS.

    /usr/bin/python3 tests/tools/bench/generate_step.py --model DIR --prompt-len 128 --new-tokens 64 --threads 1
    /usr/bin/python3 tests/tools/bench/generate_step.py --bandwidth      # STREAM-like copy / read

What one run does, matching app/rlhf/torch_bench_generate.cpp:
  warm-up on 8 tokens; prefill (B, P) into a preallocated cache of P + N positions, LM head on the
  last position only, argmax; then N - 1 single-token steps (forward with the cache, LM head,
  argmax). No padding, so no mask: a one-token query attends to every cached key.
Weights are random (Normal(0, initializer_range)): speed does not depend on their values.
B = batch, P = prompt length, N = new tokens, C = hidden, H = heads, Hkv = kv heads, D = head dim,
S = cached positions, V = vocab.
"""
import argparse
import json
import math
import os
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def sdpa(q, k, v, causal):  # q: (B, H, T, D); k, v: (B, H, S, D)
    if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2.0
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (B, H, T, S)
    if causal:
        t, s = q.size(2), k.size(2)
        att = att.masked_fill(~torch.ones(t, s, dtype=torch.bool).tril(s - t), float("-inf"))
    return att.softmax(-1) @ v


class Cache:
    def __init__(self, layers, b, hkv, cap, d):
        self.k = [torch.zeros(b, hkv, cap, d) for _ in range(layers)]  # (B, Hkv, cap, D)
        self.v = [torch.zeros(b, hkv, cap, d) for _ in range(layers)]
        self.length = 0

    def update(self, i, k, v):  # k, v: (B, Hkv, T, D) -> views (B, Hkv, S, D)
        t = k.size(2)
        self.k[i][:, :, self.length:self.length + t] = k
        self.v[i][:, :, self.length:self.length + t] = v
        return self.k[i][:, :, :self.length + t], self.v[i][:, :, :self.length + t]


# ------------------------------------------------------------------------------------------------
# GPT-2: learned positions, pre-LN, gelu_new, tied head.

class Gpt2Block(nn.Module):
    def __init__(self, c, h, inner, eps):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(c, eps=eps), nn.LayerNorm(c, eps=eps)
        self.c_attn, self.attn_proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.c_fc, self.c_proj = nn.Linear(c, inner), nn.Linear(inner, c)
        self.h = h

    def forward(self, x, cache, i):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        k, v = cache.update(i, k, v)
        y = sdpa(q, k, v, t > 1)
        x = x + self.attn_proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["n_embd"]
        self.wte = nn.Embedding(cfg["vocab_size"], c)
        self.wpe = nn.Embedding(cfg["n_positions"], c)
        eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.blocks = nn.ModuleList([Gpt2Block(c, cfg["n_head"], cfg.get("n_inner") or 4 * c, eps)
                                     for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(c, eps=eps)
        self.shape = (cfg["n_layer"], cfg["n_head"], c // cfg["n_head"])

    def forward(self, ids, cache):  # ids: (B, T) -> hidden (B, T, C)
        pos = torch.arange(cache.length, cache.length + ids.size(1))
        x = self.wte(ids) + self.wpe(pos)
        for i, blk in enumerate(self.blocks):
            x = blk(x, cache, i)
        cache.length += ids.size(1)
        return self.ln_f(x)

    def head(self, h):
        return F.linear(h, self.wte.weight)


# ------------------------------------------------------------------------------------------------
# Llama: RMSNorm, RoPE (rotate_half), GQA, SwiGLU, tied head (as the bench's random configs).

def rms_norm(x, w, eps):
    h = x.float()
    return w * (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def rope(x, cos, sin):  # x: (B, H, T, D); cos/sin: (T, D)
    half = x.size(-1) // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin


class LlamaLayer(nn.Module):
    def __init__(self, c, h, hkv, d, inner, eps):
        super().__init__()
        self.q = nn.Linear(c, h * d, bias=False)
        self.k = nn.Linear(c, hkv * d, bias=False)
        self.v = nn.Linear(c, hkv * d, bias=False)
        self.o = nn.Linear(h * d, c, bias=False)
        self.gate = nn.Linear(c, inner, bias=False)
        self.up = nn.Linear(c, inner, bias=False)
        self.down = nn.Linear(inner, c, bias=False)
        self.n1, self.n2 = nn.Parameter(torch.ones(c)), nn.Parameter(torch.ones(c))
        self.h, self.hkv, self.d, self.eps = h, hkv, d, eps

    def forward(self, x, cos, sin, cache, i):
        b, t, _ = x.shape
        a = rms_norm(x, self.n1, self.eps)
        q = rope(self.q(a).view(b, t, self.h, self.d).transpose(1, 2), cos, sin)
        k = rope(self.k(a).view(b, t, self.hkv, self.d).transpose(1, 2), cos, sin)
        v = self.v(a).view(b, t, self.hkv, self.d).transpose(1, 2)
        k, v = cache.update(i, k, v)
        rep = self.h // self.hkv
        if rep > 1:  # GQA: repeat kv heads
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        y = sdpa(q, k, v, t > 1)
        x = x + self.o(y.transpose(1, 2).reshape(b, t, self.h * self.d))
        m = rms_norm(x, self.n2, self.eps)
        return x + self.down(F.silu(self.gate(m)) * self.up(m))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c, h = cfg["hidden_size"], cfg["num_attention_heads"]
        hkv = cfg.get("num_key_value_heads", h)
        d = cfg.get("head_dim") or c // h
        eps = cfg.get("rms_norm_eps", 1e-6)
        self.embed = nn.Embedding(cfg["vocab_size"], c)
        self.layers = nn.ModuleList([LlamaLayer(c, h, hkv, d, cfg["intermediate_size"], eps)
                                     for _ in range(cfg["num_hidden_layers"])])
        self.norm = nn.Parameter(torch.ones(c))
        self.eps = eps
        self.inv_freq = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, d, 2).float() / d))
        self.shape = (cfg["num_hidden_layers"], hkv, d)

    def forward(self, ids, cache):
        pos = torch.arange(cache.length, cache.length + ids.size(1)).float()
        freqs = pos[:, None] * self.inv_freq  # (T, D/2)
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos(), emb.sin()
        x = self.embed(ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, cache, i)
        cache.length += ids.size(1)
        return rms_norm(x, self.norm, self.eps)

    def head(self, h):
        return F.linear(h, self.embed.weight)


# ------------------------------------------------------------------------------------------------

def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def bandwidth(threads):
    """Best of 10 over 256 MiB arrays (far past any cache): copy counts read + write bytes,
    read is a max-reduction (reads only). GB/s = 1e9 bytes per second."""
    torch.set_num_threads(threads)
    n = 256 * 1024 * 1024 // 4
    a, b = torch.ones(n), torch.ones(n)
    best_copy = best_read = float("inf")
    for _ in range(10):
        t = time.perf_counter(); a.copy_(b); best_copy = min(best_copy, time.perf_counter() - t)
        t = time.perf_counter(); b.max(); best_read = min(best_read, time.perf_counter() - t)
    print(json.dumps({"bench": "bandwidth", "threads": threads, "bytes": n * 4,
                      "copy_gb_s": 2 * n * 4 / best_copy / 1e9, "read_gb_s": n * 4 / best_read / 1e9,
                      "load_average": os.getloadavg()[0]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="model folder with a gpt2 or llama config.json")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads; 0 = all cores")
    ap.add_argument("--bandwidth", action="store_true", help="measure memory bandwidth and exit")
    a = ap.parse_args()
    threads = a.threads if a.threads > 0 else os.cpu_count()
    if a.bandwidth:
        bandwidth(threads)
        return
    if not a.model:
        ap.error("--model is required")
    torch.set_num_threads(threads)
    with open(os.path.join(a.model, "config.json")) as f:
        cfg = json.load(f)
    mt = cfg.get("model_type")
    if mt == "gpt2":
        model, vocab = Gpt2(cfg), cfg["vocab_size"]
    elif mt in ("llama", "mistral", "qwen2"):
        model, vocab = Llama(cfg), cfg["vocab_size"]
    else:
        raise SystemExit(f"{a.model}/config.json: model_type must be gpt2 or llama-style (got {mt})")
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, cfg.get("initializer_range", 0.02))
    model.eval()
    layers, hkv, d = model.shape
    n_params = sum(p.numel() for p in model.parameters())
    p_len, n_new = a.prompt_len, a.new_tokens
    with torch.no_grad():
        for b in (1, 16):
            ids = torch.randint(0, vocab, (b, p_len))
            w = min(8, p_len)  # warm-up, not timed
            c = Cache(layers, b, hkv, w + 1, d)
            model.head(model(ids[:, :w], c)[:, -1:])
            model.head(model(ids[:, :1], c))
            cache = Cache(layers, b, hkv, p_len + n_new, d)
            t0, c0 = time.perf_counter(), cpu_seconds()
            nxt = model.head(model(ids, cache)[:, -1:]).argmax(-1)  # (B, 1)
            t1, c1 = time.perf_counter(), cpu_seconds()
            for _ in range(n_new - 1):
                nxt = model.head(model(nxt, cache)).argmax(-1)
            t2, c2 = time.perf_counter(), cpu_seconds()
            dec = b * (n_new - 1)
            print(json.dumps({
                "bench": "generate", "impl": "pytorch-python " + torch.__version__, "model": a.model,
                "model_type": mt, "params": n_params, "batch": b, "threads": torch.get_num_threads(),
                "prompt_len": p_len, "new_tokens": n_new,
                "prefill_tokens_per_second": b * p_len / (t1 - t0),
                "prefill_tokens_per_cpu_second": b * p_len / max(c1 - c0, 1e-9),
                "decode_tokens_per_second": dec / (t2 - t1),
                "decode_tokens_per_cpu_second": dec / max(c2 - c1, 1e-9),
                "ms_per_step": 1000 * (t2 - t1) / (n_new - 1),
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "load_average": os.getloadavg()[0],
            }), flush=True)


if __name__ == "__main__":
    main()
