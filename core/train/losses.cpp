// Loss functions and estimators of RLHF training; see losses.h for the formulas and sources.
#include "core/train/losses.h"

#include <algorithm>
#include <string>

#include <torch/torch.h>

#include "core/io/error.h"

namespace rlhf::train {

namespace {
torch::Tensor as_float_mask(const torch::Tensor& mask, const torch::Tensor& like) {
    return mask.to(like.scalar_type());
}

void require_same_shape(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
    if (a.sizes() != b.sizes())
        throw Error(std::string("core/train/losses: ") + what + ": shape mismatch");
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Masked reductions

torch::Tensor masked_sum(const torch::Tensor& x, const torch::Tensor& mask) {
    return (x * as_float_mask(mask, x)).sum();
}

torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& mask) {
    auto m = as_float_mask(mask, x);
    // clamp_min: an all-masked batch gives 0, not NaN (0 / 0).
    return (x * m).sum() / m.sum().clamp_min(1.0);
}

torch::Tensor masked_sum(const torch::Tensor& x, const torch::Tensor& mask, int64_t dim) {
    return (x * as_float_mask(mask, x)).sum(dim);
}

torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& mask, int64_t dim) {
    auto m = as_float_mask(mask, x);
    return (x * m).sum(dim) / m.sum(dim).clamp_min(1.0);
}

torch::Tensor masked_var(const torch::Tensor& x, const torch::Tensor& mask, bool unbiased) {
    auto m = as_float_mask(mask, x);
    auto mean = masked_mean(x, m);
    auto centered = x - mean;
    auto var = masked_mean(centered * centered, m);
    if (unbiased) {
        auto n = m.sum();
        // Bessel's correction n / (n - 1); with a single sample there is no spread to correct.
        var = torch::where(n > 1, var * n / (n - 1).clamp_min(1.0), var);
    }
    return var;
}

torch::Tensor whiten(const torch::Tensor& x, const torch::Tensor& mask, bool shift_mean) {
    auto m = as_float_mask(mask, x);
    auto mean = masked_mean(x, m);
    auto var = masked_var(x, m, /*unbiased=*/true);
    auto out = (x - mean) * torch::rsqrt(var + 1e-8);
    if (!shift_mean) out = out + mean;
    return out * m;
}

// ---------------------------------------------------------------------------------------------
// Log-probabilities and entropy

namespace {
// Whether a float32 copy of logits (B, T, V) fits the batched budget.
bool fits_batched(const torch::Tensor& logits, int64_t batched_bytes) {
    return logits.numel() <= batched_bytes / static_cast<int64_t>(sizeof(float));
}
}  // namespace

torch::Tensor logprobs_from_logits(const torch::Tensor& logits, const torch::Tensor& labels, int64_t batched_bytes) {
    // logits: (B, T, V), labels: (B, T)
    if (logits.dim() != 3 || labels.dim() != 2 || logits.size(0) != labels.size(0) ||
        logits.size(1) != labels.size(1))
        throw Error("core/train/losses: logprobs_from_logits: expected logits (B, T, V) and labels (B, T)");
    // log p(label) = logit[label] − logsumexp(logits): no (…, V) log-softmax is materialised.
    if (fits_batched(logits, batched_bytes)) {
        auto x = logits.to(torch::kFloat32);                                   // (B, T, V)
        auto picked = x.gather(-1, labels.unsqueeze(-1)).squeeze(-1);          // (B, T)
        return picked - torch::logsumexp(x, -1);                               // (B, T)
    }
    std::vector<torch::Tensor> rows;
    rows.reserve(static_cast<size_t>(logits.size(0)));
    for (int64_t b = 0; b < logits.size(0); ++b) {
        auto row = logits[b].to(torch::kFloat32);                               // (T, V)
        auto picked = row.gather(-1, labels[b].unsqueeze(-1)).squeeze(-1);     // (T)
        rows.push_back(picked - torch::logsumexp(row, -1));                      // (T)
    }
    return torch::stack(rows);  // (B, T)
}

torch::Tensor entropy_from_logits(const torch::Tensor& logits, int64_t batched_bytes) {
    if (logits.dim() != 3) throw Error("core/train/losses: entropy_from_logits: expected logits (B, T, V)");
    // H = −Σ p log p
    if (fits_batched(logits, batched_bytes)) {
        auto logp = torch::log_softmax(logits.to(torch::kFloat32), -1);  // (B, T, V)
        return -(logp.exp() * logp).sum(-1);                              // (B, T)
    }
    std::vector<torch::Tensor> rows;
    rows.reserve(static_cast<size_t>(logits.size(0)));
    for (int64_t b = 0; b < logits.size(0); ++b) {
        auto row = logits[b].to(torch::kFloat32);  // (T, V)
        auto logp = torch::log_softmax(row, -1);   // (T, V)
        rows.push_back(-(logp.exp() * logp).sum(-1));  // (T)
    }
    return torch::stack(rows);  // (B, T)
}

// ---------------------------------------------------------------------------------------------
// Reward model

PairwiseLossResult bradley_terry_loss(const torch::Tensor& r_chosen, const torch::Tensor& r_rejected,
                                      const torch::Tensor& margin) {
    require_same_shape(r_chosen, r_rejected, "bradley_terry_loss");
    auto diff = r_chosen - r_rejected;  // (B)
    auto logits = margin.defined() ? diff - margin.to(diff.scalar_type()) : diff;
    PairwiseLossResult out;
    out.loss = -torch::nn::functional::logsigmoid(logits).mean();
    auto d = diff.detach();
    out.accuracy = (d > 0).to(torch::kFloat32).mean();
    out.rewards_chosen = r_chosen.detach().mean();
    out.rewards_rejected = r_rejected.detach().mean();
    out.rewards_margins = d.mean();
    return out;
}

// ---------------------------------------------------------------------------------------------
// DPO / IPO

DpoLossResult dpo_loss(const torch::Tensor& policy_chosen_logps, const torch::Tensor& policy_rejected_logps,
                       const torch::Tensor& ref_chosen_logps, const torch::Tensor& ref_rejected_logps,
                       double beta, DpoLossType type, double label_smoothing) {
    require_same_shape(policy_chosen_logps, policy_rejected_logps, "dpo_loss");
    require_same_shape(policy_chosen_logps, ref_chosen_logps, "dpo_loss");
    require_same_shape(policy_chosen_logps, ref_rejected_logps, "dpo_loss");
    if (beta <= 0) throw Error("core/train/losses: dpo_loss: beta must be > 0");
    auto chosen_logratio = policy_chosen_logps - ref_chosen_logps;        // (B)
    auto rejected_logratio = policy_rejected_logps - ref_rejected_logps;  // (B)
    auto h = chosen_logratio - rejected_logratio;                          // (B)
    torch::Tensor losses;
    if (type == DpoLossType::Sigmoid) {
        namespace F = torch::nn::functional;
        losses = -F::logsigmoid(beta * h) * (1.0 - label_smoothing) - F::logsigmoid(-beta * h) * label_smoothing;
    } else {
        auto d = h - 1.0 / (2.0 * beta);
        losses = d * d;
    }
    DpoLossResult out;
    out.loss = losses.mean();
    auto rc = beta * chosen_logratio.detach();
    auto rr = beta * rejected_logratio.detach();
    out.rewards_chosen = rc.mean();
    out.rewards_rejected = rr.mean();
    out.rewards_margins = (rc - rr).mean();
    out.rewards_accuracies = (rc > rr).to(torch::kFloat32).mean();
    out.logps_chosen = policy_chosen_logps.detach().mean();
    out.logps_rejected = policy_rejected_logps.detach().mean();
    return out;
}

// ---------------------------------------------------------------------------------------------
// PPO

GaeResult gae_advantages(const torch::Tensor& rewards, const torch::Tensor& values, const torch::Tensor& mask,
                         double gamma, double lam) {
    require_same_shape(rewards, values, "gae_advantages(rewards, values)");
    require_same_shape(rewards, mask, "gae_advantages(rewards, mask)");
    if (rewards.dim() != 2) throw Error("core/train/losses: gae_advantages: expected (B, T) tensors");
    torch::NoGradGuard no_grad;
    auto m = as_float_mask(mask, values);
    auto v = values * m;
    auto r = rewards * m;
    const int64_t T = rewards.size(1);
    std::vector<torch::Tensor> adv(static_cast<size_t>(T));
    auto last = torch::zeros({rewards.size(0)}, values.options());  // A_{t+1}: (B)
    for (int64_t t = T - 1; t >= 0; --t) {
        // m_{t+1}: the next token exists in this sequence; otherwise the episode ended at t.
        auto next_mask = t + 1 < T ? m.select(1, t + 1) : torch::zeros_like(last);
        auto next_value = t + 1 < T ? v.select(1, t + 1) : torch::zeros_like(last);
        auto delta = r.select(1, t) + gamma * next_value * next_mask - v.select(1, t);
        last = delta + gamma * lam * next_mask * last;
        adv[static_cast<size_t>(t)] = last;
    }
    GaeResult out;
    out.advantages = torch::stack(adv, 1) * m;  // (B, T)
    out.returns = (out.advantages + v) * m;     // (B, T)
    return out;
}

PolicyLossResult ppo_policy_loss(const torch::Tensor& logprobs, const torch::Tensor& old_logprobs,
                                 const torch::Tensor& advantages, const torch::Tensor& mask, double cliprange) {
    require_same_shape(logprobs, old_logprobs, "ppo_policy_loss(logprobs, old_logprobs)");
    require_same_shape(logprobs, advantages, "ppo_policy_loss(logprobs, advantages)");
    auto log_ratio = logprobs - old_logprobs;  // (B, T)
    auto ratio = torch::exp(log_ratio);        // (B, T)
    auto pg1 = -advantages * ratio;
    auto pg2 = -advantages * torch::clamp(ratio, 1.0 - cliprange, 1.0 + cliprange);
    PolicyLossResult out;
    out.loss = masked_mean(torch::max(pg1, pg2), mask);
    torch::NoGradGuard no_grad;
    out.clipfrac = masked_mean((pg2 > pg1).to(logprobs.scalar_type()), mask);
    out.approxkl = 0.5 * masked_mean(log_ratio.detach() * log_ratio.detach(), mask);
    out.ratio = masked_mean(ratio.detach(), mask);
    return out;
}

ValueLossResult ppo_value_loss(const torch::Tensor& values, const torch::Tensor& old_values,
                               const torch::Tensor& returns, const torch::Tensor& mask, double cliprange_value) {
    require_same_shape(values, old_values, "ppo_value_loss(values, old_values)");
    require_same_shape(values, returns, "ppo_value_loss(values, returns)");
    auto clipped = torch::max(torch::min(values, old_values + cliprange_value), old_values - cliprange_value);
    auto vf1 = (values - returns).pow(2);
    auto vf2 = (clipped - returns).pow(2);
    ValueLossResult out;
    out.loss = 0.5 * masked_mean(torch::max(vf1, vf2), mask);
    torch::NoGradGuard no_grad;
    out.clipfrac = masked_mean((vf2 > vf1).to(values.scalar_type()), mask);
    return out;
}

torch::Tensor kl_penalty(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs, KlEstimator estimator) {
    require_same_shape(logprobs, ref_logprobs, "kl_penalty");
    switch (estimator) {
    case KlEstimator::K1:
        return logprobs - ref_logprobs;
    case KlEstimator::K2: {
        auto d = logprobs - ref_logprobs;
        return 0.5 * d * d;
    }
    case KlEstimator::K3: {
        auto r = ref_logprobs - logprobs;
        return torch::exp(r) - r - 1.0;
    }
    }
    throw Error("core/train/losses: kl_penalty: unknown estimator");
}

void AdaptiveKlController::update(double current_kl, int64_t n_steps) {
    double error = std::clamp(current_kl / target_ - 1.0, -0.2, 0.2);
    value_ *= 1.0 + error * static_cast<double>(n_steps) / horizon_;
}

// ---------------------------------------------------------------------------------------------
// GRPO

torch::Tensor grpo_advantages(const torch::Tensor& rewards, int64_t group_size, double eps, bool scale) {
    if (rewards.dim() != 1 || group_size < 1 || rewards.size(0) % group_size != 0)
        throw Error("core/train/losses: grpo_advantages: rewards must be (B * G) with G = " +
                    std::to_string(group_size));
    torch::NoGradGuard no_grad;
    auto grouped = rewards.view({-1, group_size}).to(torch::kFloat32);  // (B, G)
    auto mean = grouped.mean(1, /*keepdim=*/true);                      // (B, 1)
    auto adv = grouped - mean;
    if (scale) {
        // A group of one has no spread (torch.std would be NaN); its advantage is 0 anyway.
        auto std = group_size > 1 ? grouped.std(1, /*unbiased=*/true, /*keepdim=*/true) : torch::zeros_like(mean);
        adv = adv / (std + eps);
    }
    return adv.view({-1});  // (B * G)
}

GrpoLossResult grpo_loss(const torch::Tensor& logprobs, const torch::Tensor& old_logprobs,
                         const torch::Tensor& ref_logprobs, const torch::Tensor& advantages,
                         const torch::Tensor& mask, double cliprange, double beta) {
    require_same_shape(logprobs, old_logprobs, "grpo_loss(logprobs, old_logprobs)");
    auto ratio = torch::exp(logprobs - old_logprobs);  // (B, T)
    auto a = advantages.to(logprobs.scalar_type()).unsqueeze(1);  // (B, 1)
    auto term1 = ratio * a;
    auto term2 = torch::clamp(ratio, 1.0 - cliprange, 1.0 + cliprange) * a;
    auto per_token = -torch::min(term1, term2);  // (B, T)
    GrpoLossResult out;
    if (beta != 0.0) {
        if (!ref_logprobs.defined()) throw Error("core/train/losses: grpo_loss: beta > 0 needs ref_logprobs");
        auto kl = kl_penalty(logprobs, ref_logprobs, KlEstimator::K3);  // (B, T)
        per_token = per_token + beta * kl;
        out.kl = masked_mean(kl.detach(), mask);
    } else {
        out.kl = torch::zeros({}, logprobs.options());
    }
    out.loss = masked_mean(per_token, mask, /*dim=*/1).mean();
    torch::NoGradGuard no_grad;
    out.clip_ratio = masked_mean((term2 < term1).to(logprobs.scalar_type()), mask);
    return out;
}

}  // namespace rlhf::train
