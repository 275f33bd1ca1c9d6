// rlhf score --model RM_DIR --project P (--dataset NAME | --comparisons) [--limit N] [--batch N]
//            [--split all|train|eval] [--out FILE.jsonl] [--max-length N] [--max-prompt-length N]
//            [--chat-template auto|model|none] [--device D] [--threads N]
//
// Scores the chosen and the rejected response of every preference pair with a reward model (core/
// model's RewardModel, HF SequenceClassification layout) so a user can judge the model before a
// PPO run depends on it (issue 6 item 6). The pairs are a dataset's preference records, or the
// project's human-labelled comparisons (the label in force of each annotator; ties, both-bad and
// skips have no chosen side and are left out).
//
// Scores must equal what the reward-model run saw, so records are tokenized by the encoder `rlhf
// train` uses (core/train/chat_data.h's TrainEncoder): with data.chat_template auto|model the
// model's chat template renders the prompt (with its generation prompt) and the assistant
// continuation, otherwise the plain join gets special tokens on the prompt and EOS after the
// response; prompts are cut from the left to max_prompt_length; prompt+response are collated by
// core/train's collate_sequences (response cut to max_length) and scored by reward_scores. When
// RM_DIR is a run's `final` folder, the lengths and data.chat_template come from the run's
// config.yaml beside it (--max-length, --max-prompt-length, --chat-template override them), and
// when that run trained on the scored dataset each pair is marked "train" or "eval" as RmTask
// split it (--split scores one side only: held-out accuracy).
//
// stdout, one JSON object per line:
//   pair:     {"id","dataset","annotator","prompt","chosen","rejected","chosen_tokens",
//              "rejected_tokens","score_chosen","score_rejected","split"}   (to --out instead, if given)
//   progress: {"event":"progress","done":N,"total":M}
//   summary:  {"event":"summary","pairs":N,"accuracy":A,"mean_margin":M,"ties":K,"model":...}
// accuracy = fraction of pairs with score_chosen > score_rejected (as RmTask::accuracy counts).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "app/rlhf/cli.h"
#include "core/io/error.h"
#include "core/model/heads.h"
#include "core/store/project.h"
#include "core/text/tokenizer.h"
#include "core/train/algorithms.h"
#include "core/train/chat_data.h"
#include "core/train/config.h"

namespace fs = std::filesystem;
using namespace rlhf;

namespace {

// ---------------------------------------------------------------------------------------------
// The pairs to score, as text (the CLI's output shows the texts the tokens came from).

struct TextPair {
    int64_t id = 0;              // record id (dataset) or comparison id (comparisons)
    std::string dataset;         // dataset name, or "comparisons"
    std::string annotator;       // "" for dataset records
    std::string prompt, chosen, rejected;  // shown: turns joined one per line
    data::Messages prompt_m, chosen_m, rejected_m;  // tokenized (TrainEncoder renders them)
    std::string split;           // "train" | "eval" when the model's run trained on this dataset, else ""
};

// What the reward-model run that produced RM_DIR trained with: <run>/config.yaml beside
// <run>/final. Unknown (defaults, no split) for any other folder.
struct RunData {
    int64_t max_prompt = train::DataConfig{}.max_prompt_length;
    int64_t max_length = train::DataConfig{}.max_length;
    std::string dataset;        // the project dataset it trained on ("" = a file, or unknown)
    double eval_fraction = 0;   // RmTask holds out the last floor(n * eval_fraction) pairs
    train::ChatTemplateMode chat_template = train::DataConfig{}.chat_template;  // data.chat_template
    bool known = false;
};

using train::join_messages;

// The dataset's preference pairs in id order (the order `rlhf train` reads them). When the run
// trained on this dataset, each pair is marked as RmTask split it: the last floor(n * eval_fraction)
// pairs are "eval" (held out), the others "train". `split` ("all" | "train" | "eval") then filters.
std::vector<TextPair> dataset_pairs(store::Project& project, const std::string& name, const RunData& run,
                                    const std::string& split, int64_t limit) {
    auto ds = project.find_dataset(name);
    if (!ds) throw Error(project.dir() + ": --dataset: no dataset named '" + name + "'");
    std::vector<TextPair> all;
    project.for_each_record(ds->id, [&](store::StoredRecord&& r) {
        if (r.record.kind != data::RecordKind::Preference) return;
        const auto& p = r.record.pref;
        all.push_back({r.id, name, "", join_messages(p.prompt), join_messages(p.chosen), join_messages(p.rejected),
                       p.prompt, p.chosen, p.rejected, ""});
    });
    if (all.empty()) throw Error(project.dir() + ": --dataset: '" + name + "' holds no preference pairs");
    const bool splittable = run.known && run.dataset == name;
    if (split != "all" && !splittable)
        throw Error(project.dir() + ": --split " + split + ": the model's run did not train on dataset '" + name +
                    "' (no <run>/config.yaml beside the model naming it), so its split is unknown");
    if (splittable) {
        const size_t n_eval = static_cast<size_t>(std::floor(static_cast<double>(all.size()) * run.eval_fraction));
        for (size_t i = 0; i < all.size(); ++i) all[i].split = i >= all.size() - n_eval ? "eval" : "train";
    }
    std::vector<TextPair> out;
    for (auto& p : all) {
        if (split != "all" && p.split != split) continue;
        if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) break;
        out.push_back(std::move(p));
    }
    if (out.empty()) throw Error(project.dir() + ": --split " + split + ": no pairs of '" + name + "' in that split");
    return out;
}

