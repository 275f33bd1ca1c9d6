// The online algorithms (they sample from the policy while training): PPO and GRPO, the rule
// rewards they can be trained against, and the state they checkpoint for exact resume.
// One translation unit on purpose: each <torch/torch.h> TU costs CI minutes.
//
// Glossary: B = prompts per rank and step, G = group size, R = response positions.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include <torch/torch.h>

#include "core/io/error.h"
#include "core/model/device.h"
#include "core/train/algorithms.h"
#include "core/train/losses.h"

namespace rlhf::train {

namespace {
using Clock = std::chrono::steady_clock;

Rollout select_rows(const Rollout& r, const torch::Tensor& rows) {
    Rollout s;
    s.prompt_ids = r.prompt_ids.index_select(0, rows);
    s.prompt_mask = r.prompt_mask.index_select(0, rows);
    s.response_ids = r.response_ids.index_select(0, rows);
    s.response_mask = r.response_mask.index_select(0, rows);
    s.ended = r.ended.index_select(0, rows);
    if (r.prompt_index.defined()) s.prompt_index = r.prompt_index.index_select(0, rows);
    return s;
}

std::vector<TokenIds> pick(const std::vector<TokenIds>& all, const std::vector<size_t>& idx, int64_t repeat) {
    std::vector<TokenIds> out;
    for (size_t i : idx)
        for (int64_t g = 0; g < repeat; ++g) out.push_back(all[i]);
    return out;
}

// (B·repeat) int64 on `device`: the prompt index of every rollout row.
torch::Tensor index_tensor(const std::vector<size_t>& idx, int64_t repeat, const torch::Device& device) {
    std::vector<int64_t> out;
    for (size_t i : idx)
        for (int64_t g = 0; g < repeat; ++g) out.push_back(static_cast<int64_t>(i));
    return torch::tensor(out, torch::kInt64).to(device);
}

// Row numbers as an index tensor on `device` (index_select wants its index on the data's device).
torch::Tensor rows_tensor(const std::vector<int64_t>& rows, const torch::Device& device) {
    return torch::tensor(rows, torch::kInt64).to(device);
}

// ---------------------------------------------------------------------------------------------
// Data parallelism: the global rollout on every rank
//
// Every rank generates, scores and runs the policy/reference/value passes on its own slice of the
// global batch only; the resulting rows are then concatenated on every rank (rank order is global
// row order: rank_slice hands out contiguous ranges). So every statistic that spans the batch —
// reward and advantage whitening, the adaptive KL controller's measured KL, GRPO's group
// baselines, the minibatch permutation, token-mean normalisers — is computed on the same global
// tensors as in one process, rather than from all-reduced partial sums: whitening then matches one
// process to float rounding, and PPO minibatches can be drawn from the global batch.
//
// The concatenation is one allreduce_sum of float64 in which each rank fills only its own rows
// (x + 0 + … + 0 == x exactly; float32 values and int64 token ids below 2^53 survive the trip).

// Each rank's `local` values (k per rank), summed into a W·k table every rank sees.
std::vector<int64_t> exchange_ints(dist::Communicator& comm, int64_t rank, const std::vector<int64_t>& local) {
    const size_t k = local.size(), w = static_cast<size_t>(comm.world_size());
    std::vector<double> table(w * k, 0.0);
    for (size_t j = 0; j < k; ++j) table[static_cast<size_t>(rank) * k + j] = static_cast<double>(local[j]);
    comm.allreduce_sum(table);
    return std::vector<int64_t>(table.begin(), table.end());
}

// Concatenates the ranks' rows of each tensor: rank r holds counts[r] rows, the trailing shape is
// the same on every rank (the caller pads). Returns the (Σ counts, …) tensors in the input's
// dtype and device.
std::vector<torch::Tensor> concat_rows(dist::Communicator& comm, int64_t rank, const std::vector<torch::Tensor>& local,
                                       const std::vector<int64_t>& counts) {
    int64_t offset = 0, total = 0;
    for (size_t r = 0; r < counts.size(); ++r) {
        if (static_cast<int64_t>(r) < rank) offset += counts[r];
        total += counts[r];
    }
    std::vector<int64_t> row_numel;
    size_t size = 0;
    for (const auto& t : local) {
        if (t.size(0) != counts[static_cast<size_t>(rank)])
            throw Error("train: concat_rows: rank " + std::to_string(rank) + " has " + std::to_string(t.size(0)) +
                        " rows, announced " + std::to_string(counts[static_cast<size_t>(rank)]));
        int64_t n = 1;
        for (int64_t d = 1; d < t.dim(); ++d) n *= t.size(d);
        row_numel.push_back(n);
        size += static_cast<size_t>(total * n);
    }
    std::vector<double> buf(size, 0.0);
    size_t base = 0;
    for (size_t i = 0; i < local.size(); ++i) {
        auto c = model::to_host(local[i].detach().to(torch::kFloat64)).contiguous();
        std::copy(c.data_ptr<double>(), c.data_ptr<double>() + c.numel(),
                  buf.begin() + static_cast<std::ptrdiff_t>(base + static_cast<size_t>(offset * row_numel[i])));
        base += static_cast<size_t>(total * row_numel[i]);
    }
    comm.allreduce_sum(buf);
    std::vector<torch::Tensor> out;
    base = 0;
    for (size_t i = 0; i < local.size(); ++i) {
        auto shape = local[i].sizes().vec();
        shape[0] = total;
        auto t = torch::from_blob(buf.data() + base, shape, torch::kFloat64);
        out.push_back(t.to(local[i].scalar_type()).to(local[i].device()).clone());
        base += static_cast<size_t>(total * row_numel[i]);
    }
    return out;
}

torch::Tensor pad_columns(const torch::Tensor& t, int64_t width, double value, bool left) {
    if (t.size(1) == width) return t;
    auto fill = torch::full({t.size(0), width - t.size(1)}, value, t.options());
    return left ? torch::cat({fill, t}, 1) : torch::cat({t, fill}, 1);
}

// The global rollout from the ranks' local ones: prompts left-padded and responses right-padded
// (mask 0) to the widest rank's widths, as one process sampling every row would have them.
// counts: rows per rank.
Rollout gather_rollout(dist::Communicator& comm, int64_t rank, const Rollout& local, int64_t pad_id,
                       std::vector<int64_t>& counts) {
    const auto table = exchange_ints(comm, rank, {local.prompt_ids.size(0), local.prompt_ids.size(1), local.response_ids.size(1)});
    counts.clear();
    int64_t p = 0, r = 0;
    for (size_t i = 0; i < table.size(); i += 3) {
        counts.push_back(table[i]);
        p = std::max(p, table[i + 1]);
        r = std::max(r, table[i + 2]);
    }
    const double pad = static_cast<double>(pad_id);
    auto parts = concat_rows(comm, rank,
                             {pad_columns(local.prompt_ids, p, pad, /*left=*/true), pad_columns(local.prompt_mask, p, 0, true),
                              pad_columns(local.response_ids, r, pad, /*left=*/false), pad_columns(local.response_mask, r, 0, false),
                              local.ended, local.prompt_index},
                             counts);
    Rollout g;
    g.prompt_ids = parts[0];
    g.prompt_mask = parts[1];
    g.response_ids = parts[2];
    g.response_mask = parts[3];
    g.ended = parts[4];
    g.prompt_index = parts[5];
    return g;
}

// First global row of `rank` given the rows per rank.
int64_t first_row(const std::vector<int64_t>& counts, int64_t rank) {
    int64_t first = 0;
    for (int64_t r = 0; r < rank; ++r) first += counts[static_cast<size_t>(r)];
    return first;
}

// This rank's part of `rows` (the rows of one global minibatch or micro-batch): the contiguous
// shard_range split, so the ranks' parts are disjoint and cover the rows.
std::vector<int64_t> my_part(const std::vector<int64_t>& rows, const StepContext& ctx, const char* what) {
    const auto [first, count] = shard_range(static_cast<int64_t>(rows.size()), ctx);
    if (count == 0)
        throw Error(std::string(what) + ": " + std::to_string(rows.size()) + " rows cannot be split over " +
                    std::to_string(ctx.world_size) + " ranks (every rank needs at least one)");
    return std::vector<int64_t>(rows.begin() + first, rows.begin() + first + count);
}

// Per-row seeds of `count` rollout rows starting at global row `first`.
std::vector<uint64_t> row_seeds(int64_t seed, int64_t step, int64_t first, int64_t count) {
    std::vector<uint64_t> out;
    for (int64_t i = 0; i < count; ++i) out.push_back(rollout_row_seed(seed, step, first + i));
    return out;
}

// ---------------------------------------------------------------------------------------------
// Samples with per-token data for the Runs panel

// Replaces bytes that are not well-formed UTF-8 by U+FFFD: a byte-level BPE token can be half a
// character, and JSON strings must be valid UTF-8.
std::string valid_utf8(const std::string& s) {
    std::string out;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    for (size_t i = 0; i < n;) {
        const unsigned char c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
        if (ok && len == 2) ok = c >= 0xC2;                                     // overlong
        if (ok && len == 3) ok = !(c == 0xE0 && p[i + 1] < 0xA0) && !(c == 0xED && p[i + 1] >= 0xA0);
        if (ok && len == 4) ok = c <= 0xF4 && !(c == 0xF0 && p[i + 1] < 0x90) && !(c == 0xF4 && p[i + 1] >= 0x90);
        if (ok) {
            out.append(s, i, len);
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

// Per-token tensors of a rollout for its samples; undefined ones are left out of the JSON.
struct PerToken {
    torch::Tensor logprob;      // (B, R)
    torch::Tensor ref_logprob;  // (B, R) or undefined (no reference)
    torch::Tensor advantage;    // (B, R) or (B) (GRPO: one advantage per sequence)
    torch::Tensor value;        // (B, R) or undefined (GRPO)
};

void add_samples(StepContext& ctx, const RlOptions& o, const Rollout& r, const torch::Tensor& scores,
                 const PerToken& per) {
    if (!o.decode) return;
    // Everything on the host first: one read per tensor, not one per token.
    auto as_rows = [](const torch::Tensor& t) { return t.defined() ? model::to_host(t.detach().to(torch::kFloat64)) : t; };
    auto lp = as_rows(per.logprob), ref = as_rows(per.ref_logprob), adv = as_rows(per.advantage), val = as_rows(per.value);
    auto host_scores = as_rows(scores);
    auto prompt_ids = model::to_host(r.prompt_ids), prompt_mask = model::to_host(r.prompt_mask);
    auto response_ids = model::to_host(r.response_ids), response_mask = as_rows(r.response_mask);
    auto pid = prompt_ids.accessor<int64_t, 2>(), pmask = prompt_mask.accessor<int64_t, 2>();
    auto rid = response_ids.accessor<int64_t, 2>();
    auto rmask = response_mask.accessor<double, 2>();
    for (int64_t i = 0; i < std::min<int64_t>(o.samples_per_rollout, r.prompt_ids.size(0)); ++i) {
        TokenIds p, c;
        for (int64_t t = 0; t < r.prompt_ids.size(1); ++t)
            if (pmask[i][t]) p.push_back(pid[i][t]);
        nlohmann::json tokens = nlohmann::json::array(), logprob = nlohmann::json::array(),
                       ref_logprob = nlohmann::json::array(), kl = nlohmann::json::array(),
                       advantage = nlohmann::json::array(), value = nlohmann::json::array();
        // The response mask is 1 up to and including EOS: exactly the tokens the Runs panel shows.
        for (int64_t t = 0; t < r.response_ids.size(1); ++t) {
            if (!(rmask[i][t] > 0)) continue;
            const int64_t id = rid[i][t];
            c.push_back(id);
            tokens.push_back(valid_utf8(o.token_piece ? o.token_piece(id) : o.decode(TokenIds{id})));
            const double l = lp[i][t].item<double>();
            logprob.push_back(l);
            if (ref.defined()) {
                const double rl = ref[i][t].item<double>();
                ref_logprob.push_back(rl);
                kl.push_back(l - rl);  // the K1 estimate PPO penalises
            }
            if (adv.defined()) advantage.push_back(adv.dim() == 2 ? adv[i][t].item<double>() : adv[i].item<double>());
            if (val.defined()) value.push_back(val[i][t].item<double>());
        }
        Sample s{valid_utf8(o.decode(p)), valid_utf8(o.decode(c)), host_scores[i].item<double>(), nlohmann::json::object()};
        s.extra["tokens"] = std::move(tokens);
        s.extra["logprob"] = std::move(logprob);
        if (ref.defined()) {
            s.extra["ref_logprob"] = std::move(ref_logprob);
            s.extra["kl"] = std::move(kl);
        }
        if (adv.defined()) s.extra["advantage"] = std::move(advantage);
        if (val.defined()) s.extra["value"] = std::move(value);
        ctx.samples.push_back(std::move(s));
    }
}

// ---------------------------------------------------------------------------------------------
// Exact checkpoint state: tensors as hex bytes (bit-exact), metrics with non-finite values kept.

nlohmann::json tensor_state(const torch::Tensor& t) {
    if (!t.defined()) return nullptr;
    auto c = model::to_host(t.detach()).contiguous();
    std::string dtype;
    if (c.scalar_type() == torch::kFloat32) dtype = "f32";
    else if (c.scalar_type() == torch::kInt64) dtype = "i64";
    else if (c.scalar_type() == torch::kBool) dtype = "bool";
    else throw Error("train: checkpoint state: unsupported tensor dtype");
    static const char* digits = "0123456789abcdef";
    const auto* p = static_cast<const uint8_t*>(c.data_ptr());
    const size_t n = static_cast<size_t>(c.numel()) * c.element_size();
    std::string hex;
    hex.reserve(2 * n);
    for (size_t i = 0; i < n; ++i) {
        hex.push_back(digits[p[i] >> 4]);
        hex.push_back(digits[p[i] & 15]);
    }
    return {{"dtype", dtype}, {"shape", c.sizes().vec()}, {"device", t.device().str()}, {"hex", hex}};
}

torch::Tensor load_tensor_state(const nlohmann::json& j, const std::string& what) {
    if (j.is_null()) return {};
    const std::string dtype = j.at("dtype").get<std::string>();
    const auto type = dtype == "f32" ? torch::kFloat32 : dtype == "i64" ? torch::kInt64 : dtype == "bool" ? torch::kBool
                                                                                                       : torch::kByte;
    if (type == torch::kByte) throw Error("trainer_state.json: " + what + ": unknown dtype '" + dtype + "'");
    auto t = torch::empty(j.at("shape").get<std::vector<int64_t>>(), type);
    const std::string& hex = j.at("hex").get_ref<const std::string&>();
    const size_t n = static_cast<size_t>(t.numel()) * t.element_size();
    if (hex.size() != 2 * n) throw Error("trainer_state.json: " + what + ": " + std::to_string(hex.size()) + " hex digits for " + std::to_string(n) + " bytes");
    auto* p = static_cast<uint8_t*>(t.data_ptr());
    auto nibble = [&](char ch) -> int {
        if (ch >= '0' && ch <= '9') return ch - '0';
        if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
        throw Error("trainer_state.json: " + what + ": bad hex digit");
    };
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]));
    return t.to(torch::Device(j.at("device").get<std::string>()));
}

nlohmann::json metrics_state(const Metrics& m) {
    nlohmann::json j = nlohmann::json::object();
    // JSON has no NaN/Inf (nlohmann writes null): keep them as strings.
    for (const auto& [k, v] : m) j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(std::to_string(v));
    return j;
}

Metrics load_metrics_state(const nlohmann::json& j) {
    Metrics m;
    for (const auto& [k, v] : j.items()) m[k] = v.is_string() ? std::strtod(v.get<std::string>().c_str(), nullptr) : v.get<double>();
    return m;
}

nlohmann::json rollout_state(const Rollout& r) {
    return {{"prompt_ids", tensor_state(r.prompt_ids)},     {"prompt_mask", tensor_state(r.prompt_mask)},
            {"response_ids", tensor_state(r.response_ids)}, {"response_mask", tensor_state(r.response_mask)},
            {"ended", tensor_state(r.ended)},               {"prompt_index", tensor_state(r.prompt_index)}};
}

Rollout load_rollout_state(const nlohmann::json& j) {
    Rollout r;
    r.prompt_ids = load_tensor_state(j.at("prompt_ids"), "rollout.prompt_ids");
    r.prompt_mask = load_tensor_state(j.at("prompt_mask"), "rollout.prompt_mask");
    r.response_ids = load_tensor_state(j.at("response_ids"), "rollout.response_ids");
    r.response_mask = load_tensor_state(j.at("response_mask"), "rollout.response_mask");
    r.ended = load_tensor_state(j.at("ended"), "rollout.ended");
    r.prompt_index = load_tensor_state(j.at("prompt_index"), "rollout.prompt_index");
    return r;
}

// ---------------------------------------------------------------------------------------------
// Rule helpers

std::string ascii_lower(std::string s) {
    for (auto& ch : s)
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    return s;
}

std::string trim(const std::string& s) {
    const char* ws = " \t\r\n\f\v";
    const size_t a = s.find_first_not_of(ws);
    if (a == std::string::npos) return "";
    return s.substr(a, s.find_last_not_of(ws) - a + 1);
}

int64_t count_words(const std::string& s) {
    int64_t n = 0;
    bool in_word = false;
    for (unsigned char ch : s) {
        const bool space = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
        if (!space && !in_word) ++n;
        in_word = !space;
    }
    return n;
}

int64_t count_code_points(const std::string& s) {
    int64_t n = 0;
    for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;  // every byte that is not a continuation byte
    return n;
}
}  // namespace

std::vector<size_t> rank_slice(const std::vector<size_t>& global, int64_t rank, int64_t world_size) {
    if (world_size < 1 || rank < 0 || rank >= world_size || global.size() % static_cast<size_t>(world_size) != 0)
        throw Error("train: rank_slice: rank " + std::to_string(rank) + " of " + std::to_string(world_size) +
                    " cannot slice a batch of " + std::to_string(global.size()));
    const size_t b = global.size() / static_cast<size_t>(world_size);
    return std::vector<size_t>(global.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(rank) * b),
                               global.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(rank + 1) * b));
}

