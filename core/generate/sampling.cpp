// Logits processors and the sampler. B = batch, V = vocab.
#include "core/generate/sampling.h"

#include <limits>

#include "core/io/error.h"

namespace rlhf::generate {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// splitmix64 (Steele et al. 2014): decorrelates the per-row seeds (seed, row).
uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// A uniform in [0, 1) with 24 bits (exact in float32).
float uniform01(std::mt19937_64& rng) { return static_cast<float>((rng() >> 40) * (1.0 / 16777216.0)); }
}  // namespace

torch::Tensor filter_top_k(const torch::Tensor& logits, int64_t k) {
    if (k <= 0 || k >= logits.size(-1)) return logits;
    auto kth = std::get<0>(logits.topk(k, -1)).narrow(-1, k - 1, 1);  // (B, 1)
    return logits.masked_fill(logits < kth, kNegInf);
}

torch::Tensor filter_top_p(const torch::Tensor& logits, double top_p) {
    if (top_p >= 1.0) return logits;
    auto [sorted, idx] = logits.sort(-1, /*descending=*/false);     // (B, V) ascending
    auto cum = sorted.softmax(-1).cumsum(-1);                        // (B, V)
    auto remove_sorted = cum <= (1.0 - top_p);
    remove_sorted.narrow(-1, logits.size(-1) - 1, 1).fill_(false);   // keep the most likely
    auto remove = remove_sorted.scatter(-1, idx, remove_sorted);
    return logits.masked_fill(remove, kNegInf);
}

torch::Tensor filter_min_p(const torch::Tensor& logits, double min_p) {
    if (min_p <= 0.0) return logits;
    auto probs = logits.softmax(-1);                                    // (B, V)
    auto threshold = std::get<0>(probs.max(-1, /*keepdim=*/true)) * min_p;  // (B, 1)
    return logits.masked_fill(probs < threshold, kNegInf);
}

torch::Tensor apply_repetition_penalty(const torch::Tensor& logits, const torch::Tensor& seen, double penalty) {
    if (penalty == 1.0 || !seen.defined()) return logits;
    auto penalised = torch::where(logits < 0, logits * penalty, logits / penalty);
    return torch::where(seen, penalised, logits);
}

namespace {
// top-k followed by top-p, with the nucleus found among the k survivors instead of by sorting
// the whole vocabulary: topk already returns them sorted, and every other token is -inf after
// top-k, so it sits first in filter_top_p's ascending sort and adds exactly 0 to its cumulative
// sum. Same kept set (the softmax normaliser is summed in another order, which can move a
// token whose cumulative probability is within float rounding of 1 - top_p — never seen in
// practice); a full sort of (B, V) costs O(V log V) per row per step (~50k entries for GPT-2,
// ~150k for Qwen) against O(V) for topk: 5.0 -> 0.8 ms per row per step at V = 152k, 1 thread.
// Not the same when a row has ties at the k-th logit (filter_top_k keeps them all): `ties`
// (0-dim bool, on the device) then tells the caller to take the sorting path. Requires k < V.
struct TopKTopP {
    torch::Tensor logits;  // (B, V)
    torch::Tensor ties;    // () bool: some row has a tie at the k-th logit
};
TopKTopP filter_top_k_top_p(const torch::Tensor& logits, int64_t k, double top_p) {
    // One more than k: the (k+1)-th largest equal to the k-th means filter_top_k keeps a tie
    // beyond k (a full pass comparing against the k-th costs as much as topk itself).
    auto [vals1, idx1] = logits.topk(k + 1, -1);                        // (B, k+1) descending
    auto ties = vals1.select(-1, k).eq(vals1.select(-1, k - 1)).any();  // ()
    auto asc = vals1.narrow(-1, 0, k).flip({-1});                       // (B, k) ascending
    auto asc_idx = idx1.narrow(-1, 0, k).flip({-1});
    auto cum = asc.softmax(-1).cumsum(-1);                              // (B, k)
    auto remove = cum <= (1.0 - top_p);
    remove.narrow(-1, k - 1, 1).fill_(false);                           // keep the most likely
    auto kept = asc.masked_fill(remove, kNegInf);                       // (B, k)
    return {torch::full_like(logits, kNegInf).scatter_(-1, asc_idx, kept), ties};  // (B, V)
}
}  // namespace

