// The generation loop: prefill all prompts at once (left-padded), then one token per step for
// every unfinished row, reusing the KV cache, in blocks of K steps with one host read each
// (generate.h). B = batch, P = longest prompt, V = vocab, K = host_check_every.
#include "core/generate/generate.h"

#include <algorithm>

#include "core/io/error.h"
#include "core/model/device.h"

namespace rlhf::generate {

const char* finish_reason_name(FinishReason r) {
    switch (r) {
        case FinishReason::Eos: return "eos";
        case FinishReason::StopString: return "stop";
        case FinishReason::Length: return "length";
        case FinishReason::Cancelled: return "cancelled";
    }
    return "?";
}

namespace {
// Position of the earliest stop string in `text`, or npos.
size_t find_stop(const std::string& text, const std::vector<std::string>& stops) {
    size_t best = std::string::npos;
    for (const auto& s : stops) {
        if (s.empty()) continue;
        size_t at = text.find(s);
        if (at < best) best = at;
    }
    return best;
}
}  // namespace

GenerateResult generate(model::CausalLM& model, const std::vector<std::vector<int32_t>>& prompts,
                        const GenerateOptions& options) {
    const int64_t b = static_cast<int64_t>(prompts.size());
    if (b == 0) throw Error("generate: no prompts");
    if (options.max_new_tokens < 0) throw Error("generate: max_new_tokens must not be negative");
    if (!options.stop_strings.empty() && !options.decode)
        throw Error("generate: stop_strings need a decode function");
    const auto& cfg = model.config();
    int64_t p = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
        if (prompts[i].empty()) throw Error("generate: prompt " + std::to_string(i) + " is empty");
        for (int32_t id : prompts[i])
            if (id < 0 || id >= cfg.vocab_size)
                throw Error("generate: prompt " + std::to_string(i) + " has token id " + std::to_string(id) +
                            " outside the vocabulary (" + std::to_string(cfg.vocab_size) + ")");
        p = std::max<int64_t>(p, static_cast<int64_t>(prompts[i].size()));
    }
    const int64_t n_max = options.max_new_tokens;
    if (cfg.is_gpt2() && p + n_max > cfg.max_position_embeddings)
        throw Error("generate: prompt (" + std::to_string(p) + ") + max_new_tokens (" + std::to_string(n_max) +
                    ") exceeds the model's n_positions (" + std::to_string(cfg.max_position_embeddings) + ")");

    if (options.host_check_every < 1) throw Error("generate: host_check_every must be at least 1");
    const int64_t every = options.host_check_every;

    // NoGradGuard rather than InferenceMode: the returned tensors feed training (PPO), and
    // inference tensors may not be saved for backward.
    torch::NoGradGuard no_grad;
    const auto dev = model.device();
    const auto long_cpu = torch::TensorOptions().dtype(torch::kLong);

    // Left padding: row i's prompt occupies the last len_i of P columns. Built on the host and
    // kept there for the result; the device gets a copy.
    auto ids_cpu = torch::full({b, p}, options.pad_token_id, long_cpu);   // (B, P)
    auto mask_cpu = torch::zeros({b, p}, long_cpu);                      // (B, P)
    for (int64_t i = 0; i < b; ++i) {
        const auto& pr = prompts[i];
        int64_t off = p - static_cast<int64_t>(pr.size());
        auto row = ids_cpu[i];
        for (size_t j = 0; j < pr.size(); ++j) row[off + static_cast<int64_t>(j)] = static_cast<int64_t>(pr[j]);
        mask_cpu[i].narrow(0, off, static_cast<int64_t>(pr.size())).fill_(1);
    }
    auto ids = ids_cpu.to(dev);
    auto mask = mask_cpu.to(dev);

    Sampler sampler(options.sampling, b);
    torch::Tensor seen;  // (B, V) bool, only when a repetition penalty is on
    if (options.sampling.repetition_penalty != 1.0) {
        seen = torch::zeros({b, cfg.vocab_size}, torch::TensorOptions().dtype(torch::kBool).device(dev));
        // Padding slots point at the row's last token (always real with left padding), so
        // only prompt tokens are marked.
        auto real_ids = torch::where(mask.to(torch::kBool), ids, ids.narrow(1, p - 1, 1).expand({b, p}));
        seen.scatter_(1, real_ids, true);
    }

