// What every algorithm shares: batching prompt+response token ids, response log-probs, the
// frozen reference copy, rollout sampling with the KV cache, reward scoring and data order.
#include <algorithm>
#include <numeric>
#include <random>
#include <sstream>

#include <torch/torch.h>

#include "core/io/error.h"
#include "core/model/device.h"
#include "core/train/algorithms.h"
#include "core/train/losses.h"

namespace rlhf::train {

// ---------------------------------------------------------------------------------------------
// Batching

SequenceBatch collate_sequences(const std::vector<const TokenIds*>& prompts, const std::vector<const TokenIds*>& responses,
                                int64_t pad_id, int64_t max_length, torch::Device device) {
    if (prompts.size() != responses.size() || prompts.empty())
        throw Error("train: collate_sequences: need as many responses as prompts (and at least one)");
    const int64_t b = static_cast<int64_t>(prompts.size());
    std::vector<int64_t> lengths(static_cast<size_t>(b));
    int64_t width = 0;
    for (int64_t i = 0; i < b; ++i) {
        int64_t n = static_cast<int64_t>(prompts[static_cast<size_t>(i)]->size() + responses[static_cast<size_t>(i)]->size());
        lengths[static_cast<size_t>(i)] = std::min(n, max_length);
        width = std::max(width, lengths[static_cast<size_t>(i)]);
    }
    SequenceBatch out;
    out.input_ids = torch::full({b, width}, pad_id, torch::kInt64);      // (B, L)
    out.attention_mask = torch::zeros({b, width}, torch::kInt64);         // (B, L)
    out.response_mask = torch::zeros({b, width}, torch::kFloat32);        // (B, L)
    out.last_index = torch::zeros({b}, torch::kInt64);                    // (B)
    auto ids = out.input_ids.accessor<int64_t, 2>();
    auto am = out.attention_mask.accessor<int64_t, 2>();
    auto rm = out.response_mask.accessor<float, 2>();
    auto last = out.last_index.accessor<int64_t, 1>();
    for (int64_t i = 0; i < b; ++i) {
        const auto& p = *prompts[static_cast<size_t>(i)];
        const auto& r = *responses[static_cast<size_t>(i)];
        const int64_t n = lengths[static_cast<size_t>(i)];
        for (int64_t t = 0; t < n; ++t) {
            const bool in_prompt = t < static_cast<int64_t>(p.size());
            ids[i][t] = in_prompt ? p[static_cast<size_t>(t)] : r[static_cast<size_t>(t) - p.size()];
            am[i][t] = 1;
            rm[i][t] = in_prompt ? 0.f : 1.f;
        }
        last[i] = std::max<int64_t>(n - 1, 0);
    }
    if (!device.is_cpu()) {
        out.input_ids = out.input_ids.to(device);
        out.attention_mask = out.attention_mask.to(device);
        out.response_mask = out.response_mask.to(device);
        out.last_index = out.last_index.to(device);
    }
    return out;
}

torch::Tensor response_token_logprobs(model::CausalLM& model, const SequenceBatch& batch, double temperature) {
    auto logits = model.forward(batch.input_ids, batch.attention_mask);  // (B, L, V)
    if (temperature != 1.0) logits = logits / temperature;
    const int64_t width = batch.input_ids.size(1);
    auto out = torch::zeros({batch.input_ids.size(0), width}, logits.options().dtype(torch::kFloat32));  // (B, L)
    if (width < 2) return out;
    // Logits at t predict token t+1.
    auto lp = logprobs_from_logits(logits.narrow(1, 0, width - 1), batch.input_ids.narrow(1, 1, width - 1));  // (B, L-1)
    lp = lp * batch.response_mask.narrow(1, 1, width - 1);
    return torch::cat({torch::zeros({lp.size(0), 1}, lp.options()), lp}, 1);  // (B, L)
}

std::shared_ptr<model::CausalLM> clone_model(const model::CausalLM& source) {
    auto copy = model::create_causal_lm(source.config());
    torch::NoGradGuard no_grad;
    // Onto the source's device first, then copy device to device (no round trip through the host;
    // on meta there is nothing to copy).
    model::move_to(*copy, source.device(), source.dtype());
    auto src = source.named_parameters(true);
    for (auto& item : copy->named_parameters(true)) {
        auto* s = src.find(item.key());
        if (!s) throw Error("train: clone_model: parameter '" + item.key() + "' missing in the source");
        item.value().copy_(*s);
    }
    return copy;
}

void freeze(torch::nn::Module& module) {
    for (auto& p : module.parameters(true)) p.set_requires_grad(false);
    module.eval();
}

// ---------------------------------------------------------------------------------------------
// Sampling

namespace {
uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// One token per row from probs (B, V) given one uniform u_i in [0, 1) per row: the first token
// whose cumulative probability exceeds u_i · total (inverse CDF; zero-probability tokens are
// never picked because their cumulative sum equals their predecessor's). float64 so that a
// 150k-token vocabulary's cumulative sum does not lose the tail's small probabilities.
torch::Tensor sample_inverse_cdf(const torch::Tensor& probs, const std::vector<double>& u) {
    auto cdf = probs.to(torch::kFloat64).cumsum(-1);                                  // (B, V)
    auto total = cdf.narrow(1, cdf.size(1) - 1, 1);                                   // (B, 1)
    auto target = torch::tensor(u, torch::kFloat64).to(cdf.device()).unsqueeze(1) * total;  // (B, 1)
    auto next = torch::searchsorted(cdf, target, /*out_int32=*/false, /*right=*/true).squeeze(1);  // (B)
    return next.clamp_max(cdf.size(1) - 1);  // u·total rounding up to total must not overflow
}
}  // namespace

uint64_t rollout_row_seed(int64_t seed, int64_t step, int64_t row) {
    return splitmix64(splitmix64(splitmix64(static_cast<uint64_t>(seed)) ^ static_cast<uint64_t>(step)) ^
                      static_cast<uint64_t>(row));
}

Rollout sample_responses(model::CausalLM& model, const std::vector<TokenIds>& prompts, int64_t max_new_tokens,
                         double temperature, const TokenIds& eos_ids, int64_t pad_id,
                         const std::vector<uint64_t>& row_seeds) {
    torch::NoGradGuard no_grad;
    const int64_t b = static_cast<int64_t>(prompts.size());
    if (!row_seeds.empty() && row_seeds.size() != prompts.size())
        throw Error("train: sample_responses: " + std::to_string(row_seeds.size()) + " row seeds for " +
                    std::to_string(prompts.size()) + " prompts");
    std::vector<std::mt19937_64> row_rng;
    for (uint64_t s : row_seeds) row_rng.emplace_back(s);
    std::vector<double> u(static_cast<size_t>(b));
    int64_t p_len = 0;
    for (const auto& p : prompts) p_len = std::max<int64_t>(p_len, static_cast<int64_t>(p.size()));
    if (p_len == 0) throw Error("train: sample_responses: empty prompt");
    const torch::Device device = model.device();
    const auto long_opts = torch::TensorOptions().dtype(torch::kInt64).device(device);
    Rollout r;
    {
        // Built on the host, copied to the device once.
        auto ids = torch::full({b, p_len}, pad_id, torch::kInt64);  // (B, P) left-padded
        auto mask = torch::zeros({b, p_len}, torch::kInt64);        // (B, P)
        auto ids_a = ids.accessor<int64_t, 2>();
        auto mask_a = mask.accessor<int64_t, 2>();
        for (int64_t i = 0; i < b; ++i) {
            const auto& p = prompts[static_cast<size_t>(i)];
            const int64_t off = p_len - static_cast<int64_t>(p.size());
            for (size_t t = 0; t < p.size(); ++t) {
                ids_a[i][off + static_cast<int64_t>(t)] = p[t];
                mask_a[i][off + static_cast<int64_t>(t)] = 1;
            }
        }
        r.prompt_ids = ids.to(device);
        r.prompt_mask = mask.to(device);
    }
    const bool was_training = model.is_training();
    model.eval();
    auto cache = model::KvCache::allocate(model.config(), b, p_len + max_new_tokens, model.dtype(), device);
    auto mask = r.prompt_mask.clone();
    // Prefill: the LM head on the last prompt position only (the others' logits are never used).
    auto hidden = model.forward_hidden(r.prompt_ids, mask, &cache);            // (B, P, C)
    auto logits = model.lm_logits(hidden.narrow(1, p_len - 1, 1));              // (B, 1, V)
    auto eos = torch::tensor(eos_ids.empty() ? TokenIds{-1} : eos_ids, torch::kInt64).to(device);
    auto alive = torch::ones({b}, torch::TensorOptions().dtype(torch::kBool).device(device));  // (B)
    std::vector<torch::Tensor> tokens, keep, any_alive;  // any_alive[t]: () bool, a row lives after token t
    const bool amortised = !row_rng.empty();
    for (int64_t t = 0; t < max_new_tokens; ++t) {
        auto last = logits.select(1, logits.size(1) - 1).to(torch::kFloat32) / temperature;  // (B, V)
        torch::Tensor next;                                                                   // (B)
        if (row_rng.empty()) {
            next = torch::multinomial(torch::softmax(last, -1), 1).squeeze(1);
        } else {
            // 53 random bits -> [0, 1), the same on every standard library (unlike
            // std::uniform_real_distribution).
            for (size_t i = 0; i < u.size(); ++i) u[i] = static_cast<double>(row_rng[i]() >> 11) * 0x1.0p-53;
            next = sample_inverse_cdf(torch::softmax(last, -1), u);
        }
        next = torch::where(alive, next, torch::full_like(next, pad_id));
        tokens.push_back(next);
        keep.push_back(alive.to(torch::kFloat32));
        alive = alive & ~torch::isin(next, eos);
        if (t + 1 == max_new_tokens) break;
        if (amortised) {
            // Stop checks on the device; the host looks every kRolloutHostCheckEvery tokens. Tokens
            // drawn after the last row ended are cut below, so the rollout is the same as with a
            // check after every token (the row streams are private to this call).
            any_alive.push_back(alive.any());
            if ((t + 1) % kRolloutHostCheckEvery == 0 && !model::host_scalar(any_alive.back())) break;
        } else if (!model::host_scalar(alive.any())) {
            break;
        }
        mask = torch::cat({mask, torch::ones({b, 1}, long_opts)}, 1);
        logits = model.forward(next.unsqueeze(1), mask, &cache);  // (B, 1, V)
    }
    if (was_training) model.train();
    int64_t width = static_cast<int64_t>(tokens.size());
    if (amortised && !any_alive.empty()) {
        // The first token after which no row was alive ends the rollout (one host read).
        auto lived = model::to_host(torch::stack(any_alive));  // (steps) bool
        auto lived_a = lived.accessor<bool, 1>();
        for (int64_t t = 0; t < lived.size(0); ++t)
            if (!lived_a[t]) {
                width = t + 1;
                break;
            }
    }
    r.response_ids = torch::stack(tokens, 1).narrow(1, 0, width);   // (B, R)
    r.response_mask = torch::stack(keep, 1).narrow(1, 0, width);    // (B, R)
    r.ended = torch::isin(r.response_ids, eos).any(1);
    return r;
}

torch::Tensor rollout_logprobs(model::CausalLM& model, const Rollout& r, double temperature,
                               model::ValueHead* value_head, torch::Tensor* values_out) {
    const int64_t p = r.prompt_ids.size(1), n = r.response_ids.size(1);
    auto ids = torch::cat({r.prompt_ids, r.response_ids}, 1);                                  // (B, P+R)
    auto mask = torch::cat({r.prompt_mask, r.response_mask.to(torch::kInt64)}, 1);           // (B, P+R)
    // Padding after EOS is masked; give it real positions anyway so shapes stay rectangular.
    auto hidden = model.forward_hidden(ids, mask, nullptr);                                  // (B, P+R, C)
    auto h = hidden.narrow(1, p - 1, n);                                                     // (B, R, C): states before each response token
    auto logits = model.lm_logits(h);                                                        // (B, R, V)
    if (temperature != 1.0) logits = logits / temperature;
    auto lp = logprobs_from_logits(logits, r.response_ids) * r.response_mask;                // (B, R)
    if (value_head && values_out) *values_out = (*value_head)->forward(h).to(torch::kFloat32) * r.response_mask;  // (B, R)
    return lp;
}

torch::Tensor score_responses(const RlOptions& options, const Rollout& r, int64_t max_length) {
    torch::NoGradGuard no_grad;
    const int64_t b = r.prompt_ids.size(0);
    const torch::Device device = r.response_ids.device();
    // The token ids on the host, one read per tensor.
    std::vector<TokenIds> prompts(static_cast<size_t>(b)), responses(static_cast<size_t>(b));
    {
        auto pid = model::to_host(r.prompt_ids), pm = model::to_host(r.prompt_mask);
        auto rid = model::to_host(r.response_ids), rm = model::to_host(r.response_mask.to(torch::kFloat32));
        auto pid_a = pid.accessor<int64_t, 2>(), pm_a = pm.accessor<int64_t, 2>(), rid_a = rid.accessor<int64_t, 2>();
        auto rm_a = rm.accessor<float, 2>();
        for (int64_t i = 0; i < b; ++i) {
            for (int64_t t = 0; t < pid.size(1); ++t)
                if (pm_a[i][t]) prompts[static_cast<size_t>(i)].push_back(pid_a[i][t]);
            for (int64_t t = 0; t < rid.size(1); ++t)
                if (rm_a[i][t] > 0) responses[static_cast<size_t>(i)].push_back(rid_a[i][t]);
        }
    }
    // Rule rewards on the host (float32 accumulation, as before), then one copy to the device.
    auto host_scores = torch::zeros({b}, torch::kFloat32);  // (B)
    auto hs = host_scores.accessor<float, 1>();
    if (options.rule_reward)
        for (int64_t i = 0; i < b; ++i)
            hs[i] += static_cast<float>(options.rule_reward(prompts[static_cast<size_t>(i)], responses[static_cast<size_t>(i)]));
    if (options.indexed_rule_reward) {
        if (!r.prompt_index.defined()) throw Error("train: score_responses: an indexed rule reward needs the rollout's prompt_index");
        auto index = model::to_host(r.prompt_index);
        auto index_a = index.accessor<int64_t, 1>();
        for (int64_t i = 0; i < b; ++i)
            hs[i] += static_cast<float>(options.indexed_rule_reward(index_a[i], prompts[static_cast<size_t>(i)],
                                                                      responses[static_cast<size_t>(i)]));
    }
    auto scores = host_scores.to(device);
    if (options.reward_model) {
        std::vector<const TokenIds*> pp, rr;
        for (int64_t i = 0; i < b; ++i) {
            pp.push_back(&prompts[static_cast<size_t>(i)]);
            rr.push_back(&responses[static_cast<size_t>(i)]);
        }
        model::RewardModel rm = options.reward_model;  // a handle copy: forward is non-const
        auto batch = collate_sequences(pp, rr, options.pad_id, max_length, rm->backbone->device());
        scores += options.reward_model_weight * reward_scores(rm, batch).to(device);
    }
    return scores;
}

torch::Tensor reward_scores(model::RewardModel& rm, const SequenceBatch& batch) {
    return rm->forward(batch.input_ids, batch.attention_mask).to(torch::kFloat32);  // (B)
}

// ---------------------------------------------------------------------------------------------
// Data order

DataOrder::DataOrder(size_t n, uint64_t seed, bool shuffle) : n_(n), shuffle_(shuffle), rng_(seed) {
    if (n_ == 0) throw Error("train: the dataset is empty");
    reshuffle();
}

void DataOrder::reshuffle() {
    order_.resize(n_);
    std::iota(order_.begin(), order_.end(), size_t(0));
    if (shuffle_) {
        // Fisher-Yates with our own draws: std::shuffle's algorithm differs between libraries.
        for (size_t i = n_ - 1; i > 0; --i) std::swap(order_[i], order_[rng_() % (i + 1)]);
    }
    pos_ = 0;
}

std::vector<size_t> DataOrder::next(size_t count) {
    std::vector<size_t> out;
    out.reserve(count);
    while (out.size() < count) {
        if (pos_ == n_) {
            ++epoch_;
            reshuffle();
        }
        out.push_back(order_[pos_++]);
    }
    return out;
}

nlohmann::json DataOrder::save() const {
    std::ostringstream os;
    os << rng_;
    return {{"rng", os.str()}, {"order", order_}, {"pos", pos_}, {"epoch", epoch_}, {"n", n_}};
}

void DataOrder::load(const nlohmann::json& j) {
    if (j.at("n").get<size_t>() != n_) throw Error("trainer_state.json: data order: the dataset size changed since the checkpoint");
    std::istringstream is(j.at("rng").get<std::string>());
    is >> rng_;
    order_ = j.at("order").get<std::vector<size_t>>();
    pos_ = j.at("pos").get<size_t>();
    epoch_ = j.at("epoch").get<int64_t>();
}

}  // namespace rlhf::train
