// Memory a training run needs, estimated before it starts (the launcher shows it next to the
// machine's free memory, so a run that cannot fit is caught at "Validate", not after an hour of
// loading and an out-of-memory kill). No LibTorch: the model's size comes from config.json and the
// safetensors headers, the rest from the run config.
//
// What is counted (bytes; "P" = parameters, "T" = trainable parameters, "w" = bytes per element of
// activations: 2 for bf16 autocast on CUDA, else 4; weights and optimizer state stay fp32):
//   policy weights 4P · gradients 4T · AdamW moments 8T (T = P, or the LoRA adapters' size)
//   reference      4P_ref for PPO/DPO/GRPO (β > 0) unless LoRA (then the base with adapters off)
//   value head     4·hidden (PPO) · reward model 4P_rm (PPO/GRPO with model.reward)
//   activations    layers · S · h · (34 + 5·a·L/h) · w/2  (Korthikanti et al. 2022, "Reducing
//                  Activation Recomputation in Large Transformer Models", eq. 2: 16-bit tensors,
//                  no recomputation), S = sequences × L tokens per micro-batch
//   logits         3 · S · V · 4 (logits, log-softmax and its gradient, fp32)
//   KV cache       2 · layers · B_gen · L · kv_heads · head_dim · w (PPO/GRPO rollouts)
// It is an estimate: allocator slack, LibTorch's workspace and fragmentation come on top.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/train/config.h"

namespace rlhf::train {

// The shape of a Hugging Face model folder, enough to size it.
struct ModelFootprint {
    std::string dir;
    int64_t params = 0;        // elements of every tensor in the checkpoint
    int64_t stored_bytes = 0;  // their bytes as stored (dtype as saved)
    int64_t layers = 0, hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0, intermediate = 0;
};

// Reads <dir>/config.json (GPT-2 or Llama-family keys) and the safetensors headers (single file
// or sharded index). Throws rlhf::Error naming the file and the key at fault.
ModelFootprint read_model_footprint(const std::string& dir);

struct MemoryItem {
    std::string what;  // "policy weights", "activations", ...
    int64_t bytes = 0;
};

struct MemoryEstimate {
    std::vector<MemoryItem> items;  // only the non-zero ones, in the order of the list above
    int64_t total = 0;
    std::string device;             // the config's device
};

// `reference` / `reward` may be null: the reference is then the policy's shape; without a reward
// model folder no reward model is counted.
MemoryEstimate estimate_training_memory(const TrainConfig& config, const ModelFootprint& policy,
                                        const ModelFootprint* reference = nullptr,
                                        const ModelFootprint* reward = nullptr);

// LoRA adapter parameters for `config.lora` on a model of this shape (A: r×in, B: out×r per
// targeted projection per layer). Names as in HF Llama (q_proj, k_proj, v_proj, o_proj, gate_proj,
// up_proj, down_proj) and GPT-2 (c_attn, c_proj, c_fc).
int64_t lora_parameter_count(const LoraConfig& lora, const ModelFootprint& model);

// MemAvailable of /proc/meminfo in bytes; -1 where it cannot be read.
int64_t available_host_memory();

// "1.23 GiB", "512.0 MiB", "900 B".
std::string format_bytes(int64_t bytes);

}  // namespace rlhf::train