torch::Tensor process_logits(const torch::Tensor& logits_in, const torch::Tensor& seen, const SamplingParams& p,
                             torch::Tensor* inexact) {
    if (inexact) *inexact = torch::Tensor();
    auto logits = apply_repetition_penalty(logits_in.to(torch::kFloat32), seen, p.repetition_penalty);
    bool greedy = !p.do_sample || p.temperature <= 0.0;
    if (greedy) return logits;
    if (p.temperature != 1.0) logits = logits / p.temperature;
    if (p.top_k > 0 && p.top_k < logits.size(-1) && p.top_p < 1.0) {
        auto fast = filter_top_k_top_p(logits, p.top_k, p.top_p);
        if (inexact) {
            *inexact = fast.ties;
            logits = fast.logits;
        } else {
            // Both paths and a choice on the device, as `if (ties) sorted else fast` would choose.
            logits = torch::where(fast.ties, filter_top_p(filter_top_k(logits, p.top_k), p.top_p), fast.logits);
        }
    } else {
        logits = filter_top_k(logits, p.top_k);
        logits = filter_top_p(logits, p.top_p);
    }
    logits = filter_min_p(logits, p.min_p);
    return logits;
}

torch::Tensor to_device_async(const torch::Tensor& host, const torch::Device& device) {
    if (device.is_cpu()) return host;
    if (device.is_cuda()) return host.pin_memory().to(device, /*non_blocking=*/true);
    return host.to(device);
}

Sampler::Sampler(const SamplingParams& params, int64_t batch)
    : params_(params), greedy_(!params.do_sample || params.temperature <= 0.0) {
    if (params.top_p <= 0.0 || params.top_p > 1.0) throw Error("sampling: top_p must be in (0, 1]");
    if (params.min_p < 0.0 || params.min_p > 1.0) throw Error("sampling: min_p must be in [0, 1]");
    if (params.top_k < 0) throw Error("sampling: top_k must not be negative");
    if (params.repetition_penalty <= 0.0) throw Error("sampling: repetition_penalty must be positive");
    for (int64_t i = 0; i < batch; ++i)
        rngs_.emplace_back(splitmix64(params.seed ^ splitmix64(static_cast<uint64_t>(i) + 1)));
}

// (steps, B, 1) uniforms, step-major: row i's values come from rngs_[i] in call order.
void Sampler::draw_block(int64_t steps, const torch::Device& device) {
    const auto b = static_cast<int64_t>(rngs_.size());
    block_next_ = 0;
    if (greedy_ || steps <= 0) {
        block_ = torch::Tensor();
        return;
    }
    std::vector<float> u(static_cast<size_t>(steps * b));
    for (int64_t s = 0; s < steps; ++s)
        for (int64_t i = 0; i < b; ++i) u[s * b + i] = uniform01(rngs_[i]);
    block_ = to_device_async(torch::tensor(u).view({steps, b, 1}), device);
}

torch::Tensor Sampler::uniforms(int64_t b, const torch::Device& device) {
    if (block_.defined() && block_next_ < block_.size(0)) return block_[block_next_++];  // (B, 1)
    block_ = torch::Tensor();
    std::vector<float> u(static_cast<size_t>(b));
    for (int64_t i = 0; i < b; ++i) u[i] = uniform01(rngs_[i]);
    return to_device_async(torch::tensor(u).view({b, 1}), device);
}

std::pair<torch::Tensor, torch::Tensor> Sampler::next(const torch::Tensor& logits, const torch::Tensor& seen,
                                                       torch::Tensor* inexact) {
    auto processed = process_logits(logits, seen, params_, inexact);  // (B, V) float32
    auto logp = processed.log_softmax(-1);                             // (B, V)
    torch::Tensor tokens;
    if (greedy_) {
        tokens = processed.argmax(-1);  // (B)
    } else {
        // Inverse-CDF sampling with uniforms from the per-row CPU RNGs: the same on every device.
        auto uniform = uniforms(processed.size(0), processed.device());  // (B, 1)
        auto probs = logp.exp();                                   // (B, V), zeros where filtered
        auto cdf = probs.cumsum(-1);                                // (B, V)
        auto target = uniform * cdf.narrow(-1, cdf.size(-1) - 1, 1);  // (B, 1)
        // right=true: the first index whose cdf exceeds the target, so a zero-probability token
        // (cdf equal to its predecessor's) is never chosen.
        tokens = torch::searchsorted(cdf, target, /*out_int32=*/false, /*right=*/true)
                     .clamp_max(processed.size(-1) - 1).squeeze(-1);  // (B)
        // Float rounding at the very top of the CDF can put the target at the total itself, and
        // the clamp then lands on a filtered tail token: take the most likely one instead. On
        // the device for every row (a (B, V) argmax per step) rather than a host read of
        // "did it happen" per step; the same tokens either way.
        auto chosen_p = probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1);
        tokens = torch::where(chosen_p > 0, tokens, probs.argmax(-1));
    }
    auto token_logp = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1);  // (B)
    return {tokens, token_logp};
}

}  // namespace rlhf::generate