    GenerateResult res;
    res.prompt_length = p;
    res.tokens.resize(b);
    res.logprobs.resize(b);
    res.finish.assign(b, FinishReason::Length);
    std::vector<bool> done(b, false);  // the host's view: EOS, stop string or cancelled
    int64_t remaining = b;
    int64_t n = 0;  // N': steps whose tokens were emitted
    auto cancelled = [&] { return options.cancel && options.cancel->load(); };
    auto cancel_rows = [&] {
        for (int64_t i = 0; i < b; ++i)
            if (!done[i]) res.finish[i] = FinishReason::Cancelled, done[i] = true;
    };
    // Emits one step's tokens for the rows still running, exactly as a loop reading every step
    // would: push, stream, then EOS and stop strings. Returns whether a stop string ended a row.
    auto emit_step = [&](auto token_of, auto logprob_of) {
        bool stop_string = false;
        for (int64_t i = 0; i < b; ++i) {
            if (done[i]) continue;
            auto t = static_cast<int32_t>(token_of(i));
            res.tokens[i].push_back(t);
            res.logprobs[i].push_back(logprob_of(i));
            if (options.on_token) options.on_token(i, t);
            bool stop = false;
            if (std::find(options.eos_token_ids.begin(), options.eos_token_ids.end(), t) !=
                options.eos_token_ids.end()) {
                res.finish[i] = FinishReason::Eos;
                stop = true;
            } else if (!options.stop_strings.empty() &&
                       find_stop(options.decode(res.tokens[i]), options.stop_strings) != std::string::npos) {
                res.finish[i] = FinishReason::StopString;
                stop = stop_string = true;
            }
            if (stop) {
                done[i] = true;
                --remaining;
            }
        }
        return stop_string;
    };

