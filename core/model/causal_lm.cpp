// The parts of CausalLM every family shares: the LoRA-capable Linear, the family table,
// parameter listing by Hugging Face name, and seeded random initialisation.
#include <cmath>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "core/io/error.h"
#include "core/model/device.h"
#include "core/model/layers.h"
#include "core/model/model.h"

namespace rlhf::model {

// ---------------------------------------------------------------------------------------------
// Linear (+ LoRA)

LinearImpl::LinearImpl(int64_t in, int64_t out, bool has_bias, bool conv1d_layout)
    : in_features(in), out_features(out), conv1d_(conv1d_layout) {
    weight = register_parameter("weight", conv1d_ ? torch::empty({in, out}) : torch::empty({out, in}));
    if (has_bias) bias = register_parameter("bias", torch::empty({out}));
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
    torch::Tensor y;
    if (conv1d_) {
        // GPT-2 Conv1D: y = x W + b with W stored (in, out). One addmm over the flattened rows,
        // as nn.Linear does for contiguous 3-D input: the bias rides in the GEMM instead of a
        // second pass over y (and its backward), ~10% of a projection's forward+backward on CPU.
        if (bias.defined() && x.dim() >= 2) {
            auto sizes = x.sizes().vec();
            sizes.back() = out_features;
            y = torch::addmm(bias, x.reshape({-1, in_features}), weight).view(sizes);
        } else {
            y = torch::matmul(x, weight);
            if (bias.defined()) y = y + bias;
        }
    } else {
        y = torch::linear(x, weight, bias);
    }
    if (lora_a_.defined() && lora_enabled_) {
        auto h = x;
        if (lora_dropout_ > 0 && is_training()) h = torch::dropout(h, lora_dropout_, /*train=*/true);
        y = y + torch::linear(torch::linear(h, lora_a_), lora_b_) * lora_scale_;
    }
    return y;
}

void LinearImpl::add_lora(int64_t rank, double alpha, double dropout) {
    if (rank <= 0) throw Error("LoRA: rank must be positive (got " + std::to_string(rank) + ")");
    if (has_lora()) remove_lora();
    auto opts = weight.options().requires_grad(false);
    // PEFT's default init: A ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0, so
    // the adapted model starts equal to the base.
    double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    auto a = torch::empty({rank, in_features}, opts).uniform_(-bound, bound);
    auto b = torch::zeros({out_features, rank}, opts);
    lora_a_ = register_module("lora_A", Weight(a))->weight;
    lora_b_ = register_module("lora_B", Weight(b))->weight;
    lora_scale_ = alpha / static_cast<double>(rank);
    lora_dropout_ = dropout;
    lora_enabled_ = true;
}

void LinearImpl::remove_lora() {
    if (!has_lora()) return;
    unregister_module("lora_A");
    unregister_module("lora_B");
    lora_a_ = torch::Tensor();
    lora_b_ = torch::Tensor();
}

void LinearImpl::merge_lora() {
    if (!has_lora()) return;
    torch::NoGradGuard no_grad;
    auto delta = torch::matmul(lora_b_.to(torch::kFloat32), lora_a_.to(torch::kFloat32)) * lora_scale_;  // (out, in)
    if (conv1d_) delta = delta.t();
    weight.add_(delta.to(weight.scalar_type()));
    remove_lora();
}

// ---------------------------------------------------------------------------------------------
// Family table: one line per model_type (llama.cpp serves every llama-style family).

namespace {
struct Family {
    const char* model_type;
    std::shared_ptr<CausalLM> (*make)(const ModelConfig&);
};
const Family kFamilies[] = {
    {"gpt2", make_gpt2_lm},
    {"llama", make_llama_lm},
    {"mistral", make_llama_lm},
    {"qwen2", make_llama_lm},
    {"qwen3", make_llama_lm},
};
}  // namespace

std::shared_ptr<CausalLM> create_causal_lm(const ModelConfig& config) {
    for (const auto& f : kFamilies)
        if (config.model_type == f.model_type) return f.make(config);
    std::string list;
    for (const auto& f : kFamilies) list += std::string(list.empty() ? "" : ", ") + f.model_type;
    throw Error("model_type '" + config.model_type + "' is not supported (supported: " + list + ")");
}

// ---------------------------------------------------------------------------------------------

namespace {
bool is_lora_name(const std::string& name) {
    return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos;
}
}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> CausalLM::hf_parameters() const {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& item : named_parameters(/*recurse=*/true))
        if (!is_lora_name(item.key())) out.emplace_back(item.key(), item.value());
    return out;
}

std::vector<std::pair<std::string, Linear>> CausalLM::linear_layers() const {
    std::vector<std::pair<std::string, Linear>> out;
    for (const auto& item : named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
        auto lin = std::dynamic_pointer_cast<LinearImpl>(item.value());
        if (lin) out.emplace_back(item.key(), Linear(lin));
    }
    return out;
}

torch::Dtype CausalLM::dtype() const {
    return input_embeddings_const().scalar_type();
}

torch::Device CausalLM::device() const {
    return input_embeddings_const().device();
}

torch::Tensor CausalLM::input_embeddings_const() const {
    return const_cast<CausalLM*>(this)->input_embeddings();
}

std::shared_ptr<CausalLM> make_random_model(const ModelConfig& config, uint64_t seed, torch::Dtype dtype,
                                            torch::Device device) {
    auto model = create_causal_lm(config);
    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(seed);
    for (auto& [name, p] : model->hf_parameters()) {
        if (p.dim() == 1) {
            // 1-D tensors are biases (zero) or norm gains (one), as HF's _init_weights sets them.
            bool is_bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
            p.fill_(is_bias ? 0.0 : 1.0);
        } else {
            p.normal_(0.0, config.initializer_range, gen);
        }
    }
    move_to(*model, device, dtype);
    model->eval();
    return model;
}

}  // namespace rlhf::model