// ---------------------------------------------------------------------------------------------
// Rule rewards

RuleScorer::RuleScorer(std::vector<RewardRule> rules, std::function<double(const std::string&)> sentiment)
    : rules_(std::move(rules)), sentiment_(std::move(sentiment)) {
    for (size_t i = 0; i < rules_.size(); ++i) {
        const auto& r = rules_[i];
        const std::string where = "reward.rules[" + std::to_string(i) + "]" + (r.line ? " (line " + std::to_string(r.line) + ")" : "");
        try {
            regex_.push_back(r.pattern.empty() ? nullptr : std::make_shared<const std::regex>(r.pattern, std::regex::ECMAScript));
        } catch (const std::regex_error& e) {
            throw Error(where + ": pattern: bad regular expression: " + e.what());
        }
        std::vector<std::string> words;
        for (const auto& w : r.words) words.push_back(ascii_lower(w));
        lower_words_.push_back(std::move(words));
        if (r.type == RuleType::Sentiment && !sentiment_) throw Error(where + ": sentiment: no sentiment judge available here");
    }
}

double RuleScorer::value(size_t i, const RuleInput& in) const {
    const auto& r = rules_.at(i);
    switch (r.type) {
    case RuleType::Regex: {
        const bool found = std::regex_search(in.response, *regex_[i]);
        return found == r.match ? 1.0 : 0.0;
    }
    case RuleType::Length: {
        const int64_t n = r.unit == LengthUnit::Words ? count_words(in.response)
                          : r.unit == LengthUnit::Chars ? count_code_points(in.response)
                                                         : in.response_tokens;
        return -std::fabs(static_cast<double>(n) - r.target);
    }
    case RuleType::ContainsAny: {
        const std::string text = ascii_lower(in.response);
        for (const auto& w : lower_words_[i])
            if (text.find(w) != std::string::npos) return 1.0;
        return 0.0;
    }
    case RuleType::ExactAnswer: {
        if (!in.answer) return 0.0;
        std::string got = in.response;
        if (regex_[i]) {
            std::smatch m;
            if (!std::regex_search(in.response, m, *regex_[i])) return 0.0;
            got = m.size() > 1 ? m[1].str() : m[0].str();
        }
        return trim(got) == trim(*in.answer) ? 1.0 : 0.0;
    }
    case RuleType::Sentiment:
        return sentiment_(in.response);
    }
    return 0.0;
}