std::vector<TextPair> comparison_pairs(store::Project& project, int64_t limit) {
    std::vector<TextPair> out;
    for (const auto& l : project.labels_in_force()) {
        if (l.choice != store::Choice::A && l.choice != store::Choice::B) continue;  // no preferred side
        if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) break;
        const bool a = l.choice == store::Choice::A;
        const std::string& chosen = a ? l.completion_a : l.completion_b;
        const std::string& rejected = a ? l.completion_b : l.completion_a;
        // A completion is role-less text: with a templated prompt it is rendered as the assistant's turn.
        out.push_back({l.comparison_id, "comparisons", l.annotator, join_messages(l.prompt), chosen, rejected, l.prompt,
                       data::Messages{{"", chosen}}, data::Messages{{"", rejected}}, ""});
    }
    if (out.empty()) throw Error(project.dir() + ": --comparisons: no comparison has an A or B label yet");
    return out;
}

RunData run_data(const std::string& model_dir) {
    RunData out;
    const fs::path dir = fs::path(model_dir).lexically_normal();
    const fs::path leaf = dir.filename().empty() ? dir.parent_path().filename() : dir.filename();
    const fs::path config = (dir.filename().empty() ? dir.parent_path() : dir).parent_path() / "config.yaml";
    if (leaf != "final" || !fs::exists(config)) return out;
    try {
        const auto c = train::load_train_config(config.string());
        out.max_prompt = c.data.max_prompt_length;
        out.max_length = c.data.max_length;
        out.dataset = c.data.file.empty() ? c.data.dataset : "";
        out.eval_fraction = c.data.eval_fraction;
        out.chat_template = c.data.chat_template;
        out.known = true;
    } catch (const std::exception& e) {
        // A config this build cannot parse should not stop scoring; say which lengths are used.
        std::fprintf(stderr, "rlhf score: %s: not used (%s); default lengths\n", config.c_str(), e.what());
    }
    return out;
}

