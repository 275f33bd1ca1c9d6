// rlhf pairs --project P --prompts DATASET --model-a DIR [--model-b DIR] [--n N] [--seed S]
//            [--max-new-tokens N] [--temperature T] [--top-p P] [--top-k K] [--min-p M]
//            [--repetition-penalty R] [--batch N] [--prelabel rule|rm:DIR] [--threads N]
//
// Generates comparisons to label (issue 6 item 3): for each of the first N prompts of DATASET
// (prompts, preference or SFT records) that have no comparison between these two models yet, one
// completion from model A and one from model B (or, without --model-b, two samples of A with
// different seeds), stored as completions plus a comparison whose left side is a seeded coin
// (position bias). One JSON line per stored comparison on stdout, flushed, so the workbench sees
// each pair the moment it is durable and the annotator can start while the rest is generated.
//
// Reproducibility: the completion of prompt record `id` by side s (0 = A, 1 = B) is sampled with
// seed S + 2*id + s, alone in its batch (core/generate seeds row i from (seed, i), so only row 0
// equals `rlhf generate --seed`); it is exactly what `rlhf generate --model DIR --prompt TEXT
// --seed S+2*id+s` prints with the same sampling flags. Greedy decoding (temperature 0) has no
// randomness, so those prompts are batched (--batch) for speed.
//
// Pre-labels (--prelabel) are labels by a machine annotator, stored like the demo's simulated
// annotator under a name starting "simulated:" ("simulated:lexicon-judge" for the rule,
// "simulated:rm:<folder>" for a reward model), so they never count as a human label: the
// labeling panel shows them apart, as hints.
//
// stdout, one JSON object per line:
//   {"comparison","prompt_id","completion_a","completion_b","a_on_left","model_a","model_b",
//    "seed_a","seed_b","text_a","text_b","prelabel":"A"|"B"|"tie"|null,"done","total"}
//   {"event":"summary","stored","already_used","skipped_too_long","seconds"}
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "app/rlhf/cli.h"
#include "core/demo/reviews.h"
#include "core/generate/defaults.h"
#include "core/generate/generate.h"
#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/model/checkpoint.h"
#include "core/model/heads.h"
#include "core/store/project.h"
#include "core/store/sqlite.h"
#include "core/text/chat_template.h"
#include "core/text/tokenizer.h"
#include "core/train/algorithms.h"
#include "core/train/config.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace rlhf;