double RuleScorer::score(const RuleInput& in) const {
    double total = 0;
    for (size_t i = 0; i < rules_.size(); ++i) total += rules_[i].weight * value(i, in);
    return total;
}

// ---------------------------------------------------------------------------------------------
// PPO

PolicyWithValueImpl::PolicyWithValueImpl(std::shared_ptr<model::CausalLM> p) : policy(std::move(p)) {
    register_module("policy", policy);
    // No dropout: the values of a rollout and of its training passes must be comparable.
    value_head = register_module("v_head", model::ValueHead(policy->config().hidden_size, /*dropout=*/0.0));
    torch::NoGradGuard no_grad;
    // A zero head starts every value at 0: early advantages are then the returns themselves.
    value_head->summary->weight.zero_();
    value_head->summary->bias.zero_();
    model::move_to(*value_head, policy->device(), policy->dtype());
}

PpoTask::PpoTask(PolicyWithValue model, std::shared_ptr<model::CausalLM> reference, std::vector<TokenIds> prompts,
                 const TrainConfig& config, RlOptions options)
    : model_(std::move(model)), reference_(std::move(reference)), prompts_(std::move(prompts)), config_(config),
      options_(std::move(options)), order_(prompts_.size(), static_cast<uint64_t>(config.seed), config.data.shuffle) {
    if (config_.ppo.adaptive_kl)
        kl_ = std::make_unique<AdaptiveKlController>(config_.ppo.kl_coef, config_.ppo.kl_target, config_.ppo.kl_horizon);
    else
        kl_ = std::make_unique<FixedKlController>(config_.ppo.kl_coef);
    if ((config_.ppo.ppo_epochs * config_.ppo.minibatches) % config_.grad_accum != 0)
        throw Error("ppo: ppo.ppo_epochs × ppo.minibatches must be a multiple of grad_accum");
    if (!options_.rule_reward && !options_.indexed_rule_reward && !options_.reward_model)
        throw Error("ppo: needs a reward model or a rule reward");
    freeze(*reference_);
    if (options_.reward_model) freeze(*options_.reward_model);
}

