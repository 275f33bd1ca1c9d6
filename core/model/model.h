// CausalLM: the decoder-only language models we run and train (gpt2; llama, mistral, qwen2, qwen3).
// Parameter names are exactly Hugging Face's state_dict names, so loading and saving are a name
// map (checkpoint.h). One file per family (gpt2.cpp, llama.cpp), listed once in registry.cpp.
//
// Glossary: B = batch, T = new positions in this call, S = positions cached + new (keys),
// C = hidden_size, V = vocab_size, H = query heads, Hkv = key/value heads, D = head_dim.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/model/config.h"

namespace rlhf::model {

// ---------------------------------------------------------------------------------------------
// KV cache: preallocated per layer for `capacity` positions, filled left to right. A batch with
// left padding keeps one shared write position; padded slots are excluded by the attention mask.
struct KvCache {
    std::vector<torch::Tensor> k, v;  // per layer: (B, Hkv, capacity, D)
    int64_t length = 0;               // positions written so far (same for every row)
    int64_t capacity = 0;             // positions allocated
    // Whether the mask of the calls so far had padding (left padding of the prompts): decoding
    // only appends 1s, so the prefill's answer holds for every later step and the decode loop
    // never asks the device again. Set by make_attention_context; select_rows forgets it.
    mutable int padded = -1;          // -1 unknown, 0 no, 1 yes

    static KvCache allocate(const ModelConfig& config, int64_t batch, int64_t capacity,
                            torch::Dtype dtype, torch::Device device);
    // Writes k_new/v_new (B, Hkv, T, D) at [length, length+T) of `layer` and returns views of
    // positions [0, length+T). `length` advances once per forward (advance()), not per layer.
    std::pair<torch::Tensor, torch::Tensor> update(int64_t layer, const torch::Tensor& k_new,
                                                   const torch::Tensor& v_new);
    void advance(int64_t t) { length += t; }
    // Keeps only rows `index` (B') — e.g. to drop finished sequences from a batch.
    void select_rows(const torch::Tensor& index);
};

// ---------------------------------------------------------------------------------------------
// A linear layer that stores its weight in Hugging Face's layout — nn.Linear (out, in), or GPT-2's
// Conv1D (in, out) — and can carry a LoRA adapter (Hu et al. 2021, arXiv:2106.09685):
// y = x W^T + b + (alpha / r) * dropout(x) A^T B^T with A: (r, in), B: (out, r).
class LinearImpl : public torch::nn::Module {
public:
    LinearImpl(int64_t in_features, int64_t out_features, bool bias, bool conv1d_layout);
    torch::Tensor forward(const torch::Tensor& x);  // x: (..., in) -> (..., out)

    void add_lora(int64_t rank, double alpha, double dropout);  // A ~ kaiming-uniform, B = 0 (PEFT's init)
    void remove_lora();
    void merge_lora();  // W += scale * B A (transposed for Conv1D); removes the adapter
    bool has_lora() const { return lora_a_.defined(); }
    void set_lora_enabled(bool enabled) { lora_enabled_ = enabled; }
    bool lora_enabled() const { return lora_enabled_; }
    torch::Tensor& lora_a() { return lora_a_; }  // (r, in)
    torch::Tensor& lora_b() { return lora_b_; }  // (out, r)
    double lora_scale() const { return lora_scale_; }
    // W as (out, in) whatever the storage layout; a view, no copy.
    torch::Tensor weight_out_in() const { return conv1d_ ? weight.t() : weight; }

    torch::Tensor weight;  // (out, in) or Conv1D (in, out)
    torch::Tensor bias;    // (out) or undefined
    int64_t in_features, out_features;
    bool conv1d() const { return conv1d_; }

private:
    bool conv1d_;
    torch::Tensor lora_a_, lora_b_;
    double lora_scale_ = 0.0, lora_dropout_ = 0.0;
    bool lora_enabled_ = true;
};
TORCH_MODULE(Linear);

// ---------------------------------------------------------------------------------------------
class CausalLM : public torch::nn::Module {
public:
    explicit CausalLM(ModelConfig config) : config_(std::move(config)) {}
    ~CausalLM() override = default;
    const ModelConfig& config() const { return config_; }