namespace {

constexpr const char* kRuleAnnotator = "simulated:lexicon-judge";  // same judge and name as `rlhf demo`

// ---------------------------------------------------------------------------------------------
// Options

struct PairsOptions {
    std::string project;            // project folder (must exist)
    std::string prompts;            // dataset name whose records give the prompts
    std::string model_a, model_b;   // model folders; model_b "" = two samples of A
    int64_t n = 16;                 // comparisons to store at most in this call
    uint64_t seed = 0;              // base seed: completions use seed + 2*prompt_id + side
    int64_t batch = 8;              // prompts per generate call when decoding greedily
    std::string prelabel;           // "" | "rule" | "rm:DIR"
    int threads = 0;                // intra-op threads; 0 = all cores
    // Sampling flags as `rlhf generate` takes them; unset ones keep the model folder's defaults.
    int64_t max_new_tokens = -1;
    bool has_temperature = false;
    double temperature = 0, top_p = -1, min_p = -1, repetition_penalty = -1;
    int64_t top_k = -1;
};

// The sampling options `rlhf generate` would use for this folder and these flags (same order of
// precedence: generation_config.json, then the tokenizer's EOS, then each flag given).
generate::GenerateOptions sampling_options(const std::string& dir, const model::CausalLM& lm, const text::Tokenizer& tok,
                                           const PairsOptions& o) {
    generate::GenerateOptions g = generate::options_from_model_dir(dir, lm.config());
    if (tok.eos_id() >= 0 && std::find(g.eos_token_ids.begin(), g.eos_token_ids.end(), tok.eos_id()) == g.eos_token_ids.end())
        g.eos_token_ids.push_back(tok.eos_id());
    if (o.max_new_tokens > 0) g.max_new_tokens = o.max_new_tokens;
    if (o.has_temperature) {
        g.sampling.do_sample = o.temperature > 0;
        g.sampling.temperature = o.temperature;
    }
    if (o.top_p >= 0) g.sampling.top_p = o.top_p;
    if (o.top_k >= 0) g.sampling.top_k = o.top_k;
    if (o.min_p >= 0) g.sampling.min_p = o.min_p;
    if (o.repetition_penalty > 0) g.sampling.repetition_penalty = o.repetition_penalty;
    return g;
}

json sampling_json(const generate::GenerateOptions& g) {
    const auto& s = g.sampling;
    return {{"do_sample", s.do_sample}, {"temperature", s.temperature}, {"top_k", s.top_k}, {"top_p", s.top_p},
            {"min_p", s.min_p},         {"repetition_penalty", s.repetition_penalty},
            {"max_new_tokens", g.max_new_tokens}};
}

// ---------------------------------------------------------------------------------------------
// Prompts: which records, and their text

// The turns before the response: a prompt record's prompt, a pair's prompt, an SFT conversation
// without its last assistant turn (a role-less SFT text has no prompt part and is left out).
data::Messages prompt_messages(const data::Record& r) {
    switch (r.kind) {
    case data::RecordKind::Prompt: return r.prompt.prompt;
    case data::RecordKind::Preference: return r.pref.prompt;
    case data::RecordKind::Sft: {
        data::Messages m = r.sft.messages;
        while (!m.empty() && m.back().role == "assistant") m.pop_back();
        if (m.size() == r.sft.messages.size()) return {};
        return m;
    }
    }
    return {};
}

// Role-less text as is, turns one per line (torch_cmd_train.cpp's flattening, so a reward model
// scores pairs as its run saw them).
std::string join_messages(const data::Messages& m) {
    std::string out;
    for (const auto& msg : m) {
        if (!out.empty()) out += "\n";
        out += msg.role.empty() ? msg.content : msg.role + ": " + msg.content;
    }
    return out;
}

bool has_chat_template(const std::string& dir) {
    const fs::path config = fs::path(dir) / "tokenizer_config.json";
    if (fs::exists(fs::path(dir) / "chat_template.jinja")) return true;
    if (!fs::exists(config)) return false;
    const json j = json::parse(io::read_file(config.string()), nullptr, false);
    return j.is_object() && j.contains("chat_template") && !j["chat_template"].is_null();
}

// One model with what it needs to turn prompts into ids and ids into text.
struct Generator {
    std::string dir;     // as stored in completions.model (absolute, normalised)
    std::shared_ptr<const text::Tokenizer> tok;
    std::shared_ptr<model::CausalLM> lm;
    std::optional<text::ChatTemplate> chat;  // set when the folder has a chat template
    generate::GenerateOptions options;

