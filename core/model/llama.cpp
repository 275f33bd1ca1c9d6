// Llama-style decoders (transformers' LlamaForCausalLM and its kin): RoPE, RMSNorm, SwiGLU MLP,
// grouped-query attention. One class serves every llama-style family; they differ only in
// config switches:
//   llama/SmolLM: attention_bias / mlp_bias, rope_scaling "llama3"; mistral: sliding_window;
//   qwen2: bias on q/k/v (not o); qwen3: RMSNorm over head_dim on q and k (q_norm, k_norm).
// State-dict names: model.embed_tokens.weight, model.layers.<i>.{input_layernorm,
// post_attention_layernorm}.weight, model.layers.<i>.self_attn.{q,k,v,o}_proj.{weight,bias},
// model.layers.<i>.self_attn.{q,k}_norm.weight, model.layers.<i>.mlp.{gate,up,down}_proj.weight,
// model.norm.weight[, lm_head.weight].
// B = batch, T = new positions, C = hidden, H = heads, Hkv = kv heads, D = head_dim.
#include <torch/torch.h>

#include "core/model/device.h"
#include "core/model/layers.h"
#include "core/model/model.h"

namespace rlhf::model {
namespace {

class LlamaAttentionImpl : public torch::nn::Module {
public:
    explicit LlamaAttentionImpl(const ModelConfig& c)
        : q_proj(register_module("q_proj", Linear(c.hidden_size, c.num_attention_heads * c.head_dim,
                                                  c.attention_bias || c.qkv_bias, false))),
          k_proj(register_module("k_proj", Linear(c.hidden_size, c.num_key_value_heads * c.head_dim,
                                                  c.attention_bias || c.qkv_bias, false))),
          v_proj(register_module("v_proj", Linear(c.hidden_size, c.num_key_value_heads * c.head_dim,
                                                  c.attention_bias || c.qkv_bias, false))),
          o_proj(register_module("o_proj", Linear(c.num_attention_heads * c.head_dim, c.hidden_size,
                                                  c.attention_bias, false))),
          n_head_(c.num_attention_heads), n_kv_(c.num_key_value_heads), d_(c.head_dim) {
        if (c.qk_norm) {
            q_norm = register_module("q_norm", Norm(c.head_dim, c.norm_eps, /*rms=*/true));
            k_norm = register_module("k_norm", Norm(c.head_dim, c.norm_eps, true));
        }
    }

    // x: (B, T, C) -> (B, T, C); cos/sin: (B, T, D)
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                          const torch::Tensor& mask, bool is_causal, KvCache* cache, int64_t layer) {
        const int64_t b = x.size(0), t = x.size(1);
        auto q = q_proj(x).view({b, t, n_head_, d_});  // (B, T, H, D)
        auto k = k_proj(x).view({b, t, n_kv_, d_});    // (B, T, Hkv, D)
        auto v = v_proj(x).view({b, t, n_kv_, d_}).transpose(1, 2);
        if (q_norm) {  // qwen3: normalise each head before RoPE
            q = q_norm(q);
            k = k_norm(k);
        }
        q = apply_rope(q.transpose(1, 2), cos, sin);  // (B, H, T, D)
        k = apply_rope(k.transpose(1, 2), cos, sin);  // (B, Hkv, T, D)
        if (cache) std::tie(k, v) = cache->update(layer, k, v);  // (B, Hkv, S, D)
        auto y = attention(q, k, v, mask, is_causal);              // (B, H, T, D)
        return o_proj(y.transpose(1, 2).reshape({b, t, n_head_ * d_}));
    }

    Linear q_proj, k_proj, v_proj, o_proj;
    Norm q_norm{nullptr}, k_norm{nullptr};

private:
    int64_t n_head_, n_kv_, d_;
};
TORCH_MODULE(LlamaAttention);

class LlamaMlpImpl : public torch::nn::Module {
public:
    explicit LlamaMlpImpl(const ModelConfig& c)
        : gate_proj(register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias, false))),
          up_proj(register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias, false))),
          down_proj(register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, c.mlp_bias, false))) {}

    // SwiGLU (Shazeer 2020): down(silu(gate(x)) * up(x))
    torch::Tensor forward(const torch::Tensor& x) { return down_proj(torch::silu(gate_proj(x)) * up_proj(x)); }

    Linear gate_proj, up_proj, down_proj;
};
TORCH_MODULE(LlamaMlp);

