// The offline algorithms (fixed datasets, no generation): SFT, reward model, DPO/IPO.
// One translation unit on purpose: each <torch/torch.h> TU costs CI minutes.
#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "core/io/error.h"
#include "core/model/device.h"
#include "core/train/algorithms.h"
#include "core/train/losses.h"

namespace rlhf::train {

namespace {
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Response mask for the loss: position 0 has nothing before it to predict it from.
torch::Tensor trainable_mask(const SequenceBatch& batch) {
    auto m = batch.response_mask.clone();  // (B, L)
    m.select(1, 0).zero_();
    return m;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// SFT

SftTask::SftTask(std::shared_ptr<model::CausalLM> policy, std::vector<SftExampleIds> data, const TrainConfig& config,
                 int64_t pad_id)
    : policy_(std::move(policy)), data_(std::move(data)), config_(config), pad_id_(pad_id),
      order_(data_.size(), static_cast<uint64_t>(config.seed), config.data.shuffle) {}

int64_t SftTask::steps_per_epoch(int64_t grad_accum) const {
    return ceil_div(static_cast<int64_t>(data_.size()), config_.batch_size * grad_accum);
}

torch::Tensor SftTask::micro_batch_loss(StepContext& ctx) {
    policy_->train();
    // Every rank draws the same global batch of world_size · batch_size and trains on its slice.
    const auto global = order_.next(static_cast<size_t>(config_.batch_size * ctx.world_size));
    const auto idx = shard(global, ctx);
    auto collate = [&](const std::vector<size_t>& rows) {
        std::vector<const TokenIds*> prompts, responses;
        for (size_t i : rows) {
            prompts.push_back(&data_[i].prompt);
            responses.push_back(&data_[i].response);
        }
        return collate_sequences(prompts, responses, pad_id_, config_.data.max_length, policy_->device());
    };
    auto batch = collate(idx);
    auto lp = response_token_logprobs(*policy_, batch);  // (B, L)
    auto mask = trainable_mask(batch);
    ctx.metrics["num_tokens"] = model::host_scalar(batch.attention_mask.sum());
    // Token-level mean over the micro-batch's response tokens (TRL's default).
    if (ctx.world_size <= 1) return -masked_mean(lp, mask);
    // Data parallel: the slices hold different token counts, so the mean of per-rank means is not
    // the global token mean. Divide this slice's sum by the global batch's token count (known to
    // every rank: same indices) and scale by world_size; the trainer's gradient mean over ranks
    // then equals the gradient of the global token mean, as one process with the whole batch.
    const double global_tokens = std::max(1.0, model::host_scalar(trainable_mask(collate(global)).sum()));
    return -masked_sum(lp, mask) * (static_cast<double>(ctx.world_size) / global_tokens);
}

double SftTask::evaluate(const std::vector<SftExampleIds>& examples) {
    torch::NoGradGuard no_grad;
    const bool was_training = policy_->is_training();
    policy_->eval();
    double sum = 0, count = 0;
    for (size_t start = 0; start < examples.size(); start += static_cast<size_t>(config_.batch_size)) {
        std::vector<const TokenIds*> prompts, responses;
        for (size_t i = start; i < std::min(examples.size(), start + static_cast<size_t>(config_.batch_size)); ++i) {
            prompts.push_back(&examples[i].prompt);
            responses.push_back(&examples[i].response);
        }
        auto batch = collate_sequences(prompts, responses, pad_id_, config_.data.max_length, policy_->device());
        auto mask = trainable_mask(batch);
        sum += -model::host_scalar(masked_sum(response_token_logprobs(*policy_, batch), mask));
        count += model::host_scalar(mask.sum());
    }
    if (was_training) policy_->train();
    return count > 0 ? sum / count : 0.0;
}

// ---------------------------------------------------------------------------------------------
// Reward model

RmTask::RmTask(model::RewardModel model, std::vector<PreferenceIds> data, const TrainConfig& config, int64_t pad_id)
    : model_(std::move(model)), config_(config), pad_id_(pad_id),
      order_([&] {
          const size_t n_eval = static_cast<size_t>(std::floor(static_cast<double>(data.size()) * config.data.eval_fraction));
          eval_.assign(data.end() - static_cast<std::ptrdiff_t>(n_eval), data.end());
          train_.assign(data.begin(), data.end() - static_cast<std::ptrdiff_t>(n_eval));
          return train_.size();
      }(), static_cast<uint64_t>(config.seed), config.data.shuffle) {}

int64_t RmTask::steps_per_epoch(int64_t grad_accum) const {
    return ceil_div(static_cast<int64_t>(train_.size()), config_.batch_size * grad_accum);
}

namespace {
// Chosen rows then rejected rows in one batch: one forward for both.
SequenceBatch pair_batch(const std::vector<PreferenceIds>& data, const std::vector<size_t>& idx, int64_t pad_id,
                         int64_t max_length, torch::Device device) {
    std::vector<const TokenIds*> prompts, responses;
    for (size_t i : idx) {
        prompts.push_back(&data[i].prompt);
        responses.push_back(&data[i].chosen);
    }
    for (size_t i : idx) {
        prompts.push_back(&data[i].prompt);
        responses.push_back(&data[i].rejected);
    }
    return collate_sequences(prompts, responses, pad_id, max_length, device);
}
}  // namespace

torch::Tensor RmTask::micro_batch_loss(StepContext& ctx) {
    model_->train();
    // Same global batch on every rank, this rank's equal slice: the pair mean of the slices'
    // means is the global batch's mean.
    const auto idx = shard(order_.next(static_cast<size_t>(config_.batch_size * ctx.world_size)), ctx);
    auto batch = pair_batch(train_, idx, pad_id_, config_.data.max_length, model_->backbone->device());
    auto rewards = reward_scores(model_, batch);  // (2B)
    const int64_t b = static_cast<int64_t>(idx.size());
    auto rc = rewards.narrow(0, 0, b), rr = rewards.narrow(0, b, b);  // (B), (B)
    torch::Tensor margin;
    if (config_.rm.use_score_margin || config_.rm.margin > 0) {
        std::vector<double> m;
        for (size_t i : idx) m.push_back(config_.rm.use_score_margin ? train_[i].margin : config_.rm.margin);
        margin = torch::tensor(m, torch::kFloat32).to(rewards.device());
    }
    auto res = bradley_terry_loss(rc, rr, margin);
    ctx.metrics["accuracy"] = model::host_scalar(res.accuracy);
    ctx.metrics["rewards/chosen"] = model::host_scalar(res.rewards_chosen);
    ctx.metrics["rewards/rejected"] = model::host_scalar(res.rewards_rejected);
    ctx.metrics["rewards/margins"] = model::host_scalar(res.rewards_margins);
    ctx.metrics["num_tokens"] = model::host_scalar(batch.attention_mask.sum());
    return res.loss;
}

void RmTask::end_step(StepContext& ctx, bool) {
    // Held-out accuracy every 10 steps (and at step 1), so the curve is there without slowing every step.
    if (!eval_.empty() && (ctx.step % 10 == 9 || ctx.step == 0)) ctx.metrics["eval/accuracy"] = accuracy(eval_);
}

double RmTask::accuracy(const std::vector<PreferenceIds>& pairs) {
    if (pairs.empty()) return 0.0;
    torch::NoGradGuard no_grad;
    const bool was_training = model_->is_training();
    model_->eval();
    int64_t correct = 0;
    for (size_t start = 0; start < pairs.size(); start += static_cast<size_t>(config_.batch_size)) {
        std::vector<size_t> idx;
        for (size_t i = start; i < std::min(pairs.size(), start + static_cast<size_t>(config_.batch_size)); ++i) idx.push_back(i);
        auto rewards = reward_scores(model_, pair_batch(pairs, idx, pad_id_, config_.data.max_length, model_->backbone->device()));
        const int64_t b = static_cast<int64_t>(idx.size());
        correct += static_cast<int64_t>(model::host_scalar((rewards.narrow(0, 0, b) > rewards.narrow(0, b, b)).sum()));
    }
    if (was_training) model_->train();
    return static_cast<double>(correct) / static_cast<double>(pairs.size());
}

// ---------------------------------------------------------------------------------------------
// DPO / IPO

namespace {
// Summed (or, for IPO, per-token averaged as in its paper's TRL implementation) response log-probs
// of chosen rows (first B) and rejected rows (last B).
std::pair<torch::Tensor, torch::Tensor> pair_logps(model::CausalLM& model, const std::vector<PreferenceIds>& data,
                                                   const std::vector<size_t>& idx, int64_t pad_id, int64_t max_length,
                                                   bool average) {
    auto batch = pair_batch(data, idx, pad_id, max_length, model.device());
    auto mask = trainable_mask(batch);
    auto lp = response_token_logprobs(model, batch);  // (2B, L)
    auto per_seq = average ? masked_mean(lp, mask, 1) : masked_sum(lp, mask, 1);  // (2B)
    const int64_t b = static_cast<int64_t>(idx.size());
    return {per_seq.narrow(0, 0, b), per_seq.narrow(0, b, b)};
}
}  // namespace

DpoTask::DpoTask(std::shared_ptr<model::CausalLM> policy, model::CausalLM& reference, std::vector<PreferenceIds> data,
                 const TrainConfig& config, int64_t pad_id)
    : policy_(std::move(policy)), data_(std::move(data)), config_(config), pad_id_(pad_id),
      order_(data_.size(), static_cast<uint64_t>(config.seed), config.data.shuffle) {
    // The reference never changes: score every pair once (Rafailov et al.: π_ref is fixed).
    torch::NoGradGuard no_grad;
    const bool was_training = reference.is_training();
    reference.eval();
    const bool average = config_.dpo.loss == DpoLoss::Ipo;
    for (size_t start = 0; start < data_.size(); start += static_cast<size_t>(config_.batch_size)) {
        std::vector<size_t> idx;
        for (size_t i = start; i < std::min(data_.size(), start + static_cast<size_t>(config_.batch_size)); ++i) idx.push_back(i);
        auto [c, r] = pair_logps(reference, data_, idx, pad_id_, config_.data.max_length, average);
        auto hc = model::to_host(c.to(torch::kFloat64)), hr = model::to_host(r.to(torch::kFloat64));  // (B), (B)
        for (int64_t i = 0; i < hc.size(0); ++i) {
            ref_chosen_.push_back(hc.data_ptr<double>()[i]);
            ref_rejected_.push_back(hr.data_ptr<double>()[i]);
        }
    }
    if (was_training) reference.train();
}

int64_t DpoTask::steps_per_epoch(int64_t grad_accum) const {
    return ceil_div(static_cast<int64_t>(data_.size()), config_.batch_size * grad_accum);
}

std::pair<torch::Tensor, torch::Tensor> DpoTask::policy_logps(const std::vector<size_t>& idx) {
    return pair_logps(*policy_, data_, idx, pad_id_, config_.data.max_length, config_.dpo.loss == DpoLoss::Ipo);
}

torch::Tensor DpoTask::micro_batch_loss(StepContext& ctx) {
    policy_->train();
    // As RmTask: this rank's equal slice of the global batch every rank drew.
    const auto idx = shard(order_.next(static_cast<size_t>(config_.batch_size * ctx.world_size)), ctx);
    auto [pc, pr] = policy_logps(idx);
    std::vector<double> rc, rr;
    for (size_t i : idx) {
        rc.push_back(ref_chosen_[i]);
        rr.push_back(ref_rejected_[i]);
    }
    auto res = dpo_loss(pc, pr, torch::tensor(rc, torch::kFloat32).to(pc.device()),
                        torch::tensor(rr, torch::kFloat32).to(pc.device()), config_.dpo.beta,
                        config_.dpo.loss == DpoLoss::Ipo ? DpoLossType::Ipo : DpoLossType::Sigmoid,
                        config_.dpo.label_smoothing);
    ctx.metrics["rewards/chosen"] = model::host_scalar(res.rewards_chosen);
    ctx.metrics["rewards/rejected"] = model::host_scalar(res.rewards_rejected);
    ctx.metrics["rewards/accuracies"] = model::host_scalar(res.rewards_accuracies);
    ctx.metrics["rewards/margins"] = model::host_scalar(res.rewards_margins);
    ctx.metrics["logps/chosen"] = model::host_scalar(res.logps_chosen);
    ctx.metrics["logps/rejected"] = model::host_scalar(res.logps_rejected);
    return res.loss;
}

double DpoTask::mean_margin() {
    torch::NoGradGuard no_grad;
    const bool was_training = policy_->is_training();
    policy_->eval();
    double sum = 0;
    for (size_t start = 0; start < data_.size(); start += static_cast<size_t>(config_.batch_size)) {
        std::vector<size_t> idx;
        for (size_t i = start; i < std::min(data_.size(), start + static_cast<size_t>(config_.batch_size)); ++i) idx.push_back(i);
        auto [pc, pr] = policy_logps(idx);
        auto hc = model::to_host(pc.to(torch::kFloat64)), hr = model::to_host(pr.to(torch::kFloat64));  // (B), (B)
        for (size_t k = 0; k < idx.size(); ++k) {
            const size_t i = idx[k];
            sum += config_.dpo.beta * ((hc.data_ptr<double>()[k] - ref_chosen_[i]) - (hr.data_ptr<double>()[k] - ref_rejected_[i]));
        }
    }
    if (was_training) policy_->train();
    return sum / static_cast<double>(data_.size());
}

}  // namespace rlhf::train