    // A conversational prompt (turns with roles) through the model's chat template, as
    // `rlhf generate --chat` renders one; a plain-text prompt (TRL's standard format: one
    // role-less message) is continued as text, as plain `rlhf generate` does: the text with the
    // tokenizer's special tokens (BOS). TRL applies templates to conversational data only, and the
    // demo's review openings are continuations, not questions.
    std::vector<int32_t> encode(const data::Messages& prompt) const {
        const bool conversational =
            std::any_of(prompt.begin(), prompt.end(), [](const data::Message& m) { return !m.role.empty(); });
        if (chat && conversational) {
            json messages = json::array();
            for (const auto& m : prompt) messages.push_back({{"role", m.role.empty() ? "user" : m.role}, {"content", m.content}});
            return tok->encode(chat->render(messages, /*add_generation_prompt=*/true), /*add_special_tokens=*/false);
        }
        return tok->encode(join_messages(prompt), /*add_special_tokens=*/true);
    }
};

Generator load_generator(const std::string& dir, const PairsOptions& o) {
    Generator g;
    g.dir = fs::weakly_canonical(fs::absolute(dir)).string();
    if (!fs::exists(fs::path(g.dir) / "config.json")) throw Error(g.dir + "/config.json: not found (not a model folder)");
    g.tok = text::Tokenizer::from_file(g.dir);
    g.lm = model::load_causal_lm(g.dir);
    g.lm->eval();
    if (has_chat_template(g.dir)) g.chat = text::ChatTemplate::from_tokenizer_config(g.dir);
    g.options = sampling_options(g.dir, *g.lm, *g.tok, o);
    g.options.decode = [tok = g.tok](const std::vector<int32_t>& v) { return tok->decode(v, /*skip_special_tokens=*/true); };
    return g;
}

// Prompt ids that already have a comparison between exactly these two models (in either order),
// so a rerun continues with new prompts instead of duplicating pairs. A read of the store's own
// tables through its connection: Project has no query for it yet (see the session report).
std::set<int64_t> used_prompt_ids(store::Project& project, const std::string& model_a, const std::string& model_b) {
    store::Stmt st = project.db().prepare(
        "SELECT c.prompt_id FROM comparisons c JOIN completions a ON a.id = c.completion_a"
        " JOIN completions b ON b.id = c.completion_b"
        " WHERE (a.model = ?1 AND b.model = ?2) OR (a.model = ?2 AND b.model = ?1)",
        "find prompts with comparisons");
    st.bind(1, model_a).bind(2, model_b);
    std::set<int64_t> out;
    while (st.step()) out.insert(st.col_int(0));
    return out;
}

struct PromptItem {
    int64_t id = 0;
    data::Messages messages;
};

struct Stop {};  // ends for_each_record early once N prompts are chosen

// ---------------------------------------------------------------------------------------------
// Generation

struct Pending {
    PromptItem prompt;
    std::vector<int32_t> ids_a, ids_b;
    std::string text_a, text_b;
    uint64_t seed_a = 0, seed_b = 0;
};

// Fills text_<side> of items[first, last) with one generate call per row when sampling (row 0
// is the seeded one, see the file comment) or one call for all when greedy.
void generate_side(Generator& g, std::vector<Pending>& items, size_t first, size_t last, bool side_b) {
    auto ids_of = [&](Pending& p) -> std::vector<int32_t>& { return side_b ? p.ids_b : p.ids_a; };
    auto run = [&](size_t from, size_t to) {
        std::vector<std::vector<int32_t>> batch;
        int64_t longest = 0;
        for (size_t i = from; i < to; ++i) {
            batch.push_back(ids_of(items[i]));
            longest = std::max<int64_t>(longest, static_cast<int64_t>(batch.back().size()));
        }
        generate::GenerateOptions opt = g.options;
        opt.sampling.seed = side_b ? items[from].seed_b : items[from].seed_a;
        // GPT-2 has learned positions only up to n_positions (as `rlhf generate` clamps).
        if (g.lm->config().is_gpt2() && longest + opt.max_new_tokens > g.lm->config().max_position_embeddings)
            opt.max_new_tokens = std::max<int64_t>(1, g.lm->config().max_position_embeddings - longest);
        auto res = generate::generate(*g.lm, batch, opt);
        for (size_t i = from; i < to; ++i) (side_b ? items[i].text_b : items[i].text_a) = res.texts[i - from];
    };
    if (g.options.sampling.do_sample) {
        for (size_t i = first; i < last; ++i) run(i, i + 1);
    } else {
        run(first, last);
    }
}

// ---------------------------------------------------------------------------------------------
// Pre-labels

// +1: A better, -1: B better, 0: tie.
using Judge = std::function<std::vector<int>(const std::vector<Pending>&, size_t, size_t, std::vector<std::string>&)>;

Judge rule_judge() {
    return [](const std::vector<Pending>& items, size_t first, size_t last, std::vector<std::string>& why) {
        std::vector<int> out;
        for (size_t i = first; i < last; ++i) {
            out.push_back(demo::judge_preference(items[i].text_a, items[i].text_b));
            why.push_back("lexicon score " + std::to_string(demo::judge_sentiment(items[i].text_a).score()) + " vs " +
                          std::to_string(demo::judge_sentiment(items[i].text_b).score()));
        }
        return out;
    };
}

// A reward model scores prompt + each completion tokenized as `rlhf train` tokenizes RM data:
// the prompt with special tokens (cut from the left), the response without, then EOS.
Judge rm_judge(const std::string& dir) {
    auto rm = std::make_shared<model::RewardModel>(model::load_reward_model(dir));
    (*rm)->eval();
    auto tok = text::Tokenizer::from_file(dir);
    train::DataConfig lengths;
    const fs::path beside = fs::path(dir).lexically_normal().parent_path() / "config.yaml";
    if (fs::path(dir).lexically_normal().filename() == "final" && fs::exists(beside))
        lengths = train::load_train_config(beside.string()).data;
    return [rm, tok, lengths](const std::vector<Pending>& items, size_t first, size_t last, std::vector<std::string>& why) {
        torch::NoGradGuard no_grad;
        std::vector<train::TokenIds> prompts, responses;
        for (size_t i = first; i < last; ++i) {
            auto p = tok->encode(join_messages(items[i].prompt.messages), /*add_special_tokens=*/true);
            train::TokenIds pid(p.begin(), p.end());
            if (static_cast<int64_t>(pid.size()) > lengths.max_prompt_length)
                pid.erase(pid.begin(), pid.end() - lengths.max_prompt_length);
            for (const std::string* text : {&items[i].text_a, &items[i].text_b}) {
                auto r = tok->encode(*text, /*add_special_tokens=*/false);
                train::TokenIds rid(r.begin(), r.end());
                if (tok->eos_id() >= 0) rid.push_back(tok->eos_id());
                prompts.push_back(pid);
                responses.push_back(std::move(rid));
            }
        }
        std::vector<const train::TokenIds*> pp, rr;
        for (size_t k = 0; k < prompts.size(); ++k) {
            pp.push_back(&prompts[k]);
            rr.push_back(&responses[k]);
        }
        const int64_t pad = std::max<int64_t>(0, tok->eos_id());
        auto batch = train::collate_sequences(pp, rr, pad, lengths.max_length);
        torch::Tensor scores = train::reward_scores(*rm, batch).contiguous();  // (2 * items): a, b, a, b, ...
        std::vector<int> out;
        for (size_t k = 0; k + 1 < static_cast<size_t>(scores.size(0)); k += 2) {
            const double sa = scores[static_cast<int64_t>(k)].item<double>(), sb = scores[static_cast<int64_t>(k + 1)].item<double>();
            out.push_back(sa > sb ? 1 : sa < sb ? -1 : 0);
            char line[96];
            std::snprintf(line, sizeof line, "rm score %.4f vs %.4f", sa, sb);
            why.emplace_back(line);
        }
        return out;
    };
}

// ---------------------------------------------------------------------------------------------
// The command

int run_pairs(cli::Args& args) {
    PairsOptions o;
    o.project = args.require("project");
    o.prompts = args.require("prompts");
    o.model_a = args.require("model-a");
    o.model_b = args.get("model-b", "");
    o.n = args.get_int("n", o.n);
    o.seed = static_cast<uint64_t>(args.get_int("seed", 0));
    o.batch = args.get_int("batch", o.batch);
    o.prelabel = args.get("prelabel", "");
    o.threads = static_cast<int>(args.get_int("threads", 0));
    o.max_new_tokens = args.get_int("max-new-tokens", -1);
    o.has_temperature = args.has("temperature");
    o.temperature = args.get_double("temperature", 0.0);
    o.top_p = args.get_double("top-p", -1.0);
    o.top_k = args.get_int("top-k", -1);
    o.min_p = args.get_double("min-p", -1.0);
    o.repetition_penalty = args.get_double("repetition-penalty", -1.0);
    args.finish();
    if (o.n <= 0) throw UsageError("rlhf pairs: --n must be positive");
    if (o.batch <= 0) throw UsageError("rlhf pairs: --batch must be positive");
    if (o.max_new_tokens == 0 || o.max_new_tokens < -1) throw UsageError("rlhf pairs: --max-new-tokens must be positive");
    if (o.has_temperature && o.temperature < 0) throw UsageError("rlhf pairs: --temperature must be >= 0");
    if (!o.prelabel.empty() && o.prelabel != "rule" && o.prelabel.rfind("rm:", 0) != 0)
        throw UsageError("rlhf pairs: --prelabel must be 'rule' or 'rm:DIR'");
    at::set_num_threads(o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    const auto t0 = std::chrono::steady_clock::now();

    store::OpenOptions open;
    open.create = false;  // a mistyped --project is an error, not a new empty project
    auto project = store::Project::open(o.project, open);
    const auto dataset = project.find_dataset(o.prompts);
    if (!dataset) {
        std::string names;
        for (const auto& d : project.datasets()) names += (names.empty() ? "" : ", ") + d.name;
        throw Error(project.database_path() + ": --prompts: no dataset named '" + o.prompts + "' (datasets: " +
                    (names.empty() ? "none" : names) + ")");
    }

    Generator a = load_generator(o.model_a, o);
    std::optional<Generator> b_own;
    if (!o.model_b.empty()) b_own = load_generator(o.model_b, o);
    Generator& b = b_own ? *b_own : a;
    if (!b_own && !a.options.sampling.do_sample)
        throw UsageError("rlhf pairs: without --model-b the two completions are two samples of model A; greedy decoding "
                         "would make them equal: pass --temperature > 0 (or a --model-b)");

    Judge judge;
    std::string judge_name;
    if (o.prelabel == "rule") {
        judge = rule_judge();
        judge_name = kRuleAnnotator;
    } else if (!o.prelabel.empty()) {
        const std::string rm_dir = o.prelabel.substr(3);
        judge = rm_judge(rm_dir);
        judge_name = "simulated:rm:" + fs::weakly_canonical(fs::absolute(rm_dir)).string();
    }
    const int64_t judge_id = judge ? project.annotator(judge_name) : 0;

    // Choose the prompts: the first N of the dataset, in id order, without a comparison of these models.
    const std::set<int64_t> used = used_prompt_ids(project, a.dir, b.dir);
    std::vector<Pending> items;
    int64_t already_used = 0, too_long = 0;
    try {
        project.for_each_record(dataset->id, [&](store::StoredRecord&& r) {
            if (used.count(r.id)) {
                ++already_used;
                return;
            }
            data::Messages m = prompt_messages(r.record);
            if (m.empty()) return;
            Pending p;
            p.prompt = {r.id, std::move(m)};
            p.ids_a = a.encode(p.prompt.messages);
            p.ids_b = b.encode(p.prompt.messages);
            // A prompt that fills GPT-2's positions leaves no room for a completion.
            auto fits = [](const Generator& g, const std::vector<int32_t>& ids) {
                return !ids.empty() && (!g.lm->config().is_gpt2() ||
                                        static_cast<int64_t>(ids.size()) < g.lm->config().max_position_embeddings);
            };
            if (!fits(a, p.ids_a) || !fits(b, p.ids_b)) {
                ++too_long;
                return;
            }
            p.seed_a = o.seed + 2 * static_cast<uint64_t>(r.id);
            p.seed_b = p.seed_a + 1;
            items.push_back(std::move(p));
            if (static_cast<int64_t>(items.size()) >= o.n) throw Stop{};
        });
    } catch (const Stop&) {
    }

    const std::string sampling_a = sampling_json(a.options).dump(), sampling_b = sampling_json(b.options).dump();
    const size_t step = a.options.sampling.do_sample && b.options.sampling.do_sample ? 1 : static_cast<size_t>(o.batch);
    size_t stored = 0;
    for (size_t first = 0; first < items.size(); first += step) {
        const size_t last = std::min(items.size(), first + step);
        generate_side(a, items, first, last, /*side_b=*/false);
        generate_side(b, items, first, last, /*side_b=*/true);
        std::vector<std::string> why;
        std::vector<int> verdicts = judge ? judge(items, first, last, why) : std::vector<int>{};
        for (size_t i = first; i < last; ++i) {
            const Pending& p = items[i];
            store::Completion ca, cb;
            ca.prompt_id = cb.prompt_id = p.prompt.id;
            ca.model = a.dir;
            cb.model = b.dir;
            ca.sampling_json = sampling_a;
            cb.sampling_json = sampling_b;
            ca.seed = static_cast<int64_t>(p.seed_a);
            cb.seed = static_cast<int64_t>(p.seed_b);
            ca.text = p.text_a;
            cb.text = p.text_b;
            const int64_t id_a = project.add_completion(ca), id_b = project.add_completion(cb);
            // A per-prompt coin: the side a prompt is shown on does not depend on which other
            // prompts this call happened to generate.
            std::mt19937_64 coin(o.seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(p.prompt.id)));
            const bool a_on_left = (coin() & 1u) != 0;
            const int64_t comparison = project.create_comparison(p.prompt.id, id_a, id_b, a_on_left);
            json prelabel = nullptr;
            if (judge) {
                const int v = verdicts[i - first];
                store::LabelInput label;
                label.comparison_id = comparison;
                label.annotator_id = judge_id;
                label.choice = v > 0 ? store::Choice::A : v < 0 ? store::Choice::B : store::Choice::Tie;
                label.rationale = why[i - first];
                project.add_label(label);
                prelabel = store::choice_name(label.choice);
            }
            ++stored;
            json line = {{"comparison", comparison}, {"prompt_id", p.prompt.id}, {"completion_a", id_a},
                         {"completion_b", id_b},     {"a_on_left", a_on_left},   {"model_a", a.dir},
                         {"model_b", b.dir},         {"seed_a", p.seed_a},       {"seed_b", p.seed_b},
                         {"text_a", p.text_a},       {"text_b", p.text_b},       {"prelabel", prelabel},
                         {"done", stored},           {"total", items.size()}};
            if (judge) line["prelabel_annotator"] = judge_name;
            std::printf("%s\n", line.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
            std::fflush(stdout);
        }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    json summary = {{"event", "summary"},         {"stored", stored},      {"already_used", already_used},
                    {"skipped_too_long", too_long}, {"dataset", o.prompts}, {"seconds", seconds}};
    std::printf("%s\n", summary.dump().c_str());
    std::fflush(stdout);
    return 0;
}

}  // namespace

RLHF_CLI_COMMAND(pairs,
                 "rlhf pairs --project DIR --prompts DATASET --model-a DIR [--model-b DIR] [--n N] [--seed S] "
                 "[--max-new-tokens N] [--temperature T] [--top-p P] [--top-k K] [--min-p M] [--repetition-penalty R] "
                 "[--batch N] [--prelabel rule|rm:DIR] [--threads N]",
                 "Generate comparisons to label: completions of a prompt set by one or two models, one JSON line each.",
                 run_pairs);