nlohmann::json PpoTask::save_state() const {
    nlohmann::json s = {{"order", order_.save()}, {"kl_coef", kl_->value()}};
    // Inside a rollout (minibatches left), the rollout itself: resuming must train on the same
    // samples, advantages and minibatch order, not on a fresh rollout.
    if (!pending_.empty()) {
        s["pending"] = pending_;
        s["rollout"] = rollout_state(rollout_);
        s["old_logprobs"] = tensor_state(old_logprobs_);
        s["ref_logprobs"] = tensor_state(ref_logprobs_);
        s["old_values"] = tensor_state(old_values_);
        s["advantages"] = tensor_state(advantages_);
        s["returns"] = tensor_state(returns_);
        s["rollout_metrics"] = metrics_state(rollout_metrics_);
    }
    return s;
}

void PpoTask::load_state(const nlohmann::json& s) {
    order_.load(s.at("order"));
    kl_->set_value(s.at("kl_coef").get<double>());
    pending_.clear();
    if (s.contains("pending")) {
        pending_ = s.at("pending").get<std::vector<std::vector<int64_t>>>();
        rollout_ = load_rollout_state(s.at("rollout"));
        old_logprobs_ = load_tensor_state(s.at("old_logprobs"), "old_logprobs");
        ref_logprobs_ = load_tensor_state(s.at("ref_logprobs"), "ref_logprobs");
        old_values_ = load_tensor_state(s.at("old_values"), "old_values");
        advantages_ = load_tensor_state(s.at("advantages"), "advantages");
        returns_ = load_tensor_state(s.at("returns"), "returns");
        rollout_metrics_ = load_metrics_state(s.at("rollout_metrics"));
    }
}

