#!/usr/bin/python3
"""The PyTorch-Python side of `rlhf bench train --algo sft`: one GPT-2 SFT training step written
plainly in Python (our own minimal GPT-2 module, nanoGPT-style), on the same shapes, batch,
sequence length and thread count, printing one JSON line in the same format.

It is the yardstick for our LibTorch trainer: both run the same LibTorch kernels underneath
(Debian's python3-torch and libtorch-dev are one build), so the ratio measures what our C++ adds
or saves around them (graph building, copies, attention path, optimizer loop), not BLAS.

Run with the Debian interpreter, which has torch 1.13:
    /usr/bin/python3 tests/tools/bench/train_step.py --model DIR --batch 4 --prompt-len 32 \
        --response-len 32 --threads 2 --steps 6

What the step does, matching core/train's SftTask + Trainer:
  forward over prompt+response (B, L) with no padding -> logits (B, L, V);
  loss = token mean of -log p(token_t | <t) over response tokens (prompt tokens ignored);
  backward; clip_grad_norm_(1.0); AdamW(lr, betas 0.9/0.999, eps 1e-8, weight_decay 0); zero_grad.
Weights are random (Normal(0, initializer_range), as HF's _init_weights): speed does not
depend on their values. B = batch, L = sequence length, C = n_embd, H = n_head, V = vocab.
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


# ------------------------------------------------------------------------------------------------
# Minimal GPT-2 (Radford et al. 2019): learned positions, pre-LN blocks, gelu_new MLP, tied head.

class Attention(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.n_head = h

    def forward(self, x):  # x: (B, L, C)
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q = q.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)  # (B, H, L, D)
        k = k.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        v = v.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2.0
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # torch 1.13: the textbook masked softmax, as nanoGPT's fallback
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (B, H, L, L)
            causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
            att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
            y = att @ v  # (B, H, L, D)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, c, h, inner, eps):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c, eps=eps)
        self.attn = Attention(c, h)
        self.ln_2 = nn.LayerNorm(c, eps=eps)
        self.c_fc = nn.Linear(c, inner)
        self.c_proj = nn.Linear(inner, c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["n_embd"]
        inner = cfg.get("n_inner") or 4 * c
        eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.wte = nn.Embedding(cfg["vocab_size"], c)
        self.wpe = nn.Embedding(cfg["n_positions"], c)
        self.h = nn.ModuleList([Block(c, cfg["n_head"], inner, eps) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(c, eps=eps)
        std = cfg.get("initializer_range", 0.02)
        for name, p in self.named_parameters():
            if p.dim() == 1:
                nn.init.zeros_(p) if name.endswith("bias") else nn.init.ones_(p)
            else:
                nn.init.normal_(p, 0.0, std)

    def forward(self, ids):  # ids: (B, L) -> logits (B, L, V)
        pos = torch.arange(ids.size(1), device=ids.device)
        x = self.wte(ids) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        return F.linear(self.ln_f(x), self.wte.weight)  # tied lm_head


# ------------------------------------------------------------------------------------------------

def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="model folder with a GPT-2 config.json")
    ap.add_argument("--steps", type=int, default=6, help="steps; the first warms up and is not timed")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--prompt-len", type=int, default=64)
    ap.add_argument("--response-len", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads; 0 = all cores")
    ap.add_argument("--lr", type=float, default=1e-6)
    a = ap.parse_args()
    if a.steps < 2:
        ap.error("--steps must be >= 2")
    torch.set_num_threads(a.threads if a.threads > 0 else os.cpu_count())
    with open(os.path.join(a.model, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "gpt2":
        raise SystemExit(f"{a.model}/config.json: model_type must be gpt2 (got {cfg.get('model_type')})")
    torch.manual_seed(1)
    model = GPT2(cfg).train()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    b, p, r = a.batch, a.prompt_len, a.response_len
    seq = p + r
    if seq > cfg["n_positions"]:
        raise SystemExit(f"prompt + response ({seq}) exceed n_positions ({cfg['n_positions']})")
    data = [torch.randint(0, cfg["vocab_size"], (b, seq)) for _ in range(4)]
    # Labels: token t+1 at position t, only where t+1 is a response token.
    ignore = torch.full((b, p - 1), -100, dtype=torch.long)

    fwd = bwd = optim = wall = cpu = 0.0
    for step in range(a.steps):
        ids = data[step % len(data)]
        labels = torch.cat([ignore, ids[:, p:]], dim=1)  # (B, L-1)
        t0, c0 = time.perf_counter(), cpu_seconds()
        logits = model(ids)  # (B, L, V)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100)
        loss.item()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        t3, c3 = time.perf_counter(), cpu_seconds()
        if step > 0:  # step 0 warms up allocators and the OpenMP pool
            fwd += t1 - t0
            bwd += t2 - t1
            optim += t3 - t2
            wall += t3 - t0
            cpu += c3 - c0
    n = a.steps - 1
    tokens = n * b * seq
    print(json.dumps({
        "bench": "train", "impl": "pytorch-python " + torch.__version__, "algo": "sft",
        "model": a.model, "params": n_params, "batch": b, "prompt_len": p, "response_len": r, "seq_len": seq,
        "threads": torch.get_num_threads(), "timed_steps": n,
        "seconds_per_step": wall / n,
        "ms_forward": 1000 * fwd / n, "ms_backward": 1000 * bwd / n, "ms_optimizer": 1000 * optim / n,
        "tokens_per_second": tokens / wall,
        "tokens_per_cpu_second": tokens / cpu if cpu > 0 else 0.0,
        "load_average": os.getloadavg()[0],
    }))


if __name__ == "__main__":
    main()
