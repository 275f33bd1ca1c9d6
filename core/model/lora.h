// LoRA adapters (Hu et al. 2021, arXiv:2106.09685) on chosen projections of a CausalLM, saved
// and loaded in PEFT's layout: adapter_config.json + adapter_model.safetensors with tensors
// "base_model.model.<module>.lora_A.weight" (r, in) and "...lora_B.weight" (out, r).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/model/model.h"

namespace rlhf::model {

struct LoraConfig {
    int64_t rank = 8;             // r: adapter rank (4-64 typical)
    double alpha = 16.0;          // lora_alpha: the update is scaled by alpha / r
    double dropout = 0.0;         // lora_dropout on the adapter's input, training mode only
    // Module names (or their last components) to adapt, PEFT-style: "q_proj", "v_proj" for llama,
    // "c_attn" for GPT-2; a name matches when it equals the module path or ends with "." + it.
    std::vector<std::string> target_modules = {"q_proj", "v_proj"};
};

// Adds an adapter (A ~ U(+-1/sqrt(in)) from `seed`, B = 0) to every matching projection and
// returns how many; rlhf::Error when none matches (listing the projections there are).
int apply_lora(CausalLM& model, const LoraConfig& config, uint64_t seed = 0);
void set_lora_enabled(CausalLM& model, bool enabled);  // off = the base model, at run time
void merge_lora(CausalLM& model);                      // folds B A into W and drops the adapters
void remove_lora(CausalLM& model);                     // drops the adapters unmerged
// The adapter tensors (A and B of every adapted layer), e.g. for the optimizer.
std::vector<torch::Tensor> lora_parameters(const CausalLM& model);

// PEFT layout; base_model_name goes into adapter_config.json's base_model_name_or_path.
void save_lora_adapter(const CausalLM& model, const LoraConfig& config, const std::string& dir,
                       const std::string& base_model_name = "");
// Reads adapter_config.json, applies LoRA accordingly and loads the adapter weights (converted
// to the model's dtype/device). Shapes, missing and unexpected tensors are checked.
LoraConfig load_lora_adapter(CausalLM& model, const std::string& dir);

}  // namespace rlhf::model
