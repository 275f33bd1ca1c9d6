// Loading and saving models in the Hugging Face layout: a folder with config.json,
// model.safetensors (or model-0000i-of-0000N.safetensors + model.safetensors.index.json),
// generation_config.json and the tokenizer files. Parameter names are HF's, so this is a name map.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/model/model.h"

namespace rlhf::model {

struct LoadOptions {
    torch::Dtype dtype = torch::kFloat32;  // weights are converted to this (f32, bf16, f16)
    torch::Device device = torch::kCPU;    // and placed here
};

// Loads config.json and the safetensors checkpoint of `dir`. Every parameter must be present
// with the shape config.json implies and a floating dtype; a tensor the model does not have is an
// error (except buffers HF also ignores: GPT-2 attn.bias/masked_bias, rotary inv_freq, and
// lm_head.weight of a tied model). GPT-2 checkpoints without the "transformer." prefix load too.
// Errors are rlhf::Error naming the folder, the file and the tensor.
std::shared_ptr<CausalLM> load_causal_lm(const std::string& dir, const LoadOptions& options = {});

// The loader underneath, for models with extra heads: fills `params` (HF name -> tensor) from the
// checkpoint in `dir`; names in `optional` may be absent (the tensor then keeps its value).
// Loaded tensors replace the parameters' data, converted to options.dtype / options.device.
void load_hf_parameters(const std::string& dir, const ModelConfig& config,
                        const std::vector<std::pair<std::string, torch::Tensor>>& params,
                        const std::vector<std::string>& optional, const LoadOptions& options);

struct SaveOptions {
    uint64_t max_shard_bytes = 5'000'000'000ull;  // transformers' default max_shard_size "5GB"
    std::string tokenizer_from;      // folder (or its tokenizer.json) whose tokenizer files are copied; "" = none
    nlohmann::json generation_config;  // written as generation_config.json; null = bos/eos from config
};

// Writes config.json, the weights (in the model's dtype) and generation_config.json, plus the
// tokenizer files when asked. Files are written atomically; `dir` is created if needed.
void save_causal_lm(const CausalLM& model, const std::string& dir, const SaveOptions& options = {});

// The writer underneath (reward models, exports): `config_json` as config.json, `params` as the
// checkpoint under the names given.
void save_hf_checkpoint(const std::string& dir, const nlohmann::json& config_json,
                        const std::vector<std::pair<std::string, torch::Tensor>>& params,
                        const ModelConfig& config, const SaveOptions& options);

// generation_config.json of `dir` if present, else {} ; eos ids from it (int or list), falling
// back to config.json's.
nlohmann::json read_generation_config(const std::string& dir);
std::vector<int64_t> generation_eos_ids(const std::string& dir, const ModelConfig& config);

// "float32" | "bfloat16" | "float16" (also "f32", "bf16", "fp16", "f16") -> dtype; rlhf::Error otherwise.
torch::Dtype parse_dtype(const std::string& name);
std::string dtype_to_string(torch::Dtype dtype);  // "float32", ...

}  // namespace rlhf::model
