// rlhf demo --project DIR — builds the bundled demo project with nothing downloaded (issue 7):
//   1. a seeded corpus of short product reviews of mixed sentiment (core/demo/reviews.h),
//   2. a byte-level BPE tokenizer trained on it (core/demo/bpe_trainer.h),
//   3. a tiny GPT-2-shaped model pre-trained on it with our own SFT trainer, saved in HF layout,
//   4. prompt sets (training and held-out review openings),
//   5. preference pairs: two sampled continuations per prompt, labelled by the simulated
//      annotator (the sentiment-lexicon judge), stored as comparisons + labels and as a
//      preference dataset the reward-model config trains on,
//   6. run configs (reward model, PPO) under DIR/configs/, written with this project's paths.
// rlhf demo-eval --model DIR — the fraction of positive continuations of the held-out prompts,
// judged by the lexicon judge: the number PPO should raise.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "app/rlhf/cli.h"
#include "core/demo/bpe_trainer.h"
#include "core/demo/reviews.h"
#include "core/generate/generate.h"
#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/model/checkpoint.h"
#include "core/store/project.h"
#include "core/text/tokenizer.h"
#include "core/train/algorithms.h"
#include "core/train/config.h"
#include "core/train/trainer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct DemoOptions {
    uint64_t seed = 1234;           // one seed for corpus, model init, sampling
    size_t reviews = 20000;         // corpus size (~2 MB)
    size_t tokenizer_reviews = 5000;  // reviews the BPE merges are learnt from
    size_t vocab_size = 512;        // BPE vocabulary (bytes + merges + <|endoftext|>)
    int64_t hidden = 128;           // GPT-2 n_embd
    int64_t layers = 2;             // GPT-2 n_layer
    int64_t heads = 4;              // GPT-2 n_head
    int64_t context = 64;           // n_positions: prompt + continuation
    int64_t sft_steps = 600;        // pre-training optimizer steps
    int64_t batch = 32;             // reviews per step
    double lr = 3e-3;               // AdamW peak learning rate (cosine to lr/10)
    size_t pairs = 500;             // preference pairs labelled by the simulated annotator
    int64_t response_tokens = 24;   // new tokens per continuation
    size_t eval_prompts = 128;      // held-out prompts for demo-eval
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void say(const std::string& line) {
    std::fprintf(stderr, "demo: %s\n", line.c_str());
    std::fflush(stderr);
}

std::vector<int64_t> to_ids64(const std::vector<int32_t>& ids) { return {ids.begin(), ids.end()}; }

// Continuations of `prompts` sampled from `model` (temperature 1: the model's own distribution).
std::vector<std::string> sample_continuations(rlhf::model::CausalLM& model, const rlhf::text::Tokenizer& tok,
                                              const std::vector<std::string>& prompts, int64_t max_new_tokens,
                                              double temperature, uint64_t seed) {
    std::vector<std::string> out;
    const size_t chunk = 64;
    for (size_t start = 0; start < prompts.size(); start += chunk) {
        std::vector<std::vector<int32_t>> batch;
        for (size_t i = start; i < std::min(prompts.size(), start + chunk); ++i) batch.push_back(tok.encode(prompts[i], /*add_special_tokens=*/true));  // BOS first
        rlhf::generate::GenerateOptions g;
        g.sampling.do_sample = temperature > 0;
        g.sampling.temperature = temperature;
        g.sampling.seed = seed + start;
        g.max_new_tokens = max_new_tokens;
        g.eos_token_ids = {tok.eos_id()};
        g.pad_token_id = tok.eos_id();
        g.decode = [&](const std::vector<int32_t>& ids) { return tok.decode(ids, true); };
        auto r = rlhf::generate::generate(model, batch, g);
        for (auto& t : r.texts) out.push_back(t);
    }
    return out;
}

double positive_fraction(const std::vector<std::string>& texts) {
    size_t pos = 0;
    for (const auto& t : texts) pos += rlhf::demo::judge_sentiment(t).is_positive();
    return texts.empty() ? 0.0 : double(pos) / double(texts.size());
}

