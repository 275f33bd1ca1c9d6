// Heads on top of a CausalLM's last hidden state: a value head for PPO (TRL's ValueHead:
// Linear(C, 1) with bias) and the score head of a reward model in transformers'
// AutoModelForSequenceClassification layout (score.weight (num_labels, C), no bias).
// B = batch, T = positions, C = hidden.
#pragma once
#include <memory>
#include <string>

#include <torch/torch.h>

#include "core/model/checkpoint.h"
#include "core/model/model.h"

namespace rlhf::model {

// v = summary(dropout(h)): (B, T, C) -> (B, T). Parameters "summary.weight" (1, C), "summary.bias" (1).
class ValueHeadImpl : public torch::nn::Module {
public:
    explicit ValueHeadImpl(int64_t hidden_size, double dropout = 0.1);
    torch::Tensor forward(const torch::Tensor& hidden);
    Linear summary;

private:
    double dropout_;
};
TORCH_MODULE(ValueHead);

// A reward / value model: backbone + score (num_labels, C). Saved as <Arch>ForSequenceClassification.
class RewardModelImpl : public torch::nn::Module {
public:
    RewardModelImpl(std::shared_ptr<CausalLM> backbone, int64_t num_labels = 1);

    // scores at every position: (B, T, num_labels) -> squeezed to (B, T) when num_labels == 1
    torch::Tensor forward_all(const torch::Tensor& input_ids, const torch::Tensor& attention_mask);
    // The score at each row's last real token (last 1 of the mask, as HF uses the last non-pad
    // token): (B) when num_labels == 1, else (B, num_labels).
    torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask);

    // HF names: the backbone's (without lm_head.weight) + "score.weight".
    std::vector<std::pair<std::string, torch::Tensor>> hf_parameters() const;
    std::shared_ptr<CausalLM> backbone;
    Linear score;
    int64_t num_labels;
};
TORCH_MODULE(RewardModel);

// A reward model from a causal LM (e.g. the SFT policy); score ~ N(0, 1/sqrt(C+1)) from `seed`
// as TRL initialises reward heads.
RewardModel make_reward_model(std::shared_ptr<CausalLM> backbone, uint64_t seed = 0);
// config.json gets architectures [<Arch>ForSequenceClassification], num_labels, id2label/label2id.
void save_reward_model(RewardModel& model, const std::string& dir, const SaveOptions& options = {});
// Loads a folder saved by save_reward_model or by transformers (a causal LM's folder is refused:
// it has no score.weight).
RewardModel load_reward_model(const std::string& dir, const LoadOptions& options = {});

}  // namespace rlhf::model
