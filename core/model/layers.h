// Small building blocks the families share: norms and a one-tensor holder module (so that a
// parameter gets the ".weight" suffix Hugging Face names carry). Internal to core/model.
#pragma once
#include <torch/torch.h>

#include "core/model/model.h"

namespace rlhf::model {

// A module that owns one parameter named "weight" (embeddings, LoRA A/B).
class WeightImpl : public torch::nn::Module {
public:
    explicit WeightImpl(torch::Tensor w) { weight = register_parameter("weight", std::move(w)); }
    torch::Tensor weight;
};
TORCH_MODULE(Weight);

// LayerNorm (GPT-2: weight + bias) or RMSNorm (llama family: weight only, computed in float32
// as transformers' LlamaRMSNorm does, then cast back before the weight multiply).
class NormImpl : public torch::nn::Module {
public:
    NormImpl(int64_t dim, double eps, bool rms) : eps_(eps), rms_(rms) {
        weight = register_parameter("weight", torch::empty({dim}));
        if (!rms) bias = register_parameter("bias", torch::empty({dim}));
    }
    torch::Tensor forward(const torch::Tensor& x) {
        if (!rms_) return torch::layer_norm(x, {x.size(-1)}, weight, bias, eps_);
        auto h = x.to(torch::kFloat32);
        auto var = h.pow(2).mean(-1, /*keepdim=*/true);
        h = h * torch::rsqrt(var + eps_);
        return weight * h.to(x.scalar_type());
    }
    torch::Tensor weight, bias;  // (dim)

private:
    double eps_;
    bool rms_;
};
TORCH_MODULE(Norm);

// Family factories (gpt2.cpp, llama.cpp); the table that names them is registry.cpp.
std::shared_ptr<CausalLM> make_gpt2_lm(const ModelConfig& config);
std::shared_ptr<CausalLM> make_llama_lm(const ModelConfig& config);

}  // namespace rlhf::model
