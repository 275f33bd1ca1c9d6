// The online algorithms (they sample from the policy while training): PPO and GRPO.
// One translation unit on purpose: each <torch/torch.h> TU costs CI minutes.
#include <chrono>
#include <cmath>

#include <torch/torch.h>

#include "core/io/error.h"
#include "core/train/algorithms.h"
#include "core/train/losses.h"

namespace rlhf::train {

namespace {
using Clock = std::chrono::steady_clock;

Rollout select_rows(const Rollout& r, const torch::Tensor& rows) {
    Rollout s;
    s.prompt_ids = r.prompt_ids.index_select(0, rows);
    s.prompt_mask = r.prompt_mask.index_select(0, rows);
    s.response_ids = r.response_ids.index_select(0, rows);
    s.response_mask = r.response_mask.index_select(0, rows);
    s.ended = r.ended.index_select(0, rows);
    return s;
}

std::vector<TokenIds> pick(const std::vector<TokenIds>& all, const std::vector<size_t>& idx, int64_t repeat) {
    std::vector<TokenIds> out;
    for (size_t i : idx)
        for (int64_t g = 0; g < repeat; ++g) out.push_back(all[i]);
    return out;
}

void add_samples(StepContext& ctx, const RlOptions& o, const Rollout& r, const torch::Tensor& scores) {
    if (!o.decode) return;
    for (int64_t i = 0; i < std::min<int64_t>(o.samples_per_rollout, r.prompt_ids.size(0)); ++i) {
        TokenIds p, c;
        for (int64_t t = 0; t < r.prompt_ids.size(1); ++t)
            if (r.prompt_mask[i][t].item<int64_t>()) p.push_back(r.prompt_ids[i][t].item<int64_t>());
        for (int64_t t = 0; t < r.response_ids.size(1); ++t)
            if (r.response_mask[i][t].item<float>() > 0) c.push_back(r.response_ids[i][t].item<int64_t>());
        ctx.samples.push_back(Sample{o.decode(p), o.decode(c), scores[i].item<double>()});
    }
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// PPO

PolicyWithValueImpl::PolicyWithValueImpl(std::shared_ptr<model::CausalLM> p) : policy(std::move(p)) {
    register_module("policy", policy);
    // No dropout: the values of a rollout and of its training passes must be comparable.
    value_head = register_module("v_head", model::ValueHead(policy->config().hidden_size, /*dropout=*/0.0));
    torch::NoGradGuard no_grad;
    // A zero head starts every value at 0: early advantages are then the returns themselves.
    value_head->summary->weight.zero_();
    value_head->summary->bias.zero_();
    value_head->to(policy->device(), policy->dtype());
}

PpoTask::PpoTask(PolicyWithValue model, std::shared_ptr<model::CausalLM> reference, std::vector<TokenIds> prompts,
                 const TrainConfig& config, RlOptions options)
    : model_(std::move(model)), reference_(std::move(reference)), prompts_(std::move(prompts)), config_(config),
      options_(std::move(options)), order_(prompts_.size(), static_cast<uint64_t>(config.seed), config.data.shuffle) {
    if (config_.ppo.adaptive_kl)
        kl_ = std::make_unique<AdaptiveKlController>(config_.ppo.kl_coef, config_.ppo.kl_target, config_.ppo.kl_horizon);
    else
        kl_ = std::make_unique<FixedKlController>(config_.ppo.kl_coef);
    if ((config_.ppo.ppo_epochs * config_.ppo.minibatches) % config_.grad_accum != 0)
        throw Error("ppo: ppo.ppo_epochs × ppo.minibatches must be a multiple of grad_accum");
    if (!options_.rule_reward && !options_.reward_model) throw Error("ppo: needs a reward model or a rule reward");
    freeze(*reference_);
    if (options_.reward_model) freeze(*options_.reward_model);
}

nlohmann::json PpoTask::save_state() const {
    // A checkpoint inside a rollout's minibatches resumes by sampling a fresh rollout.
    return {{"order", order_.save()}, {"kl_coef", kl_->value()}};
}

void PpoTask::load_state(const nlohmann::json& s) {
    order_.load(s.at("order"));
    kl_->set_value(s.at("kl_coef").get<double>());
    pending_.clear();
}

void PpoTask::make_rollout(StepContext& ctx) {
    const auto t0 = Clock::now();
    auto& policy = *model_->policy;
    auto idx = order_.next(static_cast<size_t>(config_.batch_size));
    rollout_ = sample_responses(policy, pick(prompts_, idx, 1), config_.ppo.response_length, config_.ppo.temperature,
                                options_.eos_ids, options_.pad_id);
    const double generate_s = std::chrono::duration<double>(Clock::now() - t0).count();
    torch::NoGradGuard no_grad;
    const bool was_training = model_->is_training();
    model_->eval();
    const double temp = config_.ppo.temperature;
    old_logprobs_ = rollout_logprobs(policy, rollout_, temp, &model_->value_head, &old_values_);  // (B, R)
    auto ref_logprobs = rollout_logprobs(*reference_, rollout_, temp);                           // (B, R)
    if (was_training) model_->train();
    auto mask = rollout_.response_mask;  // (B, R)
    auto scores = score_responses(options_, rollout_, config_.data.max_length);  // (B)
    if (config_.ppo.eos_penalty != 0)
        scores = torch::where(rollout_.ended, scores, scores + config_.ppo.eos_penalty);
    // Per-token reward: −β KL_t everywhere, plus the score on the last response token.
    auto kl = kl_penalty(old_logprobs_, ref_logprobs, KlEstimator::K1) * mask;  // (B, R)
    auto non_score = -kl_->value() * kl;                                        // (B, R)
    auto last = (mask.sum(1) - 1).clamp_min(0).to(torch::kInt64);              // (B)
    auto rewards = non_score.clone();
    rewards.scatter_add_(1, last.unsqueeze(1), scores.unsqueeze(1));
    if (config_.ppo.whiten_rewards) rewards = whiten(rewards, mask, /*shift_mean=*/false);
    auto gae = gae_advantages(rewards, old_values_, mask, config_.ppo.gamma, config_.ppo.lam);
    advantages_ = whiten(gae.advantages, mask);
    returns_ = gae.returns;
    const double mean_kl = kl.sum(1).mean().item<double>();
    rollout_metrics_.clear();
    rollout_metrics_["objective/scores"] = scores.mean().item<double>();
    rollout_metrics_["objective/kl"] = mean_kl;
    rollout_metrics_["objective/non_score_reward"] = non_score.sum(1).mean().item<double>();
    rollout_metrics_["objective/rlhf_reward"] = (scores + non_score.sum(1)).mean().item<double>();
    // TRL's estimate: the sampled tokens' negative log-likelihood per sequence.
    rollout_metrics_["objective/entropy"] = (-old_logprobs_ * mask).sum(1).mean().item<double>();
    rollout_metrics_["kl_coef"] = kl_->value();
    rollout_metrics_["response_length"] = mask.sum(1).mean().item<double>();
    rollout_metrics_["timing/generate_s"] = generate_s;
    add_samples(ctx, options_, rollout_, scores);
    // Ziegler et al. 2019: the controller sees the KL of each batch of episodes.
    kl_->update(mean_kl, config_.batch_size);
    if (config_.guards.kl_stop > 0 && mean_kl > config_.guards.kl_stop) ctx.stop_reason = "kl_stop";
    // ppo_epochs passes, each a fresh permutation split into minibatches.
    pending_.clear();
    const int64_t b = rollout_.response_ids.size(0), mb = b / config_.ppo.minibatches;
    for (int64_t e = 0; e < config_.ppo.ppo_epochs; ++e) {
        auto perm = torch::randperm(b, torch::kInt64);
        for (int64_t m = 0; m < config_.ppo.minibatches; ++m) {
            auto rows = perm.narrow(0, m * mb, mb);
            pending_.emplace_back(rows.data_ptr<int64_t>(), rows.data_ptr<int64_t>() + mb);
        }
    }
}

void PpoTask::begin_step(StepContext& ctx) {
    if (pending_.empty()) make_rollout(ctx);
    ctx.metrics = rollout_metrics_;
}

torch::Tensor PpoTask::micro_batch_loss(StepContext& ctx) {
    if (pending_.empty()) throw Error("ppo: no minibatch left (grad_accum does not divide the rollout's minibatches)");
    const auto t0 = Clock::now();
    auto rows = torch::tensor(pending_.front(), torch::kInt64);
    pending_.erase(pending_.begin());
    model_->train();
    auto sub = select_rows(rollout_, rows);
    auto mask = sub.response_mask;
    torch::Tensor values;
    auto logprobs = rollout_logprobs(*model_->policy, sub, config_.ppo.temperature, &model_->value_head, &values);  // (b, R)
    auto pl = ppo_policy_loss(logprobs, old_logprobs_.index_select(0, rows), advantages_.index_select(0, rows), mask,
                              config_.ppo.cliprange);
    auto vl = ppo_value_loss(values, old_values_.index_select(0, rows), returns_.index_select(0, rows), mask,
                             config_.ppo.cliprange_value);
    ctx.metrics["policy/approxkl_avg"] = pl.approxkl.item<double>();
    ctx.metrics["policy/clipfrac_avg"] = pl.clipfrac.item<double>();
    ctx.metrics["loss/policy_avg"] = pl.loss.item<double>();
    ctx.metrics["loss/value_avg"] = vl.loss.item<double>();
    ctx.metrics["val/clipfrac_avg"] = vl.clipfrac.item<double>();
    ctx.metrics["val/ratio"] = pl.ratio.item<double>();
    ctx.metrics["timing/train_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
    ctx.metrics["num_tokens"] = mask.sum().item<double>();
    return pl.loss + config_.ppo.vf_coef * vl.loss;
}

// ---------------------------------------------------------------------------------------------
// GRPO

GrpoTask::GrpoTask(std::shared_ptr<model::CausalLM> policy, std::shared_ptr<model::CausalLM> reference,
                   std::vector<TokenIds> prompts, const TrainConfig& config, RlOptions options)
    : policy_(std::move(policy)), reference_(std::move(reference)), prompts_(std::move(prompts)), config_(config),
      options_(std::move(options)), order_(prompts_.size(), static_cast<uint64_t>(config.seed), config.data.shuffle) {
    if (!options_.rule_reward && !options_.reward_model) throw Error("grpo: needs a reward model or a rule reward");
    if (config_.grpo.beta > 0 && !reference_) throw Error("grpo: grpo.beta > 0 needs a reference model");
    if (reference_) freeze(*reference_);
    if (options_.reward_model) freeze(*options_.reward_model);
}

void GrpoTask::begin_step(StepContext& ctx) {
    if (iterations_left_ == 0) {
        const auto t0 = Clock::now();
        auto idx = order_.next(static_cast<size_t>(config_.batch_size));
        rollout_ = sample_responses(*policy_, pick(prompts_, idx, config_.grpo.group_size), config_.grpo.response_length,
                                    config_.grpo.temperature, options_.eos_ids, options_.pad_id);
        torch::NoGradGuard no_grad;
        old_logprobs_ = rollout_logprobs(*policy_, rollout_, config_.grpo.temperature);  // (B·G, R)
        if (config_.grpo.beta > 0) ref_logprobs_ = rollout_logprobs(*reference_, rollout_, config_.grpo.temperature);
        auto scores = score_responses(options_, rollout_, config_.data.max_length);       // (B·G)
        advantages_ = grpo_advantages(scores, config_.grpo.group_size, 1e-4, config_.grpo.scale_rewards);
        rollout_metrics_.clear();
        rollout_metrics_["reward"] = scores.mean().item<double>();
        rollout_metrics_["reward_std"] = scores.view({-1, config_.grpo.group_size}).std(1).mean().item<double>();
        rollout_metrics_["completion_length"] = rollout_.response_mask.sum(1).mean().item<double>();
        rollout_metrics_["timing/generate_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
        add_samples(ctx, options_, rollout_, scores);
        iterations_left_ = config_.grpo.iterations;
    }
    --iterations_left_;
    ctx.metrics = rollout_metrics_;
}

torch::Tensor GrpoTask::micro_batch_loss(StepContext& ctx) {
    policy_->train();
    // grad_accum splits the B·G rows into equal micro-batches.
    const int64_t n = rollout_.response_ids.size(0);
    const int64_t per = (n + ctx.grad_accum - 1) / ctx.grad_accum;
    const int64_t start = ctx.micro * per, count = std::min(per, n - start);
    auto rows = torch::arange(start, start + count, torch::kInt64);
    auto sub = select_rows(rollout_, rows);
    auto logprobs = rollout_logprobs(*policy_, sub, config_.grpo.temperature);  // (b, R)
    auto res = grpo_loss(logprobs, old_logprobs_.index_select(0, rows),
                         config_.grpo.beta > 0 ? ref_logprobs_.index_select(0, rows) : torch::Tensor(),
                         advantages_.index_select(0, rows), sub.response_mask, config_.grpo.cliprange, config_.grpo.beta);
    ctx.metrics["kl"] = res.kl.item<double>();
    ctx.metrics["clip_ratio"] = res.clip_ratio.item<double>();
    ctx.metrics["num_tokens"] = sub.response_mask.sum().item<double>();
    if (config_.guards.kl_stop > 0 && res.kl.item<double>() > config_.guards.kl_stop) ctx.stop_reason = "kl_stop";
    return res.loss;
}

double GrpoTask::mean_reward(const std::vector<TokenIds>& prompts, int64_t samples) {
    auto r = sample_responses(*policy_, pick(prompts, [&] {
        std::vector<size_t> all(prompts.size());
        for (size_t i = 0; i < all.size(); ++i) all[i] = i;
        return all;
    }(), samples), config_.grpo.response_length, config_.grpo.temperature, options_.eos_ids, options_.pad_id);
    return score_responses(options_, r, config_.data.max_length).mean().item<double>();
}

}  // namespace rlhf::train
