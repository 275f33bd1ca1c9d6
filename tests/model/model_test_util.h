// Helpers shared by the model tests: tiny configs of every family and a perturbation that makes
// every parameter (biases and norm gains included) non-trivial, so a wrong bias or norm path
// cannot hide behind zero / one initial values.
#pragma once
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>
#include <unistd.h>

#include "core/model/config.h"
#include "core/model/model.h"

namespace rlhf::model::test {

// 2 layers, hidden 64, vocab 300 — the acceptance shape. kv heads 2 of 4 exercises GQA.
inline ModelConfig tiny_config(const std::string& family) {
    if (family == "gpt2") return make_config("gpt2", 64, 2, 4, 4, 128, 300, 64);
    nlohmann::json j = {{"model_type", family}, {"vocab_size", 300}, {"hidden_size", 64},
                        {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                        {"intermediate_size", 96}, {"max_position_embeddings", 128}, {"rms_norm_eps", 1e-6},
                        {"bos_token_id", 1}, {"eos_token_id", 2}, {"tie_word_embeddings", false}};
    if (family == "qwen3") j["head_dim"] = 24;            // head_dim != hidden / heads, as in Qwen3
    if (family == "qwen2") j["tie_word_embeddings"] = true;  // small Qwen2 models tie
    if (family == "llama") j["attention_bias"] = true;
    if (family == "mistral") j["sliding_window"] = 5;       // shorter than the test sequences
    return config_from_json(j, "tiny_config(" + family + ")");
}

inline std::shared_ptr<CausalLM> tiny_model(const std::string& family, uint64_t seed = 1) {
    auto model = make_random_model(tiny_config(family), seed);
    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(seed + 1000);
    for (auto& [name, p] : model->hf_parameters())
        p.add_(torch::empty(p.sizes()).normal_(0.0, 0.05, gen));
    return model;
}

inline torch::Tensor random_ids(int64_t b, int64_t t, int64_t vocab, uint64_t seed) {
    auto gen = at::detail::createCPUGenerator(seed);
    return torch::randint(3, vocab, {b, t}, gen, torch::kLong);
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// A fresh temporary folder, removed by the destructor.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/rlhf_model_test_XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

}  // namespace rlhf::model::test
