// The training algorithms as TrainTasks over core/model's CausalLM (DESIGN.md §5):
//   SftTask   — next-token loss on response tokens only
//   RmTask    — Bradley-Terry reward model (backbone + scalar score head), held-out accuracy
//   DpoTask   — DPO / IPO against a frozen reference (precomputed reference log-probs)
//   PpoTask   — rollouts, per-token KL penalty, adaptive/fixed KL, GAE, whitening, clipped
//               policy and value losses over ppo_epochs × minibatches, EOS penalty, KL stop
//   GrpoTask  — G samples per prompt, group-normalised advantages, clipped objective, k3 KL
// Inputs are token ids: the caller tokenizes prompt and response separately and they are
// concatenated here, so the boundary never merges into one token.
//
// Glossary: B = batch, P = prompt positions (left-padded), R = response positions,
// L = prompt + response positions, C = hidden size, V = vocab size, G = group size.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "core/model/heads.h"
#include "core/model/model.h"
#include "core/train/config.h"
#include "core/train/losses.h"
#include "core/train/trainer.h"

namespace rlhf::train {

using TokenIds = std::vector<int64_t>;

struct SftExampleIds {
    TokenIds prompt;    // not trained on
    TokenIds response;  // trained on
};
struct PreferenceIds {
    TokenIds prompt;
    TokenIds chosen;
    TokenIds rejected;
    double margin = 0.0;  // RM: per-pair margin (e.g. rating difference); 0 = none
};

// ---------------------------------------------------------------------------------------------
// Batching and log-probabilities

// prompt + response rows, right-padded with pad_id and cut to max_length (the response is cut).
// Built on the host, then copied to `device` (the model's) in one transfer per tensor.
struct SequenceBatch {
    torch::Tensor input_ids;       // (B, L) int64
    torch::Tensor attention_mask;  // (B, L) int64, 1 = real token
    torch::Tensor response_mask;   // (B, L) float, 1 = a response token (its log-prob is trained)
    torch::Tensor last_index;      // (B) int64, position of the last real token
};
SequenceBatch collate_sequences(const std::vector<const TokenIds*>& prompts, const std::vector<const TokenIds*>& responses,
                                int64_t pad_id, int64_t max_length, torch::Device device = torch::kCPU);

// Per-token log p(token_t | tokens_<t) at response positions: (B, L), 0 elsewhere, float32.
// temperature scales the logits first (PPO/GRPO score tokens as they were sampled).
torch::Tensor response_token_logprobs(model::CausalLM& model, const SequenceBatch& batch, double temperature = 1.0);

// Deep copy of a model's weights into a fresh module of the same config (the frozen reference).
std::shared_ptr<model::CausalLM> clone_model(const model::CausalLM& model);
// Freezes every parameter (requires_grad false) and switches to eval mode.
void freeze(torch::nn::Module& module);

// Samples up to max_new_tokens per prompt (temperature sampling with the KV cache). Prompts are
// left-padded. Responses stop at any of eos_ids (the EOS token is kept); later positions hold
// pad_id with mask 0.
// Randomness: without row_seeds, torch's default CPU generator (torch::multinomial). With
// row_seeds (one per prompt), row i draws its tokens from its own stream seeded by row_seeds[i]
// (one uniform per position, inverse-CDF over the softmax in float64), so a row's sample does not
// depend on which other rows share its batch or on which data-parallel rank generates it.
// Every tensor is on the model's device. With row_seeds the loop reads the host only every
// kRolloutHostCheckEvery tokens (has every row ended?) and once at the end; without them, after
// every token (the default generator's draws must not run past the last live token).
struct Rollout {
    torch::Tensor prompt_ids;     // (B, P) left-padded
    torch::Tensor prompt_mask;    // (B, P)
    torch::Tensor response_ids;   // (B, R)
    torch::Tensor response_mask;  // (B, R) float, 1 up to and including EOS
    torch::Tensor ended;          // (B) bool, emitted EOS
    torch::Tensor prompt_index;   // (B) int64: row -> index into the task's prompt list (PPO/GRPO set it)
};
constexpr int64_t kRolloutHostCheckEvery = 8;
Rollout sample_responses(model::CausalLM& model, const std::vector<TokenIds>& prompts, int64_t max_new_tokens,
                         double temperature, const TokenIds& eos_ids, int64_t pad_id,
                         const std::vector<uint64_t>& row_seeds = {});

// The seed of global rollout row `row` at optimizer step `step` of a run seeded `seed`
// (splitmix64 mixing): every rank derives the same seed for the same global row.
uint64_t rollout_row_seed(int64_t seed, int64_t step, int64_t row);

// Per-token log-probs (B, R) of a rollout's responses; with values_out, the value head's
// predictions (B, R) for the state before each response token.
torch::Tensor rollout_logprobs(model::CausalLM& model, const Rollout& r, double temperature,
                               model::ValueHead* value_head = nullptr, torch::Tensor* values_out = nullptr);

// ---------------------------------------------------------------------------------------------
// Shared plumbing: shuffled epochs over N examples with a seeded std::mt19937 (checkpointed).
class DataOrder {
public:
    DataOrder(size_t n, uint64_t seed, bool shuffle);
    std::vector<size_t> next(size_t count);  // the next `count` indices, wrapping into new epochs
    nlohmann::json save() const;
    void load(const nlohmann::json& j);
    size_t size() const { return n_; }

private:
    void reshuffle();
    size_t n_;
    bool shuffle_;
    std::mt19937_64 rng_;
    std::vector<size_t> order_;
    size_t pos_ = 0;
    int64_t epoch_ = 0;
};

// ---------------------------------------------------------------------------------------------
class SftTask : public TrainTask {
public:
    SftTask(std::shared_ptr<model::CausalLM> policy, std::vector<SftExampleIds> data, const TrainConfig& config,
            int64_t pad_id);
    torch::nn::Module& module() override { return *policy_; }
    torch::Tensor micro_batch_loss(StepContext& ctx) override;
    nlohmann::json save_state() const override { return {{"order", order_.save()}}; }
    void load_state(const nlohmann::json& s) override { order_.load(s.at("order")); }
    int64_t steps_per_epoch(int64_t grad_accum) const override;
    // Mean response-token loss over examples (no grad): for tests and eval.
    double evaluate(const std::vector<SftExampleIds>& examples);

private:
    std::shared_ptr<model::CausalLM> policy_;
    std::vector<SftExampleIds> data_;
    TrainConfig config_;
    int64_t pad_id_;
    DataOrder order_;
};

// Reward models are core/model's RewardModel (backbone + score head in the HF
// SequenceClassification layout); the reward of a sequence is the score at its last real token.
torch::Tensor reward_scores(model::RewardModel& rm, const SequenceBatch& batch);  // (B) float32

class RmTask : public TrainTask {
public:
    // The last eval_fraction of `data` is held out for accuracy.
    RmTask(model::RewardModel model, std::vector<PreferenceIds> data, const TrainConfig& config, int64_t pad_id);
    torch::nn::Module& module() override { return *model_; }
    torch::Tensor micro_batch_loss(StepContext& ctx) override;
    void end_step(StepContext& ctx, bool applied) override;
    nlohmann::json save_state() const override { return {{"order", order_.save()}}; }
    void load_state(const nlohmann::json& s) override { order_.load(s.at("order")); }
    int64_t steps_per_epoch(int64_t grad_accum) const override;
    // Fraction of pairs with r(chosen) > r(rejected) (no grad).
    double accuracy(const std::vector<PreferenceIds>& pairs);
    const std::vector<PreferenceIds>& held_out() const { return eval_; }

private:
    model::RewardModel model_;
    std::vector<PreferenceIds> train_, eval_;
    TrainConfig config_;
    int64_t pad_id_;
    DataOrder order_;
};

class DpoTask : public TrainTask {
public:
    // reference: frozen; its log-probs are computed once here, so it can be dropped afterwards.
    DpoTask(std::shared_ptr<model::CausalLM> policy, model::CausalLM& reference, std::vector<PreferenceIds> data,
            const TrainConfig& config, int64_t pad_id);
    torch::nn::Module& module() override { return *policy_; }
    torch::Tensor micro_batch_loss(StepContext& ctx) override;
    nlohmann::json save_state() const override { return {{"order", order_.save()}}; }
    void load_state(const nlohmann::json& s) override { order_.load(s.at("order")); }
    int64_t steps_per_epoch(int64_t grad_accum) const override;
    // Mean implicit reward margin β[(logπ_c − logπ_ref_c) − (logπ_r − logπ_ref_r)] over the data.
    double mean_margin();

private:
    std::pair<torch::Tensor, torch::Tensor> policy_logps(const std::vector<size_t>& idx);  // (B), (B)
    std::shared_ptr<model::CausalLM> policy_;
    std::vector<PreferenceIds> data_;
    std::vector<double> ref_chosen_, ref_rejected_;  // summed reference log-probs per pair
    TrainConfig config_;
    int64_t pad_id_;
    DataOrder order_;
};

// Reward of one response: rule functions (a verifier) and/or a reward model.
using RuleReward = std::function<double(const TokenIds& prompt, const TokenIds& response)>;
// Same, also told which prompt of the task's list the response answers (verifiers that compare
// with a field of that prompt's dataset row).
using IndexedRuleReward = std::function<double(int64_t prompt_index, const TokenIds& prompt, const TokenIds& response)>;

// The rules of a config's reward.rules (config.h RewardRule), evaluated on decoded text.
struct RuleInput {
    std::string response;                 // decoded response (special tokens skipped)
    int64_t response_tokens = 0;          // response tokens, EOS included (length unit "tokens")
    const std::string* answer = nullptr;  // exact_answer: the prompt row's dataset field; null = none
};
class RuleScorer {
public:
    // sentiment: text -> score (core/demo's judge_sentiment(text).score() in the CLI); it is
    // injected because core/train does not link core/demo. Required when a rule is "sentiment".
    explicit RuleScorer(std::vector<RewardRule> rules, std::function<double(const std::string&)> sentiment = {});
    double value(size_t rule, const RuleInput& in) const;  // the rule's unweighted value v
    double score(const RuleInput& in) const;               // Σ weight_i · v_i
    const std::vector<RewardRule>& rules() const { return rules_; }

private:
    std::vector<RewardRule> rules_;
    std::vector<std::shared_ptr<const std::regex>> regex_;  // per rule; null when it has no pattern
    std::vector<std::vector<std::string>> lower_words_;     // contains_any words, ASCII-lowercased
    std::function<double(const std::string&)> sentiment_;
};

// The policy with a value head (PPO's critic shares the policy's trunk, as TRL's
// AutoModelForCausalLMWithValueHead does).
class PolicyWithValueImpl : public torch::nn::Module {
public:
    explicit PolicyWithValueImpl(std::shared_ptr<model::CausalLM> policy);
    std::shared_ptr<model::CausalLM> policy;
    model::ValueHead value_head{nullptr};  // (B, T, C) -> (B, T), registered as "v_head"
};
TORCH_MODULE(PolicyWithValue);

struct RlOptions {
    TokenIds eos_ids;          // tokens that end a response
    int64_t pad_id = 0;        // padding token
    RuleReward rule_reward;    // added to the reward model's score when both are given
    IndexedRuleReward indexed_rule_reward;  // added too (rules that need the prompt's dataset row)
    model::RewardModel reward_model{nullptr};  // frozen; scores prompt+response
    double reward_model_weight = 1.0;          // reward = weight · RM score + rule rewards
    std::function<std::string(const TokenIds&)> decode;  // for Sample text; unset = no samples
    // Text of one token for Sample::extra's "tokens" (invalid UTF-8 is replaced); unset = decode({id}).
    std::function<std::string(int64_t)> token_piece;
    int64_t samples_per_rollout = 2;    // rows of each rollout reported as samples
    // Data parallelism: false (the default) gathers every rank's rollout rows so that advantage and
    // reward whitening, the adaptive KL's measured KL, GRPO's group baselines, minibatches and
    // token-mean normalisers cover the global batch (W ranks × B == 1 process × W·B). true keeps
    // each rank to its own slice (the behaviour before session 3); tests use it to show that the
    // equivalence test can fail.
    bool local_statistics = false;
};

// PPO and GRPO checkpoint their whole rollout (tensors, metrics, minibatches still to train), so a
// run stopped between two steps of one rollout resumes bitwise exactly instead of sampling anew.
class PpoTask : public TrainTask {
public:
    PpoTask(PolicyWithValue model, std::shared_ptr<model::CausalLM> reference, std::vector<TokenIds> prompts,
            const TrainConfig& config, RlOptions options);
    torch::nn::Module& module() override { return *model_; }
    void begin_step(StepContext& ctx) override;
    torch::Tensor micro_batch_loss(StepContext& ctx) override;
    nlohmann::json save_state() const override;
    void load_state(const nlohmann::json& s) override;
    double kl_coef() const { return kl_->value(); }

private:
    void make_rollout(StepContext& ctx);
    PolicyWithValue model_;
    std::shared_ptr<model::CausalLM> reference_;
    std::vector<TokenIds> prompts_;
    TrainConfig config_;
    RlOptions options_;
    DataOrder order_;
    std::unique_ptr<KlController> kl_;
    // The current rollout and the minibatches still to train on.
    Rollout rollout_;
    torch::Tensor old_logprobs_, ref_logprobs_, old_values_, advantages_, returns_;  // (B, R)
    std::vector<std::vector<int64_t>> pending_;  // minibatch row indices
    Metrics rollout_metrics_;
};

class GrpoTask : public TrainTask {
public:
    GrpoTask(std::shared_ptr<model::CausalLM> policy, std::shared_ptr<model::CausalLM> reference,
             std::vector<TokenIds> prompts, const TrainConfig& config, RlOptions options);
    torch::nn::Module& module() override { return *policy_; }
    void begin_step(StepContext& ctx) override;
    torch::Tensor micro_batch_loss(StepContext& ctx) override;
    nlohmann::json save_state() const override;
    void load_state(const nlohmann::json& s) override;
    // Mean rule reward of `samples` responses per prompt (no grad), for tests.
    double mean_reward(const std::vector<TokenIds>& prompts, int64_t samples);

private:
    std::shared_ptr<model::CausalLM> policy_, reference_;
    std::vector<TokenIds> prompts_;
    TrainConfig config_;
    RlOptions options_;
    DataOrder order_;
    Rollout rollout_;
    torch::Tensor old_logprobs_, ref_logprobs_, advantages_;  // (B·G, R), (B·G, R), (B·G)
    int64_t iterations_left_ = 0;
    Metrics rollout_metrics_;
};

// Score of prompt+response rows under a reward model and/or rules: (B) float32.
// reward_model_weight · RM + rule_reward + indexed_rule_reward (given r.prompt_index).
torch::Tensor score_responses(const RlOptions& options, const Rollout& r, int64_t max_length);

// The rows [rank·B, (rank+1)·B) of a global batch of world_size·B draws (data parallelism: every
// rank draws the same global batch from the same seeded order and trains on its slice).
std::vector<size_t> rank_slice(const std::vector<size_t>& global, int64_t rank, int64_t world_size);

}  // namespace rlhf::train