void PpoTask::make_rollout(StepContext& ctx) {
    const auto t0 = Clock::now();
    auto& policy = *model_->policy;
    dist::Communicator* comm = options_.local_statistics ? nullptr : ctx.comm;
    const int64_t b = config_.batch_size;
    auto idx = rank_slice(order_.next(static_cast<size_t>(b * ctx.world_size)), ctx.rank, ctx.world_size);
    // Seeds by global row: a row samples the same response on whichever rank generates it.
    Rollout local = sample_responses(policy, pick(prompts_, idx, 1), config_.ppo.response_length, config_.ppo.temperature,
                                     options_.eos_ids, options_.pad_id, row_seeds(config_.seed, ctx.step, ctx.rank * b, b));
    local.prompt_index = index_tensor(idx, 1, policy.device());
    const double generate_s = std::chrono::duration<double>(Clock::now() - t0).count();
    // The global rollout, and this rank's rows of it (padded as one process would pad them).
    std::vector<int64_t> counts{b};
    rollout_ = comm ? gather_rollout(*comm, ctx.rank, local, options_.pad_id, counts) : local;
    const int64_t first = comm ? first_row(counts, ctx.rank) : 0;
    Rollout mine = comm ? select_rows(rollout_, torch::arange(first, first + b, rollout_.response_ids.options())) : rollout_;
    torch::NoGradGuard no_grad;
    const bool was_training = model_->is_training();
    model_->eval();
    const double temp = config_.ppo.temperature;
    torch::Tensor values;
    auto logprobs = rollout_logprobs(policy, mine, temp, &model_->value_head, &values);  // (b, R)
    auto ref_logprobs = rollout_logprobs(*reference_, mine, temp);                     // (b, R)
    if (was_training) model_->train();
    auto scores = score_responses(options_, mine, config_.data.max_length);  // (b)
    if (comm) {
        auto all = concat_rows(*comm, ctx.rank, {logprobs, ref_logprobs, values, scores}, counts);
        logprobs = all[0], ref_logprobs = all[1], values = all[2], scores = all[3];
    }
    // From here on every tensor holds the global batch (B = Σ ranks' rows).
    old_logprobs_ = logprobs;    // (B, R)
    ref_logprobs_ = ref_logprobs;  // (B, R)
    old_values_ = values;        // (B, R)
    auto mask = rollout_.response_mask;  // (B, R)
    if (config_.ppo.eos_penalty != 0)
        scores = torch::where(rollout_.ended, scores, scores + config_.ppo.eos_penalty);
    // Per-token reward: −β KL_t everywhere, plus the score on the last response token.
    auto kl = kl_penalty(old_logprobs_, ref_logprobs_, KlEstimator::K1) * mask;  // (B, R)
    auto non_score = -kl_->value() * kl;                                         // (B, R)
    auto last = (mask.sum(1) - 1).clamp_min(0).to(torch::kInt64);               // (B)
    auto rewards = non_score.clone();
    rewards.scatter_add_(1, last.unsqueeze(1), scores.unsqueeze(1));
    if (config_.ppo.whiten_rewards) rewards = whiten(rewards, mask, /*shift_mean=*/false);
    auto gae = gae_advantages(rewards, old_values_, mask, config_.ppo.gamma, config_.ppo.lam);
    advantages_ = whiten(gae.advantages, mask);
    returns_ = gae.returns;
    const double mean_kl = model::host_scalar(kl.sum(1).mean());
    rollout_metrics_.clear();
    rollout_metrics_["objective/scores"] = model::host_scalar(scores.mean());
    rollout_metrics_["objective/kl"] = mean_kl;
    rollout_metrics_["objective/non_score_reward"] = model::host_scalar(non_score.sum(1).mean());
    rollout_metrics_["objective/rlhf_reward"] = model::host_scalar((scores + non_score.sum(1)).mean());
    // TRL's estimate: the sampled tokens' negative log-likelihood per sequence.
    rollout_metrics_["objective/entropy"] = model::host_scalar((-old_logprobs_ * mask).sum(1).mean());
    rollout_metrics_["kl_coef"] = kl_->value();
    rollout_metrics_["response_length"] = model::host_scalar(mask.sum(1).mean());
    rollout_metrics_["timing/generate_s"] = generate_s;
    add_samples(ctx, options_, rollout_, scores, PerToken{old_logprobs_, ref_logprobs_, advantages_, old_values_});
    // Ziegler et al. 2019: the controller sees the KL of each batch of episodes (all ranks' episodes).
    const int64_t episodes = rollout_.response_ids.size(0);
    kl_->update(mean_kl, episodes);
    if (config_.guards.kl_stop > 0 && mean_kl > config_.guards.kl_stop) ctx.stop_reason = "kl_stop";
    // ppo_epochs passes, each a fresh permutation of the global rows split into minibatches; the
    // permutation comes from a stream every rank shares (seeded by the step), and each rank trains
    // on its part of every minibatch.
    pending_.clear();
    const int64_t mb = episodes / config_.ppo.minibatches;
    if (mb < (comm ? ctx.world_size : 1))
        throw Error("ppo: a minibatch of " + std::to_string(mb) + " rollouts cannot be split over " +
                    std::to_string(ctx.world_size) + " ranks (batch_size × ranks / ppo.minibatches must be >= ranks)");
    std::mt19937_64 rng(rollout_row_seed(config_.seed, ctx.step, -1));
    std::vector<int64_t> perm(static_cast<size_t>(episodes));
    for (int64_t e = 0; e < config_.ppo.ppo_epochs; ++e) {
        std::iota(perm.begin(), perm.end(), int64_t(0));
        for (size_t i = perm.size() - 1; i > 0; --i) std::swap(perm[i], perm[rng() % (i + 1)]);  // Fisher-Yates
        for (int64_t m = 0; m < config_.ppo.minibatches; ++m)
            pending_.emplace_back(perm.begin() + m * mb, perm.begin() + (m + 1) * mb);
    }
}

