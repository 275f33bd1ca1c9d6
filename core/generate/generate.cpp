// The generation loop: prefill all prompts at once (left-padded), then one token per step for
// every unfinished row, reusing the KV cache. B = batch, P = longest prompt, V = vocab.
#include "core/generate/generate.h"

#include <algorithm>

#include "core/io/error.h"

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

    // NoGradGuard rather than InferenceMode: the returned tensors feed training (PPO), and
    // inference tensors may not be saved for backward.
    torch::NoGradGuard no_grad;
    const auto dev = model.device();
    const auto long_cpu = torch::TensorOptions().dtype(torch::kLong);

    // Left padding: row i's prompt occupies the last len_i of P columns.
    auto ids = torch::full({b, p}, options.pad_token_id, long_cpu);   // (B, P)
    auto mask = torch::zeros({b, p}, long_cpu);                      // (B, P)
    for (int64_t i = 0; i < b; ++i) {
        const auto& pr = prompts[i];
        int64_t off = p - static_cast<int64_t>(pr.size());
        auto row = ids[i];
        for (size_t j = 0; j < pr.size(); ++j) row[off + static_cast<int64_t>(j)] = static_cast<int64_t>(pr[j]);
        mask[i].narrow(0, off, static_cast<int64_t>(pr.size())).fill_(1);
    }
    ids = ids.to(dev);
    mask = mask.to(dev);

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
    std::vector<bool> done(b, false);
    int64_t remaining = b;

    std::vector<torch::Tensor> step_tokens;  // each (B) int64 CPU, pad for finished rows
    if (n_max > 0) {
        auto cache = model::KvCache::allocate(cfg, b, p + n_max, model.dtype(), dev);
        auto hidden = model.forward_hidden(ids, mask, &cache);                    // (B, P, C)
        auto logits = model.lm_logits(hidden.narrow(1, p - 1, 1)).squeeze(1);     // (B, V)
        for (int64_t step = 0; step < n_max && remaining > 0; ++step) {
            if (options.cancel && options.cancel->load()) {
                for (int64_t i = 0; i < b; ++i)
                    if (!done[i]) res.finish[i] = FinishReason::Cancelled, done[i] = true;
                break;
            }
            auto [tok, lp] = sampler.next(logits, seen);  // (B), (B)
            auto tok_cpu = tok.to(torch::kCPU).contiguous();
            auto lp_cpu = lp.to(torch::kCPU).to(torch::kFloat32).contiguous();
            const int64_t* t_ptr = tok_cpu.data_ptr<int64_t>();
            const float* l_ptr = lp_cpu.data_ptr<float>();
            std::vector<int64_t> next(b, options.pad_token_id);
            for (int64_t i = 0; i < b; ++i) {
                if (done[i]) continue;
                auto t = static_cast<int32_t>(t_ptr[i]);
                next[i] = t;
                res.tokens[i].push_back(t);
                res.logprobs[i].push_back(l_ptr[i]);
                if (options.on_token) options.on_token(i, t);
                bool stop = false;
                if (std::find(options.eos_token_ids.begin(), options.eos_token_ids.end(), t) !=
                    options.eos_token_ids.end()) {
                    res.finish[i] = FinishReason::Eos;
                    stop = true;
                } else if (!options.stop_strings.empty() &&
                           find_stop(options.decode(res.tokens[i]), options.stop_strings) != std::string::npos) {
                    res.finish[i] = FinishReason::StopString;
                    stop = true;
                }
                if (stop) {
                    done[i] = true;
                    --remaining;
                }
            }
            auto next_cpu = torch::tensor(next, long_cpu);  // (B)
            step_tokens.push_back(next_cpu);
            if (remaining == 0 || step + 1 == n_max) break;
            auto next_ids = next_cpu.to(dev).unsqueeze(1);  // (B, 1)
            if (seen.defined()) seen.scatter_(1, next_ids, true);
            // Finished rows keep running (a fixed-shape batch is cheaper than re-packing the
            // cache); their padding is masked so it never influences anything that is kept.
            mask = torch::cat({mask, torch::ones({b, 1}, mask.options())}, 1);
            hidden = model.forward_hidden(next_ids, mask, &cache);       // (B, 1, C)
            logits = model.lm_logits(hidden).squeeze(1);                 // (B, V)
        }
    }

    // Assemble the tensors a trainer wants.
    const int64_t n = static_cast<int64_t>(step_tokens.size());
    auto completion = n > 0 ? torch::stack(step_tokens, 1) : torch::zeros({b, 0}, long_cpu);  // (B, N')
    auto cmask = torch::zeros({b, n}, long_cpu);
    auto clp = torch::zeros({b, n}, torch::kFloat32);
    for (int64_t i = 0; i < b; ++i) {
        int64_t len = static_cast<int64_t>(res.tokens[i].size());
        if (len == 0) continue;
        cmask[i].narrow(0, 0, len).fill_(1);
        clp[i].narrow(0, 0, len).copy_(torch::tensor(res.logprobs[i]));
    }
    completion = completion.masked_fill(cmask == 0, options.pad_token_id);
    res.sequences = torch::cat({ids.to(torch::kCPU), completion}, 1);
    res.attention_mask = torch::cat({mask.narrow(1, 0, p).to(torch::kCPU), cmask}, 1);
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
