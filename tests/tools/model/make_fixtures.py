#!/usr/bin/env python3
"""Reference fixtures for tests/model/test_model_hf_reference.cpp, made with Hugging Face transformers.

Run on a machine WITH Python, PyTorch, transformers and safetensors (this project's CI has none):

    python3 tests/tools/model/make_fixtures.py [--out tests/fixtures/model]

For each family (gpt2, llama, mistral, qwen2, qwen3) it builds a tiny random model (2 layers,
hidden 64, vocab 300; GQA, biases, qk-norm, sliding window and llama3 RoPE scaling switched on
where the family has them), perturbs every parameter so biases and norm gains are not 0/1, and
saves with save_pretrained(safe_serialization=True) to <out>/<family>/. Next to it,
reference.safetensors holds:
  input_ids       (3, 12) int64, rows of 12, 9 and 4 tokens, left-padded with 0
  attention_mask  (3, 12) int64
  logits          (3, 12, 300) float32: eager attention, position_ids = cumsum(mask) - 1 as
                  transformers' generate() computes them for left padding
and <out>/manifest.json lists, per family, a prompt and its 8-token greedy continuation from
model.generate(do_sample=False) with EOS disabled. The C++ test is registered in CTest only
when manifest.json exists. Never hand-edit the outputs: regenerate them.
"""
import argparse
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, MistralConfig,
                          MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

COMMON = dict(vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6, bos_token_id=1,
              eos_token_id=2, tie_word_embeddings=False)


def build(family):
    if family == "gpt2":
        return GPT2LMHeadModel(GPT2Config(vocab_size=300, n_embd=64, n_layer=2, n_head=4, n_inner=128,
                                          n_positions=64, bos_token_id=299, eos_token_id=299))
    if family == "llama":
        cfg = LlamaConfig(**COMMON, attention_bias=True,
                          rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
        return LlamaForCausalLM(cfg)
    if family == "mistral":
        return MistralForCausalLM(MistralConfig(**COMMON, sliding_window=5))
    if family == "qwen2":
        args = dict(COMMON, tie_word_embeddings=True)
        return Qwen2ForCausalLM(Qwen2Config(**args))
    if family == "qwen3":
        return Qwen3ForCausalLM(Qwen3Config(**COMMON, head_dim=24))
    raise ValueError(family)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "model"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    manifest = {"transformers_version": transformers.__version__, "torch_version": torch.__version__, "cases": []}
    for family in ["gpt2", "llama", "mistral", "qwen2", "qwen3"]:
        model = build(family)
        model.config._attn_implementation = "eager"
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        model.eval()
        d = os.path.join(out, family)
        model.save_pretrained(d, safe_serialization=True)

        lens = [12, 9, 4]
        ids = torch.zeros(3, 12, dtype=torch.long)
        mask = torch.zeros(3, 12, dtype=torch.long)
        for i, n in enumerate(lens):
            ids[i, 12 - n:] = torch.randint(3, 300, (n,))
            mask[i, 12 - n:] = 1
        pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits.float()
        save_file({"input_ids": ids, "attention_mask": mask, "logits": logits.contiguous()},
                  os.path.join(d, "reference.safetensors"))

        prompt = torch.randint(3, 300, (1, 6))
        model.generation_config.eos_token_id = None
        model.generation_config.pad_token_id = 0
        with torch.no_grad():
            seq = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=8, do_sample=False)
        manifest["cases"].append({"family": family, "dir": family, "max_new_tokens": 8,
                                  "greedy_prompt": prompt[0].tolist(), "greedy_tokens": seq[0, 6:].tolist()})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print("wrote", out)


if __name__ == "__main__":
    main()