void PpoTask::begin_step(StepContext& ctx) {
    if (pending_.empty()) make_rollout(ctx);
    ctx.metrics = rollout_metrics_;
}

torch::Tensor PpoTask::micro_batch_loss(StepContext& ctx) {
    if (pending_.empty()) throw Error("ppo: no minibatch left (grad_accum does not divide the rollout's minibatches)");
    const auto t0 = Clock::now();
    const std::vector<int64_t> minibatch = pending_.front();  // global rows
    pending_.erase(pending_.begin());
    dist::Communicator* comm = options_.local_statistics ? nullptr : ctx.comm;
    const torch::Device device = rollout_.response_ids.device();
    auto rows = rows_tensor(comm ? my_part(minibatch, ctx, "ppo") : minibatch, device);
    model_->train();
    auto sub = select_rows(rollout_, rows);
    auto mask = sub.response_mask;
    torch::Tensor values;
    auto logprobs = rollout_logprobs(*model_->policy, sub, config_.ppo.temperature, &model_->value_head, &values);  // (b, R)
    auto pl = ppo_policy_loss(logprobs, old_logprobs_.index_select(0, rows), advantages_.index_select(0, rows), mask,
                              config_.ppo.cliprange);
    auto vl = ppo_value_loss(values, old_values_.index_select(0, rows), returns_.index_select(0, rows), mask,
                             config_.ppo.cliprange_value);
    // The losses are token means over the whole minibatch: this rank's token mean times its share
    // of the minibatch's tokens times the ranks (the Trainer averages gradients and metrics over
    // ranks, which turns the shares back into one mean). One process: share = n / n = 1.
    const double n_mine = model::host_scalar(mask.sum());
    const double n_all = comm ? model::host_scalar(rollout_.response_mask.index_select(0, rows_tensor(minibatch, device)).sum())
                              : n_mine;
    const double share = n_all > 0 ? n_mine * static_cast<double>(comm ? ctx.world_size : 1) / n_all : 1.0;
    ctx.metrics["policy/approxkl_avg"] = share * model::host_scalar(pl.approxkl);
    ctx.metrics["policy/clipfrac_avg"] = share * model::host_scalar(pl.clipfrac);
    ctx.metrics["loss/policy_avg"] = share * model::host_scalar(pl.loss);
    ctx.metrics["loss/value_avg"] = share * model::host_scalar(vl.loss);
    ctx.metrics["val/clipfrac_avg"] = share * model::host_scalar(vl.clipfrac);
    ctx.metrics["val/ratio"] = share * model::host_scalar(pl.ratio);
    ctx.metrics["timing/train_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
    ctx.metrics["num_tokens"] = n_mine;
    auto loss = pl.loss + config_.ppo.vf_coef * vl.loss;
    return share == 1.0 ? loss : loss * share;
}

// ---------------------------------------------------------------------------------------------
// GRPO

GrpoTask::GrpoTask(std::shared_ptr<model::CausalLM> policy, std::shared_ptr<model::CausalLM> reference,
                   std::vector<TokenIds> prompts, const TrainConfig& config, RlOptions options)
    : policy_(std::move(policy)), reference_(std::move(reference)), prompts_(std::move(prompts)), config_(config),
      options_(std::move(options)), order_(prompts_.size(), static_cast<uint64_t>(config.seed), config.data.shuffle) {
    if (!options_.rule_reward && !options_.indexed_rule_reward && !options_.reward_model)
        throw Error("grpo: needs a reward model or a rule reward");
    if (config_.grpo.beta > 0 && !reference_) throw Error("grpo: grpo.beta > 0 needs a reference model");
    if (reference_) freeze(*reference_);
    if (options_.reward_model) freeze(*options_.reward_model);
}

nlohmann::json GrpoTask::save_state() const {
    nlohmann::json s = {{"order", order_.save()}, {"iterations_left", iterations_left_}};
    // With grpo.iterations > 1 a checkpoint can fall between two passes over one generated batch.
    if (iterations_left_ > 0) {
        s["rollout"] = rollout_state(rollout_);
        s["old_logprobs"] = tensor_state(old_logprobs_);
        s["ref_logprobs"] = tensor_state(ref_logprobs_);
        s["advantages"] = tensor_state(advantages_);
        s["rollout_metrics"] = metrics_state(rollout_metrics_);
    }
    return s;
}

void GrpoTask::load_state(const nlohmann::json& s) {
    order_.load(s.at("order"));
    iterations_left_ = s.value("iterations_left", int64_t(0));
    if (iterations_left_ > 0) {
        rollout_ = load_rollout_state(s.at("rollout"));
        old_logprobs_ = load_tensor_state(s.at("old_logprobs"), "old_logprobs");
        ref_logprobs_ = load_tensor_state(s.at("ref_logprobs"), "ref_logprobs");
        advantages_ = load_tensor_state(s.at("advantages"), "advantages");
        rollout_metrics_ = load_metrics_state(s.at("rollout_metrics"));
    }
}

void GrpoTask::begin_step(StepContext& ctx) {
    if (iterations_left_ == 0) {
        const auto t0 = Clock::now();
        dist::Communicator* comm = options_.local_statistics ? nullptr : ctx.comm;
        const int64_t g = config_.grpo.group_size, b = config_.batch_size * g;  // rows of this rank
        // Whole prompts go to a rank, so a prompt's G completions are always generated (and, in
        // the ablation local_statistics, normalised) together; seeds are by global row.
        auto idx = rank_slice(order_.next(static_cast<size_t>(config_.batch_size * ctx.world_size)), ctx.rank, ctx.world_size);
        Rollout local = sample_responses(*policy_, pick(prompts_, idx, g), config_.grpo.response_length,
                                         config_.grpo.temperature, options_.eos_ids, options_.pad_id,
                                         row_seeds(config_.seed, ctx.step, ctx.rank * b, b));
        local.prompt_index = index_tensor(idx, g, policy_->device());
        std::vector<int64_t> counts{b};
        rollout_ = comm ? gather_rollout(*comm, ctx.rank, local, options_.pad_id, counts) : local;
        const int64_t first = comm ? first_row(counts, ctx.rank) : 0;
        Rollout mine = comm ? select_rows(rollout_, torch::arange(first, first + b, rollout_.response_ids.options())) : rollout_;
        torch::NoGradGuard no_grad;
        auto logprobs = rollout_logprobs(*policy_, mine, config_.grpo.temperature);  // (b, R)
        torch::Tensor ref_logprobs;
        if (config_.grpo.beta > 0) ref_logprobs = rollout_logprobs(*reference_, mine, config_.grpo.temperature);
        auto scores = score_responses(options_, mine, config_.data.max_length);  // (b)
        if (comm) {
            std::vector<torch::Tensor> parts{logprobs, scores};
            if (ref_logprobs.defined()) parts.push_back(ref_logprobs);
            auto all = concat_rows(*comm, ctx.rank, parts, counts);
            logprobs = all[0], scores = all[1];
            if (ref_logprobs.defined()) ref_logprobs = all[2];
        }
        // Global batch from here on: (B·G, R) and (B·G), groups of G consecutive rows.
        old_logprobs_ = logprobs;
        ref_logprobs_ = ref_logprobs;
        advantages_ = grpo_advantages(scores, g, 1e-4, config_.grpo.scale_rewards);
        rollout_metrics_.clear();
        rollout_metrics_["reward"] = model::host_scalar(scores.mean());
        rollout_metrics_["reward_std"] = model::host_scalar(scores.view({-1, g}).std(1).mean());
        rollout_metrics_["completion_length"] = model::host_scalar(rollout_.response_mask.sum(1).mean());
        rollout_metrics_["timing/generate_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
        add_samples(ctx, options_, rollout_, scores, PerToken{old_logprobs_, ref_logprobs_, advantages_, {}});
        iterations_left_ = config_.grpo.iterations;
    }
    --iterations_left_;
    ctx.metrics = rollout_metrics_;
}

torch::Tensor GrpoTask::micro_batch_loss(StepContext& ctx) {
    policy_->train();
    dist::Communicator* comm = options_.local_statistics ? nullptr : ctx.comm;
    // grad_accum splits the (global) B·G rows into equal micro-batches; each rank trains on its
    // part of every micro-batch.
    const int64_t n = rollout_.response_ids.size(0);
    const int64_t per = (n + ctx.grad_accum - 1) / ctx.grad_accum;
    const int64_t start = ctx.micro * per, count = std::min(per, n - start);
    std::vector<int64_t> micro(static_cast<size_t>(std::max<int64_t>(count, 0)));
    std::iota(micro.begin(), micro.end(), start);
    auto rows = rows_tensor(comm ? my_part(micro, ctx, "grpo") : micro, rollout_.response_ids.device());
    auto sub = select_rows(rollout_, rows);
    auto logprobs = rollout_logprobs(*policy_, sub, config_.grpo.temperature);  // (b, R)
    auto res = grpo_loss(logprobs, old_logprobs_.index_select(0, rows),
                         config_.grpo.beta > 0 ? ref_logprobs_.index_select(0, rows) : torch::Tensor(),
                         advantages_.index_select(0, rows), sub.response_mask, config_.grpo.cliprange, config_.grpo.beta);
    // grpo_loss is a mean over sequences, kl and clip_ratio token means: rescale by this rank's
    // share of the micro-batch's sequences / tokens times the ranks (see PpoTask for why).
    const double world = comm ? static_cast<double>(ctx.world_size) : 1.0;
    const double n_mine = model::host_scalar(sub.response_mask.sum());
    const double n_all = comm ? model::host_scalar(rollout_.response_mask.narrow(0, start, count).sum()) : n_mine;
    const double seq_share = comm ? static_cast<double>(rows.size(0)) * world / static_cast<double>(count) : 1.0;
    const double tok_share = n_all > 0 ? n_mine * world / n_all : 1.0;
    double kl = tok_share * model::host_scalar(res.kl);
    ctx.metrics["kl"] = kl;
    ctx.metrics["clip_ratio"] = tok_share * model::host_scalar(res.clip_ratio);
    ctx.metrics["num_tokens"] = n_mine;
    if (config_.guards.kl_stop > 0) {
        if (comm) {  // the micro-batch's KL, not this rank's part of it
            std::vector<double> v{kl};
            comm->allreduce_sum(v);
            kl = v[0] / world;
        }
        if (kl > config_.guards.kl_stop) ctx.stop_reason = "kl_stop";
    }
    return seq_share == 1.0 ? res.loss : res.loss * seq_share;
}

double GrpoTask::mean_reward(const std::vector<TokenIds>& prompts, int64_t samples) {
    std::vector<size_t> all(prompts.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    auto r = sample_responses(*policy_, pick(prompts, all, samples), config_.grpo.response_length,
                              config_.grpo.temperature, options_.eos_ids, options_.pad_id);
    r.prompt_index = index_tensor(all, samples, policy_->device());
    return model::host_scalar(score_responses(options_, r, config_.data.max_length).mean());
}

}  // namespace rlhf::train