rlhf::data::Record text_record(rlhf::data::RecordKind kind, const std::string& text) {
    rlhf::data::Record r;
    r.kind = kind;
    r.format = "demo";
    if (kind == rlhf::data::RecordKind::Sft) r.sft.messages = {{"", text}};
    else r.prompt.prompt = {{"", text}};
    return r;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
    return s;
}

int run_demo(rlhf::cli::Args& args) {
    DemoOptions o;
    std::string dir = args.require("project");
    o.reviews = static_cast<size_t>(args.get_int("reviews", static_cast<long long>(o.reviews)));
    o.sft_steps = args.get_int("sft-steps", o.sft_steps);
    o.pairs = static_cast<size_t>(args.get_int("pairs", static_cast<long long>(o.pairs)));
    o.seed = static_cast<uint64_t>(args.get_int("seed", static_cast<long long>(o.seed)));
    bool force = args.flag("force");
    args.finish();
    o.tokenizer_reviews = std::min(o.tokenizer_reviews, o.reviews);
    at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    torch::manual_seed(o.seed);
    auto t0 = std::chrono::steady_clock::now();

    fs::path root = fs::absolute(dir);
    if (fs::exists(root / "models" / "sft" / "config.json") && !force)
        throw rlhf::Error(root.string() + ": already holds a demo project (pass --force to rebuild it)");
    fs::create_directories(root);
    auto project = rlhf::store::Project::open(root.string());

    // 1. corpus
    rlhf::demo::CorpusOptions corpus_opts;
    corpus_opts.seed = o.seed;
    corpus_opts.reviews = o.reviews;
    auto reviews = rlhf::demo::generate_reviews(corpus_opts);
    {
        std::vector<rlhf::data::Record> records;
        for (const auto& r : reviews) records.push_back(text_record(rlhf::data::RecordKind::Sft, r.text));
        project.add_records(project.dataset("demo-reviews", "generated by rlhf demo"), records);
    }
    say("corpus: " + std::to_string(reviews.size()) + " reviews");

    // 2. tokenizer
    fs::path sft_dir = root / "models" / "sft";
    fs::path tok_dir = root / "models" / "tokenizer";
    {
        std::vector<std::string> texts;
        for (size_t i = 0; i < o.tokenizer_reviews; ++i) texts.push_back(reviews[i].text);
        rlhf::demo::BpeTrainOptions bo;
        bo.vocab_size = o.vocab_size;
        rlhf::demo::save_bpe_tokenizer(rlhf::demo::train_byte_level_bpe(texts, bo), tok_dir.string());
    }
    auto tok = rlhf::text::Tokenizer::from_file(tok_dir.string());
    const int64_t eos = tok->eos_id();
    say("tokenizer: " + std::to_string(tok->vocab_size()) + " tokens");

    // 3. pre-train a tiny GPT-2 with the SFT trainer: every review is a response to an empty
    // prompt (the model learns the whole text), ended by <|endoftext|>.
    auto cfg = rlhf::model::make_config("gpt2", o.hidden, o.layers, o.heads, o.heads, 4 * o.hidden,
                                        static_cast<int64_t>(tok->vocab_size()), o.context);
    cfg.bos_token_ids = {eos};
    cfg.eos_token_ids = {eos};
    auto policy = rlhf::model::make_random_model(cfg, o.seed);
    std::vector<rlhf::train::SftExampleIds> data;
    for (const auto& r : reviews) {
        rlhf::train::SftExampleIds ex;
        ex.prompt = {eos};  // a BOS position, so the first word is predicted too
        ex.response = to_ids64(tok->encode(r.text, false));
        ex.response.push_back(eos);
        data.push_back(std::move(ex));
    }
    rlhf::train::TrainConfig tc;
    tc.algo = rlhf::train::Algo::Sft;
    tc.seed = static_cast<int64_t>(o.seed);
    tc.batch_size = o.batch;
    tc.max_steps = o.sft_steps;
    tc.optimizer.lr = o.lr;
    tc.optimizer.weight_decay = 0.01;
    tc.schedule.type = rlhf::train::LrSchedule::Cosine;
    tc.schedule.warmup_steps = std::min<int64_t>(30, o.sft_steps / 10);
    tc.schedule.lr_min = o.lr / 10;
    tc.data.max_length = o.context;
    rlhf::train::SftTask sft(policy, data, tc, eos);
    auto topts = rlhf::train::TrainerOptions::from_config(tc, "", sft.steps_per_epoch(1));
    rlhf::train::TrainerCallbacks cb;
    cb.on_metrics = [&](int64_t step, const rlhf::train::Metrics& m) {
        if (step % 50 == 0 || step == o.sft_steps) {
            char line[160];
            std::snprintf(line, sizeof line, "pre-training step %lld/%lld  loss %.3f  %.0f tokens/s",
                          static_cast<long long>(step), static_cast<long long>(o.sft_steps), m.count("loss") ? m.at("loss") : 0.0,
                          m.count("tokens_per_second") ? m.at("tokens_per_second") : 0.0);
            say(line);
        }
    };
    rlhf::train::Trainer trainer(topts, sft, cb);
    auto result = trainer.run();
    rlhf::model::SaveOptions so;
    so.tokenizer_from = tok_dir.string();
    rlhf::model::save_causal_lm(*policy, sft_dir.string(), so);
    double sft_loss = result.last_metrics.count("loss") ? result.last_metrics.at("loss") : 0.0;
    say("model saved to " + sft_dir.string());

    // 4. prompts
    auto train_prompts = rlhf::demo::generate_prompts(o.seed, std::max<size_t>(o.pairs, 256), false);
    auto heldout_prompts = rlhf::demo::generate_prompts(o.seed, o.eval_prompts, true);
    {
        std::vector<rlhf::data::Record> a, b;
        for (const auto& p : train_prompts) a.push_back(text_record(rlhf::data::RecordKind::Prompt, p));
        for (const auto& p : heldout_prompts) b.push_back(text_record(rlhf::data::RecordKind::Prompt, p));
        project.add_records(project.dataset("demo-prompts", "generated by rlhf demo"), a);
        project.add_records(project.dataset("demo-prompts-heldout", "generated by rlhf demo"), b);
    }

    // 5. preference pairs labelled by the simulated annotator
    policy->eval();
    std::vector<std::string> pair_prompts(train_prompts.begin(), train_prompts.begin() + o.pairs);
    auto first = sample_continuations(*policy, *tok, pair_prompts, o.response_tokens, 1.0, o.seed * 2 + 1);
    auto second = sample_continuations(*policy, *tok, pair_prompts, o.response_tokens, 1.0, o.seed * 2 + 2);
    int64_t pref_ds = project.dataset("demo-preferences", "simulated annotator (lexicon judge)");
    int64_t prompts_ds = project.dataset("demo-pair-prompts", "prompts of the labelled pairs");
    int64_t judge = project.annotator("simulated:lexicon-judge");
    std::vector<rlhf::data::Record> pref_records, prompt_records;
    for (const auto& p : pair_prompts) prompt_records.push_back(text_record(rlhf::data::RecordKind::Prompt, p));
    project.add_records(prompts_ds, prompt_records);
    std::map<std::string, int64_t> prompt_ids;
    project.for_each_record(prompts_ds, [&](rlhf::store::StoredRecord&& r) {
        prompt_ids[r.record.prompt.prompt.at(0).content] = r.id;
    });
    std::mt19937_64 side_rng(o.seed);
    size_t decided = 0, ties = 0;
    std::string sampling = json{{"temperature", 1.0}, {"max_new_tokens", o.response_tokens}}.dump();
    for (size_t i = 0; i < pair_prompts.size(); ++i) {
        int64_t pid = prompt_ids.at(pair_prompts[i]);
        rlhf::store::Completion ca, cbm;
        ca.prompt_id = cbm.prompt_id = pid;
        ca.model = cbm.model = sft_dir.string();
        ca.sampling_json = cbm.sampling_json = sampling;
        ca.text = first[i];
        cbm.text = second[i];
        int64_t a = project.add_completion(ca), b = project.add_completion(cbm);
        int64_t comparison = project.create_comparison(pid, a, b, side_rng);
        int verdict = rlhf::demo::judge_preference(first[i], second[i]);
        rlhf::store::LabelInput label;
        label.comparison_id = comparison;
        label.annotator_id = judge;
        label.choice = verdict > 0 ? rlhf::store::Choice::A : verdict < 0 ? rlhf::store::Choice::B : rlhf::store::Choice::Tie;
        label.rationale = "lexicon score " + std::to_string(rlhf::demo::judge_sentiment(first[i]).score()) + " vs " +
                          std::to_string(rlhf::demo::judge_sentiment(second[i]).score());
        project.add_label(label);
        if (verdict == 0) {
            ++ties;
            continue;
        }
        ++decided;
        rlhf::data::Record r;
        r.kind = rlhf::data::RecordKind::Preference;
        r.format = "demo";
        r.pref.prompt = {{"", pair_prompts[i]}};
        r.pref.chosen = {{"", verdict > 0 ? first[i] : second[i]}};
        r.pref.rejected = {{"", verdict > 0 ? second[i] : first[i]}};
        pref_records.push_back(std::move(r));
    }
    project.add_records(pref_ds, pref_records);
    say("labelled " + std::to_string(pair_prompts.size()) + " pairs (" + std::to_string(ties) + " ties)");

    // 6. run configs with this project's paths
    fs::create_directories(root / "configs");
    for (const char* name : {"rm", "ppo"}) {
        fs::path src = fs::path(RLHF_RESOURCES_DIR) / "configs" / (std::string("demo-") + name + ".yaml");
        std::string text = replace_all(rlhf::io::read_file(src.string()), "${PROJECT}", root.string());
        rlhf::io::write_file_atomic((root / "configs" / (std::string(name) + ".yaml")).string(), text);
    }

    auto held = sample_continuations(*policy, *tok, heldout_prompts, o.response_tokens, 0.7, o.seed + 7);
    json summary = {
        {"project", root.string()},
        {"reviews", reviews.size()},
        {"vocab_size", tok->vocab_size()},
        {"sft_steps", result.steps},
        {"sft_final_loss", sft_loss},
        {"pairs", pair_prompts.size()},
        {"preference_pairs", decided},
        {"ties", ties},
        {"sft_positive_fraction_heldout", positive_fraction(held)},
        {"configs", {(root / "configs" / "rm.yaml").string(), (root / "configs" / "ppo.yaml").string()}},
        {"seconds", seconds_since(t0)},
    };
    std::printf("%s\n", summary.dump().c_str());
    return 0;
}