    // input_ids: (B, T) int64. attention_mask: (B, S) with S = cache length + T, 1 = real token,
    // 0 = padding (HF convention), or undefined = no padding. Position ids are derived from the
    // mask (cumsum - 1), so left-padded rows get the same positions they would have alone.
    // Returns the last hidden state after the final norm: (B, T, C). With a cache, the new
    // keys/values are appended and cache->length advances by T.
    virtual torch::Tensor forward_hidden(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                         KvCache* cache) = 0;
    // hidden: (..., C) -> logits (..., V) in the model's dtype.
    virtual torch::Tensor lm_logits(const torch::Tensor& hidden) = 0;
    // logits: (B, T, V)
    torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                          KvCache* cache = nullptr) {
        return lm_logits(forward_hidden(input_ids, attention_mask, cache));
    }

    // The token embedding matrix (V, C) and the output matrix (V, C) (the same tensor when tied).
    virtual torch::Tensor input_embeddings() = 0;
    // Parameters under their Hugging Face names (no LoRA tensors; a tied lm_head is not listed).
    std::vector<std::pair<std::string, torch::Tensor>> hf_parameters() const;
    // Every projection that LoRA may target, with its full HF module name
    // ("model.layers.0.self_attn.q_proj", "transformer.h.0.attn.c_attn").
    std::vector<std::pair<std::string, Linear>> linear_layers() const;

    torch::Dtype dtype() const;
    torch::Device device() const;

protected:
    ModelConfig config_;

private:
    torch::Tensor input_embeddings_const() const;
};

// Builds a family's module tree with uninitialised (torch::empty) fp32 CPU weights.
// Throws rlhf::Error for an unsupported model_type, listing the supported ones.
std::shared_ptr<CausalLM> create_causal_lm(const ModelConfig& config);

// Normal(0, initializer_range) weights, unit norms, zero biases — as HF's _init_weights does —
// from a seeded generator, so the same (config, seed) gives the same model.
std::shared_ptr<CausalLM> make_random_model(const ModelConfig& config, uint64_t seed,
                                            torch::Dtype dtype = torch::kFloat32,
                                            torch::Device device = torch::kCPU);

// ---------------------------------------------------------------------------------------------
// Shared by the families (attention.cpp).

// Rotary embedding tables for positions (B, T): cos, sin (B, T, D), float32, HF's layout
// (frequencies repeated twice, rotate_half convention).
std::pair<torch::Tensor, torch::Tensor> rope_cos_sin(const ModelConfig& config, const torch::Tensor& positions);
// The same from inverse frequencies computed once (rope_inv_freq on positions' device): a decode
// step then skips rebuilding them (several small ops, more with llama3 scaling).
std::pair<torch::Tensor, torch::Tensor> rope_cos_sin(const torch::Tensor& inv_freq, const torch::Tensor& positions);
// The inverse frequencies (D/2) after rope_scaling, float32.
torch::Tensor rope_inv_freq(const ModelConfig& config);
// x: (B, H, T, D); cos/sin: (B, T, D).
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// What every layer of one forward call shares: positions and the attention mask.
struct AttentionContext {
    torch::Tensor positions;     // (B, T) int64
    torch::Tensor mask;          // (B, 1, T, S) bool, true = may attend; undefined = see is_causal
    torch::Tensor window_mask;   // same with the sliding window applied (undefined if no window)
    bool is_causal = false;      // mask undefined and T > 1: plain causal attention
    int64_t past = 0;            // cache length before this call
};
AttentionContext make_attention_context(const ModelConfig& config, const torch::Tensor& input_ids,
                                        const torch::Tensor& attention_mask, const KvCache* cache);

// softmax(q k^T / sqrt(D) + mask) v. q: (B, H, T, D); k, v: (B, Hkv, S, D) (GQA heads are
// repeated here; a single decoded query (T = 1) reads them in place per group, without copying
// K and V). mask: (B, 1, T, S) bool or undefined. Returns (B, H, T, D).
// Uses at::scaled_dot_product_attention.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& mask, bool is_causal);
// The plain math path (softmax in float32), for tests and as the reference.
torch::Tensor attention_math(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             const torch::Tensor& mask, bool is_causal);

}  // namespace rlhf::model
