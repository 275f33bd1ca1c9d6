// Value head and reward (sequence-classification) model.
#include "core/model/heads.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "core/io/error.h"
#include "core/model/device.h"

namespace rlhf::model {

ValueHeadImpl::ValueHeadImpl(int64_t hidden_size, double dropout)
    : summary(register_module("summary", Linear(hidden_size, 1, /*bias=*/true, /*conv1d=*/false))),
      dropout_(dropout) {
    torch::NoGradGuard no_grad;
    summary->weight.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(hidden_size + 1)));
    summary->bias.zero_();
}

torch::Tensor ValueHeadImpl::forward(const torch::Tensor& hidden) {
    auto h = dropout_ > 0 && is_training() ? torch::dropout(hidden, dropout_, true) : hidden;
    // TRL casts to the head's dtype; values: (B, T)
    return summary(h.to(summary->weight.scalar_type())).squeeze(-1);
}

RewardModelImpl::RewardModelImpl(std::shared_ptr<CausalLM> bb, int64_t labels)
    : backbone(register_module("backbone", std::move(bb))),
      score(register_module("score", Linear(backbone->config().hidden_size, labels, /*bias=*/false, false))),
      num_labels(labels) {
    move_to(*score, backbone->device(), backbone->dtype());
}

torch::Tensor RewardModelImpl::forward_all(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) {
    auto hidden = backbone->forward_hidden(input_ids, attention_mask, nullptr);  // (B, T, C)
    auto s = score(hidden);                                                     // (B, T, L)
    return num_labels == 1 ? s.squeeze(-1) : s;
}

torch::Tensor RewardModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) {
    auto all = forward_all(input_ids, attention_mask);  // (B, T[, L])
    const int64_t b = input_ids.size(0), t = input_ids.size(1);
    torch::Tensor last;
    if (attention_mask.defined()) {
        // Index of each row's last 1: works for left and right padding alike.
        auto idx = torch::arange(t, torch::TensorOptions().dtype(torch::kLong).device(input_ids.device()));
        last = (attention_mask.to(torch::kLong) * (idx + 1)).argmax(-1);  // (B)
    } else {
        last = torch::full({b}, t - 1, torch::TensorOptions().dtype(torch::kLong).device(input_ids.device()));
    }
    auto rows = torch::arange(b, last.options());
    return all.index({rows, last});  // (B) or (B, L)
}

std::vector<std::pair<std::string, torch::Tensor>> RewardModelImpl::hf_parameters() const {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto& [name, p] : backbone->hf_parameters())
        if (name != "lm_head.weight") out.emplace_back(name, p);
    out.emplace_back("score.weight", score->weight);
    return out;
}

RewardModel make_reward_model(std::shared_ptr<CausalLM> backbone, uint64_t seed) {
    RewardModel rm(std::move(backbone), 1);
    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(seed);
    double std = 1.0 / std::sqrt(static_cast<double>(rm->backbone->config().hidden_size + 1));
    auto w = torch::empty(rm->score->weight.sizes(), torch::kFloat32).normal_(0.0, std, gen);
    if (!rm->score->weight.device().is_meta()) rm->score->weight.copy_(w);
    return rm;
}

namespace {
std::string classification_architecture(const std::string& model_type) {
    if (model_type == "gpt2") return "GPT2ForSequenceClassification";
    if (model_type == "llama") return "LlamaForSequenceClassification";
    if (model_type == "mistral") return "MistralForSequenceClassification";
    if (model_type == "qwen2") return "Qwen2ForSequenceClassification";
    if (model_type == "qwen3") return "Qwen3ForSequenceClassification";
    throw Error("no sequence-classification architecture for model_type '" + model_type + "'");
}
}  // namespace

void save_reward_model(RewardModel& model, const std::string& dir, const SaveOptions& options) {
    ModelConfig config = model->backbone->config();
    config.torch_dtype = dtype_to_string(model->backbone->dtype());
    nlohmann::json j = config.to_json();
    j["architectures"] = {classification_architecture(config.model_type)};
    j["num_labels"] = model->num_labels;
    nlohmann::json id2label = nlohmann::json::object(), label2id = nlohmann::json::object();
    for (int64_t i = 0; i < model->num_labels; ++i) {
        id2label[std::to_string(i)] = "LABEL_" + std::to_string(i);
        label2id["LABEL_" + std::to_string(i)] = i;
    }
    j["id2label"] = id2label;
    j["label2id"] = label2id;
    // HF's sequence classifier finds the last token through pad_token_id; make sure one is set.
    if (!j.contains("pad_token_id") || j["pad_token_id"].is_null()) {
        if (!config.eos_token_ids.empty()) j["pad_token_id"] = config.eos_token_ids[0];
    }
    save_hf_checkpoint(dir, j, model->hf_parameters(), config, options);
}

RewardModel load_reward_model(const std::string& dir, const LoadOptions& options) {
    ModelConfig config = load_config(dir);
    int64_t labels = 1;
    if (config.raw.contains("num_labels") && config.raw["num_labels"].is_number_integer())
        labels = config.raw["num_labels"].get<int64_t>();
    else if (config.raw.contains("id2label") && config.raw["id2label"].is_object())
        labels = static_cast<int64_t>(config.raw["id2label"].size());
    if (labels <= 0) throw Error(dir + "/config.json: num_labels must be positive");
    RewardModel rm(create_causal_lm(config), labels);
    // lm_head is not part of a sequence classifier; it stays unused (uninitialised) here.
    load_hf_parameters(dir, config, rm->hf_parameters(), {}, options);
    rm->to(options.device, options.dtype);
    rm->eval();
    return rm;
}

}  // namespace rlhf::model