int run_demo_eval(rlhf::cli::Args& args) {
    std::string model_dir = args.require("model");
    long long n = args.get_int("prompts", 128);
    uint64_t seed = static_cast<uint64_t>(args.get_int("seed", 1234));
    double temperature = args.get_double("temperature", 0.7);
    bool show = args.flag("show");
    args.finish();
    at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    auto model = rlhf::model::load_causal_lm(model_dir);
    model->eval();
    auto tok = rlhf::text::Tokenizer::from_file(model_dir);
    auto prompts = rlhf::demo::generate_prompts(seed, static_cast<size_t>(n), true);
    auto texts = sample_continuations(*model, *tok, prompts, 24, temperature, seed + 7);
    if (show)
        for (size_t i = 0; i < texts.size(); ++i) std::fprintf(stderr, "%s|%s\n", prompts[i].c_str(), texts[i].c_str());
    json out = {{"model", model_dir}, {"prompts", prompts.size()}, {"positive_fraction", positive_fraction(texts)}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

}  // namespace

RLHF_CLI_COMMAND(demo, "rlhf demo --project DIR [--reviews N] [--sft-steps N] [--pairs N] [--seed S] [--force]",
                 "Build the bundled demo project (corpus, tokenizer, tiny GPT-2, labelled pairs, configs).", run_demo);
RLHF_CLI_COMMAND(demo_eval, "rlhf demo_eval --model DIR [--prompts N] [--seed S] [--temperature T] [--show]",
                 "Fraction of positive continuations of the demo's held-out prompts (lexicon judge).", run_demo_eval);
