// Batched generation: left-padded prompts, one preallocated KV cache, sampling (sampling.h),
// stop on EOS ids or stop strings, per-token streaming, cancellation.
// B = batch, P = longest prompt, N = max_new_tokens.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/generate/sampling.h"
#include "core/model/model.h"

namespace rlhf::generate {

enum class FinishReason { Eos, StopString, Length, Cancelled };
const char* finish_reason_name(FinishReason r);  // "eos", "stop", "length", "cancelled"

struct GenerateOptions {
    SamplingParams sampling;
    int64_t max_new_tokens = 128;           // N: tokens generated at most per row
    std::vector<int64_t> eos_token_ids;     // a row stops after emitting one (generation_config.json)
    std::vector<std::string> stop_strings;  // a row stops when its decoded output contains one
    // Decodes a row's generated ids to text; required for stop_strings and GenerateResult::texts.
    std::function<std::string(const std::vector<int32_t>&)> decode;
    // Streaming: called for every token a row emits (the EOS token included), in order.
    std::function<void(int64_t row, int32_t token)> on_token;
    const std::atomic<bool>* cancel = nullptr;  // polled before every step; rows end as Cancelled
    int64_t pad_token_id = 0;               // fills left padding and finished rows (masked out)
};

struct GenerateResult {
    std::vector<std::vector<int32_t>> tokens;   // per row: the generated ids (EOS / stop token included)
    std::vector<std::vector<float>> logprobs;   // per row: log p of each of those tokens (see Sampler::next)
    std::vector<FinishReason> finish;           // per row
    std::vector<std::string> texts;             // per row, when decode is set: output cut before a stop string
    torch::Tensor sequences;            // (B, P + N') int64: left-padded prompts + outputs padded right
    torch::Tensor attention_mask;       // (B, P + N') int64: 1 on real prompt and output tokens
    torch::Tensor completion_mask;      // (B, N') int64: 1 on each row's output tokens
    torch::Tensor completion_logprobs;  // (B, N') float32: logprobs, 0 where completion_mask is 0
    int64_t prompt_length = 0;          // P
};

// Runs under torch::NoGradGuard. Rows are independent: a prompt's output does not depend on
// the other prompts of the batch (up to float reassociation), and with a seed the whole call
// is reproducible. Throws rlhf::Error on an empty batch, an empty prompt, stop_strings without
// decode, or prompt + max_new_tokens beyond the model's max positions (GPT-2).
GenerateResult generate(model::CausalLM& model, const std::vector<std::vector<int32_t>>& prompts,
                        const GenerateOptions& options);

}  // namespace rlhf::generate
