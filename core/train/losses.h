// The math of RLHF training as pure functions on tensors: reward-model, DPO/IPO, PPO (GAE,
// whitening, clipped policy and value losses, KL penalty and controllers) and GRPO. Nothing here
// knows about models or data; algorithm classes (sft.cpp, ppo.cpp, ...) feed these.
//
// Glossary: B = batch (sequences), T = response tokens, V = vocab size, G = group size (GRPO).
// Masks are float or bool tensors of the same shape as the values they mask, 1 = counted.
#pragma once
#include <cstdint>

#include <torch/types.h>

namespace rlhf::train {

// ---------------------------------------------------------------------------------------------
// Masked reductions

// Sum / mean of x over positions where mask != 0. Whole tensor -> scalar.
torch::Tensor masked_sum(const torch::Tensor& x, const torch::Tensor& mask);
torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& mask);
// Along one dimension (e.g. dim=1 for per-sequence means of (B, T) values -> (B)).
torch::Tensor masked_sum(const torch::Tensor& x, const torch::Tensor& mask, int64_t dim);
torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& mask, int64_t dim);
// Variance over the masked positions; unbiased (n / (n - 1)) like TRL's masked_var.
torch::Tensor masked_var(const torch::Tensor& x, const torch::Tensor& mask, bool unbiased = true);

// Normalises x to zero mean and unit variance over the masked positions (Ziegler et al. 2019
// whiten advantages per batch). shift_mean=false adds the mean back (TRL does this for rewards).
// Positions with mask == 0 come back as 0.
torch::Tensor whiten(const torch::Tensor& x, const torch::Tensor& mask, bool shift_mean = true);

// ---------------------------------------------------------------------------------------------
// Log-probabilities and entropy from logits

// Up to this many bytes of a float32 (B, T, V) temporary, the functions below work on the whole
// batch at once; above it, one sequence at a time, so only a (T, V) temporary exists. Batched is
// faster (measured in session 2 on CPU at B=4, T=128, V=8192: 62.6 ms per-row -> 35.1 ms batched
// for logprobs forward+backward) but holds B× the memory; 256 MiB covers typical CPU batches and
// keeps a large-vocabulary GPU batch (e.g. 8 × 1024 × 151936 × 4 B = 4.6 GiB) row by row.
constexpr int64_t kBatchedSoftmaxBytes = int64_t(256) << 20;

// logits: (B, T, V), labels: (B, T) int64 -> log p(label): (B, T), in float32 whatever the
// logits dtype. batched_bytes: the budget above (tests force either path); both paths compute
// the same values and gradients.
torch::Tensor logprobs_from_logits(const torch::Tensor& logits, const torch::Tensor& labels,
                                   int64_t batched_bytes = kBatchedSoftmaxBytes);
// logits: (B, T, V) -> entropy of softmax(logits): (B, T), float32, batched or row by row like above.
torch::Tensor entropy_from_logits(const torch::Tensor& logits, int64_t batched_bytes = kBatchedSoftmaxBytes);

// ---------------------------------------------------------------------------------------------
// Reward model (Bradley-Terry)

struct PairwiseLossResult {
    torch::Tensor loss;              // scalar, differentiable
    torch::Tensor accuracy;          // scalar: fraction with r_chosen > r_rejected
    torch::Tensor rewards_chosen;    // scalar: mean r_chosen (detached)
    torch::Tensor rewards_rejected;  // scalar: mean r_rejected (detached)
    torch::Tensor rewards_margins;   // scalar: mean (r_chosen - r_rejected) (detached)
};

// r_chosen, r_rejected: (B). loss = mean(-log σ(r_c − r_r − margin)); margin (B) or undefined
// (Llama 2 paper, §3.2.2: a margin from the preference rating).
PairwiseLossResult bradley_terry_loss(const torch::Tensor& r_chosen, const torch::Tensor& r_rejected,
                                      const torch::Tensor& margin = {});

// ---------------------------------------------------------------------------------------------
// DPO (Rafailov et al. 2023) and IPO (Azar et al. 2023)

enum class DpoLossType { Sigmoid, Ipo };

struct DpoLossResult {
    torch::Tensor loss;              // scalar, differentiable
    torch::Tensor rewards_chosen;    // scalar: mean β (logπ(y_c) − logπ_ref(y_c)) (detached)
    torch::Tensor rewards_rejected;  // scalar: mean β (logπ(y_r) − logπ_ref(y_r)) (detached)
    torch::Tensor rewards_margins;   // scalar: mean (chosen − rejected rewards)
    torch::Tensor rewards_accuracies;  // scalar: fraction with chosen reward > rejected reward
    torch::Tensor logps_chosen;      // scalar: mean policy log-prob of chosen (detached)
    torch::Tensor logps_rejected;    // scalar: mean policy log-prob of rejected (detached)
};

// All inputs (B): summed (or, for IPO as its paper does, averaged) sequence log-probs.
// h = (logπ_c − logπ_r) − (logπ_ref_c − logπ_ref_r)
// sigmoid: −(1−ε) log σ(β h) − ε log σ(−β h)   (ε = label_smoothing, cDPO)
// ipo:     (h − 1/(2β))²
DpoLossResult dpo_loss(const torch::Tensor& policy_chosen_logps, const torch::Tensor& policy_rejected_logps,
                       const torch::Tensor& ref_chosen_logps, const torch::Tensor& ref_rejected_logps,
                       double beta, DpoLossType type = DpoLossType::Sigmoid, double label_smoothing = 0.0);

