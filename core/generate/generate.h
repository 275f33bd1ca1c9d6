// Batched generation: left-padded prompts, one preallocated KV cache, sampling (sampling.h),
// stop on EOS ids or stop strings, per-token streaming, cancellation.
// B = batch, P = longest prompt, N = max_new_tokens, K = host_check_every.
//
// The decode loop never waits for the device (issue 12): EOS ends a row on the device (finished
// rows are fed padding from the next step, as before), tokens and log-probs collect in device
// tensors, and the host reads them once every K steps and at the end. It then replays those
// steps in order — streaming, stop strings, cancellation — and trims whatever a row generated
// after it stopped, so the result does not depend on K.
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
    // Streaming: called for every token a row emits (the EOS token included), in order (step by
    // step, rows in order within a step), in bursts of up to K steps' tokens at each host check.
    std::function<void(int64_t row, int32_t token)> on_token;
    // Polled before every step (an atomic load, no device read); rows end as Cancelled. Setting
    // it from on_token stops generation after that token's step, whatever K.
    const std::atomic<bool>* cancel = nullptr;
    int64_t pad_token_id = 0;               // fills left padding and finished rows (masked out)
    // K: the host reads the generated tokens once every K decode steps (one device-to-host copy,
    // on a GPU one synchronisation) and at the end; stop strings, on_token and the end of the
    // loop when every row has stopped are seen there. Results are the same for every K >= 1; a
    // larger K waits less and wastes up to K - 1 steps after the last row stops. 16 keeps the
    // waste small next to typical outputs; 1 reads after every step.
    int64_t host_check_every = 16;
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
    int64_t host_checks = 0;            // host reads generate() made: ceil(steps run / K), + 1 per replayed block
};

// Runs under torch::NoGradGuard. Rows are independent: a prompt's output does not depend on
// the other prompts of the batch (up to float reassociation), and with a seed the whole call
// is reproducible. Throws rlhf::Error on an empty batch, an empty prompt, stop_strings without
// decode, or prompt + max_new_tokens beyond the model's max positions (GPT-2).
GenerateResult generate(model::CausalLM& model, const std::vector<std::vector<int32_t>>& prompts,
                        const GenerateOptions& options);

}  // namespace rlhf::generate