class LlamaDecoderLayerImpl : public torch::nn::Module {
public:
    LlamaDecoderLayerImpl(const ModelConfig& c, int64_t index)
        : self_attn(register_module("self_attn", LlamaAttention(c))),
          mlp(register_module("mlp", LlamaMlp(c))),
          input_layernorm(register_module("input_layernorm", Norm(c.hidden_size, c.norm_eps, true))),
          post_attention_layernorm(register_module("post_attention_layernorm", Norm(c.hidden_size, c.norm_eps, true))),
          sliding_(c.layer_uses_sliding_window(index)) {}

    torch::Tensor forward(torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& sin,
                          const AttentionContext& ctx, KvCache* cache, int64_t layer) {
        const torch::Tensor& mask = sliding_ && ctx.window_mask.defined() ? ctx.window_mask : ctx.mask;
        x = x + self_attn(input_layernorm(x), cos, sin, mask, ctx.is_causal, cache, layer);
        return x + mlp(post_attention_layernorm(x));
    }

    LlamaAttention self_attn;
    LlamaMlp mlp;
    Norm input_layernorm, post_attention_layernorm;

private:
    bool sliding_;
};
TORCH_MODULE(LlamaDecoderLayer);

class LlamaModelImpl : public torch::nn::Module {
public:
    explicit LlamaModelImpl(const ModelConfig& c)
        : embed_tokens(register_module("embed_tokens", Weight(torch::empty({c.vocab_size, c.hidden_size})))),
          layers(register_module("layers", torch::nn::ModuleList())),
          norm(register_module("norm", Norm(c.hidden_size, c.norm_eps, true))) {
        for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
            auto layer = LlamaDecoderLayer(c, i);
            layers->push_back(layer);
            blocks.push_back(layer);
        }
    }

    Weight embed_tokens;  // (V, C)
    torch::nn::ModuleList layers;
    Norm norm;
    std::vector<LlamaDecoderLayer> blocks;
};
TORCH_MODULE(LlamaModel);

class LlamaLM : public CausalLM {
public:
    explicit LlamaLM(const ModelConfig& c)
        : CausalLM(c), model(register_module("model", LlamaModel(c))), inv_freq_(rope_inv_freq(c)) {
        if (!c.tie_word_embeddings)
            lm_head = register_module("lm_head", Linear(c.hidden_size, c.vocab_size, false, false));
    }

    torch::Tensor forward_hidden(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                 KvCache* cache) override {
        check_device(input_ids, device(), "llama: input_ids");
        check_device(attention_mask, device(), "llama: attention_mask");
        auto ctx = make_attention_context(config_, input_ids, attention_mask, cache);
        // The inverse frequencies depend on the config only: built once, at construction (not a
        // registered buffer, so they never enter the state dict; never written here, so
        // concurrent forwards stay safe). On another device, a copy per call.
        const auto dev = ctx.positions.device();
        auto inv_freq = inv_freq_.device() == dev ? inv_freq_ : inv_freq_.to(dev);  // (D/2)
        auto [cos, sin] = rope_cos_sin(inv_freq, ctx.positions);  // (B, T, D) float32
        auto x = at::embedding(model->embed_tokens->weight, input_ids);  // (B, T, C)
        for (size_t i = 0; i < model->blocks.size(); ++i)
            x = model->blocks[i]->forward(x, cos, sin, ctx, cache, static_cast<int64_t>(i));
        if (cache) cache->advance(input_ids.size(1));
        return model->norm(x);
    }

    torch::Tensor lm_logits(const torch::Tensor& hidden) override {
        if (lm_head) return lm_head(hidden);
        return torch::linear(hidden, model->embed_tokens->weight);
    }

    torch::Tensor input_embeddings() override { return model->embed_tokens->weight; }

    LlamaModel model;
    Linear lm_head{nullptr};

private:
    torch::Tensor inv_freq_;  // (D/2) float32 RoPE inverse frequencies, on the CPU
};

}  // namespace

std::shared_ptr<CausalLM> make_llama_lm(const ModelConfig& config) { return std::make_shared<LlamaLM>(config); }

}  // namespace rlhf::model
