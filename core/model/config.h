// ModelConfig: the hyper-parameters of a causal LM, read from a Hugging Face config.json.
// One struct for every family we run (gpt2; llama-style: llama, mistral, qwen2, qwen3 — SmolLM
// ships as "llama"). Field defaults are those of the matching transformers *Config class, so a
// config.json that leaves a field out means what it means in Hugging Face.
// No LibTorch here: the GUI and the data module read configs too.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::model {

// Rotary position embedding scaling ("rope_scaling" in config.json).
struct RopeScaling {
    std::string type = "default";              // "default" | "linear" | "llama3"
    double factor = 1.0;                       // linear, llama3: context stretch factor (8 for Llama 3.1)
    double low_freq_factor = 1.0;              // llama3: wavelengths above original/low_freq_factor are scaled
    double high_freq_factor = 4.0;             // llama3: wavelengths below original/high_freq_factor are kept
    int64_t original_max_position_embeddings = 8192;  // llama3: pre-training context length
};

struct ModelConfig {
    std::string model_type;            // "gpt2" | "llama" | "mistral" | "qwen2" | "qwen3"
    int64_t vocab_size = 0;            // rows of the embedding / lm_head (e.g. 50257, 128256)
    int64_t hidden_size = 0;           // C: residual stream width (gpt2: n_embd)
    int64_t num_hidden_layers = 0;     // L (gpt2: n_layer)
    int64_t num_attention_heads = 0;   // query heads (gpt2: n_head)
    int64_t num_key_value_heads = 0;   // K/V heads; < num_attention_heads means GQA
    int64_t head_dim = 0;              // per-head width; hidden/heads unless config.json says (qwen3)
    int64_t intermediate_size = 0;     // MLP inner width (gpt2: n_inner or 4*n_embd)
    int64_t max_position_embeddings = 0;  // longest sequence (gpt2: n_positions = learned table size)
    double norm_eps = 1e-5;            // rms_norm_eps (llama family) or layer_norm_epsilon (gpt2)
    double rope_theta = 10000.0;       // RoPE base frequency (llama family only)
    RopeScaling rope_scaling;          // RoPE context-extension scheme
    bool tie_word_embeddings = false;  // lm_head shares the token embedding matrix
    bool attention_bias = false;       // bias on q/k/v/o projections (llama attention_bias)
    bool qkv_bias = false;             // bias on q/k/v only (qwen2 always)
    bool qk_norm = false;              // RMSNorm over head_dim on q and k before RoPE (qwen3)
    bool mlp_bias = false;             // bias on gate/up/down (llama mlp_bias)
    int64_t sliding_window = 0;        // attend to the last N positions only; 0 = full attention
    int64_t max_window_layers = 0;     // qwen2/qwen3: layers >= this one use the sliding window
    std::string hidden_act;            // "gelu_new" (gpt2) | "silu" (llama family)
    double initializer_range = 0.02;   // std of the normal init used by make_random_model
    std::vector<int64_t> bos_token_ids;  // from config.json bos_token_id (int or list)
    std::vector<int64_t> eos_token_ids;  // from config.json eos_token_id (int or list)
    int64_t pad_token_id = -1;         // -1 = none
    std::string torch_dtype = "float32";  // dtype the weights were saved in: float32|bfloat16|float16
    nlohmann::json raw;                // the file as read, so save() keeps fields we do not model

    bool is_gpt2() const { return model_type == "gpt2"; }
    // Whether layer `layer` uses sliding-window attention (mistral: all; qwen: from max_window_layers).
    bool layer_uses_sliding_window(int64_t layer) const;
    // config.json contents for this config (raw + our fields written back in HF spelling).
    nlohmann::json to_json() const;
};

// The model types we can build, in the order error messages list them.
const std::vector<std::string>& supported_model_types();

// Parses config.json contents; `label` names the source in errors ("<dir>/config.json").
// Throws rlhf::Error on an unsupported model_type (listing the supported ones) or a bad field.
ModelConfig config_from_json(const nlohmann::json& j, const std::string& label);
ModelConfig load_config(const std::string& path);  // path: config.json or the model folder

// Small configs for tests and benchmarks: every family at a given size.
// family: a supported model type. Sizes: hidden, layers, heads, kv_heads, intermediate, vocab.
ModelConfig make_config(const std::string& family, int64_t hidden, int64_t layers, int64_t heads,
                        int64_t kv_heads, int64_t intermediate, int64_t vocab, int64_t max_positions = 256);

}  // namespace rlhf::model