torch::Device pick_device(const std::string& d) {
    if (d == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    if (d.rfind("cuda", 0) == 0 && !torch::cuda::is_available()) throw Error("--device: '" + d + "' but CUDA is not available");
    try {
        return torch::Device(d);
    } catch (const std::exception&) {
        throw UsageError("--device: '" + d + "' is not a device (auto, cpu, cuda, cuda:N)");
    }
}

int run_score(cli::Args& args) {
    const std::string model_dir = args.require("model");
    const std::string project_dir = args.require("project");
    const std::string dataset = args.get("dataset", "");
    const bool comparisons = args.flag("comparisons");
    const long long limit = args.get_int("limit", 0);
    const long long batch = args.get_int("batch", 8);
    const std::string out_path = args.get("out", "");
    const long long max_length_arg = args.get_int("max-length", 0);
    const long long max_prompt_arg = args.get_int("max-prompt-length", 0);
    const std::string device_name = args.get("device", "auto");
    const std::string split = args.get("split", "all");
    const long long threads = args.get_int("threads", 0);
    const std::string chat_template_arg = args.get("chat-template", "");
    args.finish();
    if (dataset.empty() == !comparisons) throw UsageError("rlhf score: give exactly one of --dataset NAME or --comparisons");
    if (limit < 0) throw UsageError("--limit: must be >= 0 (0 = every pair)");
    if (batch < 1) throw UsageError("--batch: must be >= 1");
    if (split != "all" && split != "train" && split != "eval") throw UsageError("--split: all, train or eval");
    if (comparisons && split != "all") throw UsageError("--split: only with --dataset (comparisons have no training split)");
    if (max_length_arg < 0 || max_prompt_arg < 0) throw UsageError("--max-length/--max-prompt-length: must be > 0");
    if (!chat_template_arg.empty() && chat_template_arg != "auto" && chat_template_arg != "model" && chat_template_arg != "none")
        throw UsageError("--chat-template: auto, model or none (data.chat_template of `rlhf train`)");

    // Clear errors before anything slow: the model folder and the project must exist.
    if (!fs::is_directory(model_dir)) throw Error(model_dir + ": --model: not a folder");
    if (!fs::exists(fs::path(model_dir) / "config.json")) throw Error(model_dir + "/config.json: --model: not found (a reward model folder in Hugging Face layout)");
    if (!fs::exists(fs::path(project_dir) / store::Project::kDatabaseFile))
        throw Error(project_dir + "/" + store::Project::kDatabaseFile + ": --project: not a project (no database)");

    at::set_num_threads(threads > 0 ? static_cast<int>(threads)
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    const torch::Device device = pick_device(device_name);

    store::OpenOptions oo;
    oo.create = false;
    auto project = store::Project::open(project_dir, oo);
    RunData lengths = run_data(model_dir);
    const auto pairs = comparisons ? comparison_pairs(project, limit) : dataset_pairs(project, dataset, lengths, split, limit);
    if (max_length_arg > 0) lengths.max_length = max_length_arg;
    if (max_prompt_arg > 0) lengths.max_prompt = max_prompt_arg;

    model::LoadOptions lo;
    lo.device = device;
    model::RewardModel rm{nullptr};
    try {
        rm = model::load_reward_model(model_dir, lo);
    } catch (const std::exception& e) {
        throw Error(std::string("rlhf score: loading the reward model: ") + e.what());
    }
    rm->eval();
    if (chat_template_arg == "auto") lengths.chat_template = train::ChatTemplateMode::Auto;
    if (chat_template_arg == "model") lengths.chat_template = train::ChatTemplateMode::Model;
    if (chat_template_arg == "none") lengths.chat_template = train::ChatTemplateMode::None;
    train::DataConfig data;
    data.max_prompt_length = lengths.max_prompt;
    data.chat_template = lengths.chat_template;
    const train::TrainEncoder enc =
        train::make_train_encoder(data, model_dir, chat_template_arg.empty() ? model_dir : std::string("--chat-template"));
    if (enc.chat.templated())
        std::fprintf(stderr, "rlhf score: rendering %s with the model's chat template (data.chat_template: %s)\n",
                     data.chat_template == train::ChatTemplateMode::Model ? "all pairs" : "conversational pairs",
                     train::chat_template_mode_name(data.chat_template));

    // Pair lines go to --out (written to a temporary name, renamed when complete) or stdout.
    std::ofstream file;
    const std::string tmp_path = out_path.empty() ? "" : out_path + ".tmp";
    if (!out_path.empty()) {
        file.open(tmp_path, std::ios::binary | std::ios::trunc);
        if (!file) throw Error(out_path + ": --out: cannot write");
    }
    std::ostream& pair_out = out_path.empty() ? std::cout : file;

    torch::NoGradGuard no_grad;
    const size_t total = pairs.size();
    int64_t correct = 0, ties = 0;
    double margin_sum = 0;
    auto progress = [&](size_t done) {
        std::cout << nlohmann::json{{"event", "progress"}, {"done", done}, {"total", total}}.dump() << "\n" << std::flush;
    };
    progress(0);
    for (size_t start = 0; start < total; start += static_cast<size_t>(batch)) {
        const size_t end = std::min(total, start + static_cast<size_t>(batch));
        const size_t b = end - start;
        // Chosen rows first, rejected rows after: one forward for both, as RmTask batches them.
        std::vector<train::TokenIds> prompt_ids(b), chosen_ids(b), rejected_ids(b);
        std::vector<const train::TokenIds*> prompts, responses;
        for (size_t i = 0; i < b; ++i) {
            const TextPair& p = pairs[start + i];
            auto ids = enc.pair(p.prompt_m, p.chosen_m, p.rejected_m);
            prompt_ids[i] = std::move(ids.prompt);
            chosen_ids[i] = std::move(ids.chosen);
            rejected_ids[i] = std::move(ids.rejected);
        }
        for (size_t i = 0; i < b; ++i) {
            prompts.push_back(&prompt_ids[i]);
            responses.push_back(&chosen_ids[i]);
        }
        for (size_t i = 0; i < b; ++i) {
            prompts.push_back(&prompt_ids[i]);
            responses.push_back(&rejected_ids[i]);
        }
        auto seq = train::collate_sequences(prompts, responses, enc.pad_id(), lengths.max_length);
        seq.input_ids = seq.input_ids.to(device);
        seq.attention_mask = seq.attention_mask.to(device);
        const torch::Tensor scores = train::reward_scores(rm, seq).cpu().contiguous();  // (2b)
        const float* s = scores.data_ptr<float>();
        for (size_t i = 0; i < b; ++i) {
            const TextPair& p = pairs[start + i];
            const double sc = s[i], sr = s[b + i];
            if (sc > sr) ++correct;
            if (sc == sr) ++ties;
            margin_sum += sc - sr;
            nlohmann::json line;
            line["id"] = p.id;
            line["dataset"] = p.dataset;
            line["annotator"] = p.annotator;
            line["prompt"] = p.prompt;
            line["chosen"] = p.chosen;
            line["rejected"] = p.rejected;
            line["chosen_tokens"] = chosen_ids[i].size();
            line["rejected_tokens"] = rejected_ids[i].size();
            line["score_chosen"] = sc;
            line["score_rejected"] = sr;
            line["split"] = p.split;
            // Invalid UTF-8 in a stored text must not abort the run: replace it in the output.
            pair_out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        }
        pair_out.flush();
        progress(end);
    }
    if (!out_path.empty()) {
        file.close();
        if (!file) throw Error(out_path + ": --out: write failed");
        fs::rename(tmp_path, out_path);
    }
    nlohmann::json summary{{"event", "summary"},
                           {"pairs", total},
                           {"accuracy", static_cast<double>(correct) / static_cast<double>(total)},
                           {"mean_margin", margin_sum / static_cast<double>(total)},
                           {"ties", ties},
                           {"model", model_dir},
                           {"max_length", lengths.max_length},
                           {"max_prompt_length", lengths.max_prompt},
                           {"chat_template", train::chat_template_mode_name(lengths.chat_template)},
                           {"split", split}};
    std::cout << summary.dump() << "\n" << std::flush;
    return 0;
}

}  // namespace

RLHF_CLI_COMMAND(score,
                 "rlhf score --model RM_DIR --project DIR (--dataset NAME | --comparisons) [--limit N] [--batch N] "
                 "[--split all|train|eval] [--out FILE.jsonl] [--max-length N] [--max-prompt-length N] "
                 "[--chat-template auto|model|none] [--device auto|cpu|cuda] "
                 "[--threads N]",
                 "Score chosen and rejected of each preference pair with a reward model; one JSON line per pair, "
                 "then accuracy and mean margin.",
                 run_score);
