// GPT-2 (Radford et al. 2019) as transformers' GPT2LMHeadModel: learned positions, pre-LN
// blocks, Conv1D projections stored (in, out), gelu_new MLP, lm_head tied to wte.
// State-dict names: transformer.{wte,wpe}.weight, transformer.h.<i>.{ln_1,attn.c_attn,attn.c_proj,
// ln_2,mlp.c_fc,mlp.c_proj}.{weight,bias}, transformer.ln_f.{weight,bias}[, lm_head.weight].
// B = batch, T = new positions, C = n_embd, H = n_head, D = C / H.
#include <torch/torch.h>

#include "core/io/error.h"
#include "core/model/device.h"
#include "core/model/layers.h"
#include "core/model/model.h"

namespace rlhf::model {
namespace {

class Gpt2AttentionImpl : public torch::nn::Module {
public:
    explicit Gpt2AttentionImpl(const ModelConfig& c)
        : c_attn(register_module("c_attn", Linear(c.hidden_size, 3 * c.hidden_size, true, /*conv1d=*/true))),
          c_proj(register_module("c_proj", Linear(c.hidden_size, c.hidden_size, true, /*conv1d=*/true))),
          n_head_(c.num_attention_heads) {}

    // x: (B, T, C) -> (B, T, C)
    torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx, KvCache* cache, int64_t layer) {
        const int64_t b = x.size(0), t = x.size(1), c = x.size(2), d = c / n_head_;
        auto qkv = c_attn(x).split(c, -1);                                   // 3 x (B, T, C)
        auto q = qkv[0].view({b, t, n_head_, d}).transpose(1, 2);           // (B, H, T, D)
        auto k = qkv[1].view({b, t, n_head_, d}).transpose(1, 2);
        auto v = qkv[2].view({b, t, n_head_, d}).transpose(1, 2);
        if (cache) std::tie(k, v) = cache->update(layer, k, v);              // (B, H, S, D)
        auto y = attention(q, k, v, ctx.mask, ctx.is_causal);                // (B, H, T, D)
        return c_proj(y.transpose(1, 2).reshape({b, t, c}));
    }

    Linear c_attn, c_proj;

private:
    int64_t n_head_;
};
TORCH_MODULE(Gpt2Attention);

class Gpt2MlpImpl : public torch::nn::Module {
public:
    explicit Gpt2MlpImpl(const ModelConfig& c)
        : c_fc(register_module("c_fc", Linear(c.hidden_size, c.intermediate_size, true, true))),
          c_proj(register_module("c_proj", Linear(c.intermediate_size, c.hidden_size, true, true))),
          act_(c.hidden_act) {}

    torch::Tensor forward(const torch::Tensor& x) {
        auto h = c_fc(x);  // (B, T, I)
        if (act_ == "relu") h = torch::relu(h);
        else if (act_ == "gelu") h = torch::gelu(h);
        else h = torch::gelu(h, "tanh");  // gelu_new == gelu_pytorch_tanh
        return c_proj(h);
    }

    Linear c_fc, c_proj;

private:
    std::string act_;
};
TORCH_MODULE(Gpt2Mlp);

class Gpt2BlockImpl : public torch::nn::Module {
public:
    explicit Gpt2BlockImpl(const ModelConfig& c)
        : ln_1(register_module("ln_1", Norm(c.hidden_size, c.norm_eps, /*rms=*/false))),
          attn(register_module("attn", Gpt2Attention(c))),
          ln_2(register_module("ln_2", Norm(c.hidden_size, c.norm_eps, false))),
          mlp(register_module("mlp", Gpt2Mlp(c))) {}

    torch::Tensor forward(torch::Tensor x, const AttentionContext& ctx, KvCache* cache, int64_t layer) {
        x = x + attn(ln_1(x), ctx, cache, layer);
        return x + mlp(ln_2(x));
    }

    Norm ln_1;
    Gpt2Attention attn;
    Norm ln_2;
    Gpt2Mlp mlp;
};
TORCH_MODULE(Gpt2Block);

class Gpt2ModelImpl : public torch::nn::Module {
public:
    explicit Gpt2ModelImpl(const ModelConfig& c)
        : wte(register_module("wte", Weight(torch::empty({c.vocab_size, c.hidden_size})))),
          wpe(register_module("wpe", Weight(torch::empty({c.max_position_embeddings, c.hidden_size})))),
          h(register_module("h", torch::nn::ModuleList())),
          ln_f(register_module("ln_f", Norm(c.hidden_size, c.norm_eps, false))) {
        for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
            auto block = Gpt2Block(c);
            h->push_back(block);
            blocks.push_back(block);
        }
    }

    Weight wte, wpe;  // (V, C), (P, C)
    torch::nn::ModuleList h;
    Norm ln_f;
    std::vector<Gpt2Block> blocks;
};
TORCH_MODULE(Gpt2Model);

class Gpt2LM : public CausalLM {
public:
    explicit Gpt2LM(const ModelConfig& c) : CausalLM(c), transformer(register_module("transformer", Gpt2Model(c))) {
        if (!c.tie_word_embeddings)
            lm_head = register_module("lm_head", Linear(c.hidden_size, c.vocab_size, false, false));
    }

    torch::Tensor forward_hidden(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                 KvCache* cache) override {
        check_device(input_ids, device(), "gpt2: input_ids");
        check_device(attention_mask, device(), "gpt2: attention_mask");
        auto ctx = make_attention_context(config_, input_ids, attention_mask, cache);
        // Positions never exceed their cache index (past + T - 1, equal without padding), so the
        // host knows the bound without reading the device; only a padded batch at the limit
        // needs its real maximum.
        int64_t max_pos = ctx.past + input_ids.size(1) - 1;
        if (max_pos >= config_.max_position_embeddings && attention_mask.defined())
            max_pos = static_cast<int64_t>(host_scalar(ctx.positions.max()));
        if (max_pos >= config_.max_position_embeddings)
            throw Error("gpt2: position " + std::to_string(max_pos) + " exceeds n_positions (" +
                        std::to_string(config_.max_position_embeddings) + ")");
        auto x = at::embedding(transformer->wte->weight, input_ids) +
                 at::embedding(transformer->wpe->weight, ctx.positions);  // (B, T, C)
        for (size_t i = 0; i < transformer->blocks.size(); ++i)
            x = transformer->blocks[i]->forward(x, ctx, cache, static_cast<int64_t>(i));
        if (cache) cache->advance(input_ids.size(1));
        return transformer->ln_f(x);
    }

    torch::Tensor lm_logits(const torch::Tensor& hidden) override {
        if (lm_head) return lm_head(hidden);
        return torch::linear(hidden, transformer->wte->weight);
    }

    torch::Tensor input_embeddings() override { return transformer->wte->weight; }

    Gpt2Model transformer;
    Linear lm_head{nullptr};
};

}  // namespace

std::shared_ptr<CausalLM> make_gpt2_lm(const ModelConfig& config) { return std::make_shared<Gpt2LM>(config); }

}  // namespace rlhf::model
