// Next-token choice: logits processors (repetition penalty, temperature, top-k, top-p, min-p) with
// transformers' semantics, and a sampler whose randomness comes from explicit per-row RNGs, so a
// seed reproduces the same tokens on CPU and CUDA and a row does not depend on its batch mates.
// B = batch, V = vocab.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include <torch/torch.h>

namespace rlhf::generate {

struct SamplingParams {
    bool do_sample = false;           // false: greedy (argmax); true: sample
    double temperature = 1.0;         // logits / temperature before filtering; <= 0 means greedy
    int64_t top_k = 0;                // keep the k most likely tokens; 0 = off
    double top_p = 1.0;               // nucleus: smallest set with probability >= top_p; 1 = off
    double min_p = 0.0;               // keep tokens with p >= min_p * p_max (Nguyen et al. 2024); 0 = off
    double repetition_penalty = 1.0;  // CTRL (Keskar et al. 2019): divide positive / multiply negative
                                      // logits of tokens already in prompt or output; 1 = off
    uint64_t seed = 0;                // row i draws from an RNG seeded by (seed, i)
};

// Each takes logits (B, V) float32 and returns them with removed tokens set to -inf.
// top-k: removes logits below the k-th largest (ties with it are kept, as HF does).
torch::Tensor filter_top_k(const torch::Tensor& logits, int64_t k);
// top-p as HF's TopPLogitsWarper: sort ascending, drop tokens whose cumulative probability is
// <= 1 - top_p, always keep the most likely one.
torch::Tensor filter_top_p(const torch::Tensor& logits, double top_p);
// min-p as HF's MinPLogitsWarper: drop tokens with p < min_p * max p.
torch::Tensor filter_min_p(const torch::Tensor& logits, double min_p);
// seen: (B, V) bool, the tokens present in each row's prompt and output so far.
torch::Tensor apply_repetition_penalty(const torch::Tensor& logits, const torch::Tensor& seen, double penalty);

// Repetition penalty, then (when sampling) temperature, top-k, top-p, min-p — HF's order.
// With top-k and top-p both on, the nucleus is found among the k survivors (a topk, no sort of the
// vocabulary), which equals the two filters in sequence unless a row has ties at the k-th logit;
// then the whole batch takes the sorting path. That choice is made on the device, never by
// reading a flag on the host (issue 12): without `inexact`, both paths run and torch::where keeps
// the right one (exact, but a full (B, V) sort per call); with `inexact`, only the fast path runs
// and *inexact receives a 0-dim bool device tensor, true when it was not the right path (the
// caller checks it later and redoes the call without `inexact`); undefined when the fast path
// does not apply.
torch::Tensor process_logits(const torch::Tensor& logits, const torch::Tensor& seen, const SamplingParams& params,
                             torch::Tensor* inexact = nullptr);

class Sampler {
public:
    Sampler(const SamplingParams& params, int64_t batch);
    // logits: (B, V) raw model output (any float dtype). Returns tokens (B) int64 and their
    // log-probabilities (B) float32 under the distribution actually sampled from: log_softmax of
    // the processed logits (after penalty, temperature and filtering, renormalised). For greedy
    // decoding that is log_softmax of the logits after the repetition penalty, temperature 1.
    // No host read: the uniforms come from the host (a copy to the device, not a read), and
    // `inexact` is process_logits'.
    std::pair<torch::Tensor, torch::Tensor> next(const torch::Tensor& logits, const torch::Tensor& seen,
                                                 torch::Tensor* inexact = nullptr);
    bool greedy() const { return greedy_; }

    // Block decoding (generate.cpp): draws the uniforms of the next `steps` calls of next() now —
    // the same values in the same order as drawn one call at a time, each row from its own RNG —
    // and copies them to `device` in one transfer instead of one per call. rewind_block() makes
    // the next calls reuse that block from its start, so a block of steps replayed samples the
    // same tokens. next() past the end of a block draws one call's uniforms as before.
    void draw_block(int64_t steps, const torch::Device& device);
    void rewind_block() { block_next_ = 0; }

private:
    torch::Tensor uniforms(int64_t b, const torch::Device& device);  // (B, 1) float32

    SamplingParams params_;
    bool greedy_;
    std::vector<std::mt19937_64> rngs_;  // one per row
    torch::Tensor block_;                // (steps, B, 1) float32 on the device, from draw_block
    int64_t block_next_ = 0;             // next step of block_ to hand out
};

// `host` (a CPU tensor) on `device` without a synchronisation: through pinned memory and a
// non-blocking copy on CUDA (a plain .to(cuda) from pageable memory waits for the stream). A copy
// to the device, never a host read.
torch::Tensor to_device_async(const torch::Tensor& host, const torch::Device& device);

}  // namespace rlhf::generate