// ---------------------------------------------------------------------------------------------
// PPO (Schulman et al. 2017; Ziegler et al. 2019; InstructGPT)

struct GaeResult {
    torch::Tensor advantages;  // (B, T), 0 where mask == 0
    torch::Tensor returns;     // (B, T) = advantages + values
};

// rewards, values, mask: (B, T). Generalised advantage estimation (Schulman et al. 2016),
// computed backwards: δ_t = r_t + γ V_{t+1} m_{t+1} − V_t, A_t = δ_t + γ λ m_{t+1} A_{t+1}.
// The value after the last valid token (end of sequence or end of tensor) is 0: the episode
// ends there, nothing is bootstrapped.
GaeResult gae_advantages(const torch::Tensor& rewards, const torch::Tensor& values,
                         const torch::Tensor& mask, double gamma, double lam);

struct PolicyLossResult {
    torch::Tensor loss;      // scalar, differentiable: masked mean of max(−A r, −A clip(r))
    torch::Tensor clipfrac;  // scalar: fraction of tokens where the clipped term was taken
    torch::Tensor approxkl;  // scalar: ½ mean (logπ − logπ_old)²  (TRL's approxkl)
    torch::Tensor ratio;     // scalar: mean ratio π/π_old
};

// logprobs, old_logprobs, advantages, mask: (B, T).
PolicyLossResult ppo_policy_loss(const torch::Tensor& logprobs, const torch::Tensor& old_logprobs,
                                 const torch::Tensor& advantages, const torch::Tensor& mask,
                                 double cliprange);

struct ValueLossResult {
    torch::Tensor loss;      // scalar, differentiable: ½ masked mean of max((V−R)², (V_clip−R)²)
    torch::Tensor clipfrac;  // scalar: fraction of tokens where the clipped term was larger
};

// values, old_values, returns, mask: (B, T); V_clip = clamp(V, V_old − c, V_old + c).
ValueLossResult ppo_value_loss(const torch::Tensor& values, const torch::Tensor& old_values,
                               const torch::Tensor& returns, const torch::Tensor& mask,
                               double cliprange_value);

// Per-token KL estimators (Schulman, "Approximating KL divergence", 2020), samples from π.
enum class KlEstimator {
    K1,  // logπ − logπ_ref (unbiased, can be negative)
    K2,  // ½ (logπ − logπ_ref)²
    K3,  // exp(r) − r − 1 with r = logπ_ref − logπ (unbiased, always >= 0)
};
// logprobs, ref_logprobs: (B, T) -> (B, T)
torch::Tensor kl_penalty(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs,
                         KlEstimator estimator = KlEstimator::K1);

// KL coefficient controllers. state is two doubles so checkpoints can store it.
class KlController {
public:
    virtual ~KlController() = default;
    double value() const { return value_; }
    void set_value(double v) { value_ = v; }  // restore from a checkpoint
    // current_kl: measured KL of the last batch (mean over sequences, summed over tokens);
    // n_steps: number of samples (episodes) that went into it.
    virtual void update(double current_kl, int64_t n_steps) = 0;

protected:
    explicit KlController(double v) : value_(v) {}
    double value_;
};

class FixedKlController : public KlController {
public:
    explicit FixedKlController(double kl_coef) : KlController(kl_coef) {}
    void update(double, int64_t) override {}
};

// Ziegler et al. 2019, §2.2: e = clip(KL/target − 1, −0.2, 0.2); β ← β (1 + e · n_steps / horizon).
class AdaptiveKlController : public KlController {
public:
    AdaptiveKlController(double init_kl_coef, double target, double horizon)
        : KlController(init_kl_coef), target_(target), horizon_(horizon) {}
    void update(double current_kl, int64_t n_steps) override;

private:
    double target_;   // the KL we steer to (nats)
    double horizon_;  // samples over which the error would be corrected (e.g. 10000)
};

// ---------------------------------------------------------------------------------------------
// GRPO (Shao et al. 2024, DeepSeekMath)

// rewards: (B * G), G consecutive completions per prompt -> advantages (B * G):
// (r − mean_group) / (std_group + eps), std unbiased as torch.std (what TRL computes).
// scale=false skips the division (Dr. GRPO, Liu et al. 2025).
torch::Tensor grpo_advantages(const torch::Tensor& rewards, int64_t group_size, double eps = 1e-4,
                              bool scale = true);

struct GrpoLossResult {
    torch::Tensor loss;        // scalar, differentiable
    torch::Tensor kl;          // scalar: masked mean k3 KL to the reference (0 when beta == 0)
    torch::Tensor clip_ratio;  // scalar: fraction of tokens where the clipped term was taken
};

// logprobs, old_logprobs, ref_logprobs, mask: (B, T); advantages: (B). Per token:
// −min(r A, clip(r, 1−c, 1+c) A) + β k3(logπ, logπ_ref); averaged over each sequence's tokens,
// then over sequences (the paper's 1/G Σ 1/|o_i| Σ_t). ref_logprobs may be undefined if beta == 0.
GrpoLossResult grpo_loss(const torch::Tensor& logprobs, const torch::Tensor& old_logprobs,
                         const torch::Tensor& ref_logprobs, const torch::Tensor& advantages,
                         const torch::Tensor& mask, double cliprange, double beta);

}  // namespace rlhf::train