    if (n_max > 0) {
        auto cache = model::KvCache::allocate(cfg, b, p + n_max, model.dtype(), dev);
        auto hidden = model.forward_hidden(ids, mask, &cache);                    // (B, P, C)
        // The device state of the loop. logits: (B, V) for the next step, or undefined while
        // `fed` (B, 1), the last step's tokens, has not been through the model yet.
        torch::Tensor logits = model.lm_logits(hidden.narrow(1, p - 1, 1)).squeeze(1);
        torch::Tensor fed;
        auto alive = torch::ones({b}, torch::TensorOptions().dtype(torch::kBool).device(dev));  // (B)
        torch::Tensor eos;  // (E) int64
        if (!options.eos_token_ids.empty())
            eos = to_device_async(torch::tensor(options.eos_token_ids, long_cpu), dev);
        // Sampler: top-k + top-p take the fast path and flag, on the device, a step where that
        // was not exact (ties at the k-th logit). A block with such a step is run again from its
        // start with the exact choice, which then stays on for the rest of the call: ties that
        // happen once (bf16 logits) tend to happen again.
        bool exact = false;
        int64_t step = 0;  // steps run and emitted so far
        bool ended = false;
        while (!ended) {
            const int64_t k = std::min(every, n_max - step);
            const auto start_logits = logits, start_fed = fed, start_mask = mask, start_alive = alive;
            const int64_t start_cache = cache.length;
            const auto start_seen = seen.defined() && !exact ? seen.clone() : torch::Tensor();
            sampler.draw_block(k, dev);

            std::vector<torch::Tensor> toks, lps, flags;  // per step: (B) int64, (B) float32, () bool
            bool cancel_seen = false;
            for (bool replay = false;; replay = true) {
                toks.clear(), lps.clear(), flags.clear();
                for (int64_t j = 0; j < k; ++j) {
                    if (cancelled()) {
                        cancel_seen = true;
                        break;
                    }
                    if (!logits.defined()) {
                        // Finished rows keep running (a fixed-shape batch is cheaper than
                        // re-packing the cache); their padding is masked so it never influences
                        // anything that is kept.
                        mask = torch::cat({mask, torch::ones({b, 1}, mask.options())}, 1);
                        hidden = model.forward_hidden(fed, mask, &cache);  // (B, 1, C)
                        logits = model.lm_logits(hidden).squeeze(1);       // (B, V)
                    }
                    torch::Tensor inexact;
                    auto [tok, lp] = sampler.next(logits, seen, exact ? nullptr : &inexact);  // (B), (B)
                    logits = torch::Tensor();
                    auto out = torch::where(alive, tok, options.pad_token_id);  // (B)
                    toks.push_back(out);
                    lps.push_back(lp.to(torch::kFloat32));
                    if (inexact.defined()) flags.push_back(inexact);
                    if (eos.defined()) alive = alive & (out.unsqueeze(1) == eos).any(1).logical_not();
                    fed = out.unsqueeze(1);  // (B, 1)
                    if (seen.defined()) seen.scatter_(1, fed, true);
                }
                if (toks.empty()) break;
                // The host check: one read of everything this block produced.
                const auto kk = static_cast<int64_t>(toks.size());
                std::vector<torch::Tensor> parts = {torch::stack(toks).to(torch::kDouble).flatten(),
                                                    torch::stack(lps).to(torch::kDouble).flatten()};
                if (!flags.empty()) parts.push_back(torch::stack(flags).any().to(torch::kDouble).reshape({1}));
                auto host = model::to_host(torch::cat(parts)).contiguous();  // (2 kk B [+ 1])
                ++res.host_checks;
                auto h = host.accessor<double, 1>();
                if (flags.empty() || h[2 * kk * b] == 0.0 || replay) {
                    // Emit the block step by step, as the host would have seen it every step.
                    bool stop_string = false;
                    for (int64_t j = 0; j < kk && !ended; ++j) {
                        if (cancelled()) {
                            cancel_rows();
                            ended = true;
                            break;
                        }
                        stop_string |= emit_step([&](int64_t i) { return h[j * b + i]; },
                                                 [&](int64_t i) { return static_cast<float>(h[(kk + j) * b + i]); });
                        ++n;
                        if (remaining == 0 || step + j + 1 == n_max) ended = true;
                    }
                    step += kk;
                    // Rows a stop string ended mid-block ran on to its end; from now on they are
                    // fed padding like any finished row (what they generated is dropped above).
                    if (!ended && stop_string) {
                        std::vector<uint8_t> alive_host(b);
                        for (int64_t i = 0; i < b; ++i) alive_host[i] = done[i] ? 0 : 1;
                        alive = to_device_async(torch::tensor(alive_host).to(torch::kBool), dev);
                    }
                    break;
                }
                // The fast top-k + top-p path was not exact somewhere in this block: back to its
                // start (cache, mask, rows, seen tokens, uniforms) and run it again exactly.
                logits = start_logits, fed = start_fed, mask = start_mask, alive = start_alive;
                cache.length = start_cache;
                if (start_seen.defined()) seen.copy_(start_seen);
                sampler.rewind_block();
                exact = true;
                cancel_seen = false;
            }
            if (!ended && cancel_seen) {
                cancel_rows();
                ended = true;
            }
        }
    }

    // Assemble the tensors a trainer wants, on the host from what was emitted.
    auto completion = torch::full({b, n}, options.pad_token_id, long_cpu);  // (B, N')
    auto cmask = torch::zeros({b, n}, long_cpu);
    auto clp = torch::zeros({b, n}, torch::kFloat32);
    for (int64_t i = 0; i < b; ++i) {
        int64_t len = static_cast<int64_t>(res.tokens[i].size());
        if (len == 0) continue;
        cmask[i].narrow(0, 0, len).fill_(1);
        clp[i].narrow(0, 0, len).copy_(torch::tensor(res.logprobs[i]));
        completion[i].narrow(0, 0, len).copy_(torch::tensor(res.tokens[i]));
    }
    res.sequences = torch::cat({ids_cpu, completion}, 1);
    res.attention_mask = torch::cat({mask_cpu, cmask}, 1);
    res.completion_mask = cmask;
    res.completion_logprobs = clp;

    if (options.decode) {
        res.texts.resize(b);
        for (int64_t i = 0; i < b; ++i) {
            std::string text = options.decode(res.tokens[i]);
            if (res.finish[i] == FinishReason::StopString) {
                size_t at = find_stop(text, options.stop_strings);
                if (at != std::string::npos) text.resize(at);
            }
            res.texts[i] = std::move(text);
        }
    }
    return res;
}

}  // namespace rlhf::generate
