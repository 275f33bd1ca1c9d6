// rlhf train CONFIG.yaml [--project DIR] [--resume] — runs one training job from a YAML config
// (core/train/config.h) and prints one JSON line of metrics per step on stdout (DESIGN.md §6).
// With --project the run, its metrics, samples and checkpoints are recorded in the project's
// store and the run directory is <project>/runs/<run-id>; without it, ./runs/<name>.
// --resume continues from the newest intact checkpoint of that run directory.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "app/rlhf/cli.h"
#include "core/data/import.h"
#include "core/demo/reviews.h"
#include "core/dist/process_group.h"
#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/io/sha256.h"
#include "core/model/checkpoint.h"
#include "core/model/device.h"
#include "core/model/heads.h"
#include "core/model/lora.h"
#include "core/store/project.h"
#include "core/text/tokenizer.h"
#include "core/train/algorithms.h"
#include "core/train/chat_data.h"
#include "core/train/checkpoint.h"
#include "core/train/config.h"
#include "core/train/trainer.h"

namespace fs = std::filesystem;
using namespace rlhf;
using namespace rlhf::train;

namespace {

// ---------------------------------------------------------------------------------------------
// Data: records from a file or a project dataset, flattened to text, then token ids.

std::vector<data::Record> load_records(const TrainConfig& c, store::Project* project) {
    std::vector<data::Record> out;
    if (!c.data.file.empty()) {
        data::ImportOptions o;
        auto summary = data::import_file(c.data.file, o, [&](data::Record&& r) { out.push_back(std::move(r)); });
        if (out.empty()) throw Error(c.data.file + ": no usable records (" + std::to_string(summary.records_skipped) + " skipped)");
        return out;
    }
    if (!project) throw UsageError("rlhf train: data.dataset '" + c.data.dataset + "' needs --project DIR");
    auto ds = project->find_dataset(c.data.dataset);
    if (!ds) throw Error(project->dir() + ": data.dataset: no dataset named '" + c.data.dataset + "'");
    project->for_each_record(ds->id, [&](store::StoredRecord&& r) { out.push_back(std::move(r.record)); });
    if (out.empty()) throw Error(project->dir() + ": dataset '" + c.data.dataset + "' is empty");
    return out;
}

// Records -> token ids: core/train/chat_data.h's TrainEncoder (shared with `rlhf score`, so a
// reward model is scored on exactly the tokens it was trained on).

// One dataset field per source row (1-based line of a JSONL file, or index + 1 of a JSON array),
// for exact_answer rules: importers keep only the records' content, not their other fields.
std::map<uint64_t, std::string> read_field_by_row(const std::string& file, const std::string& field, const std::string& where) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error(file + ": cannot open (" + where + ")");
    auto text_of = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    std::map<uint64_t, std::string> out;
    auto ends_with = [&](const char* suffix) {
        const std::string s = suffix;
        return file.size() >= s.size() && file.compare(file.size() - s.size(), s.size(), s) == 0;
    };
    if (ends_with(".jsonl")) {
        std::string line;
        for (uint64_t n = 1; std::getline(in, line); ++n) {
            auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
            if (j.is_object() && j.contains(field) && !j[field].is_null()) out[n] = text_of(j[field]);
        }
    } else if (ends_with(".json")) {
        auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
        if (!j.is_array()) throw Error(file + ": " + where + ": expected a JSON array of rows");
        for (size_t i = 0; i < j.size(); ++i)
            if (j[i].is_object() && j[i].contains(field) && !j[i][field].is_null()) out[i + 1] = text_of(j[i][field]);
    } else {
        throw Error(file + ": " + where + ": exact_answer reads the field from a .jsonl or .json data.file");
    }
    return out;
}

// ---------------------------------------------------------------------------------------------

void make_lora_only_trainable(model::CausalLM& m) {
    for (auto& p : m.parameters()) p.set_requires_grad(false);
    for (auto& p : model::lora_parameters(m)) p.set_requires_grad(true);
}

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "run:NAME" in a model path names the exported model (runs/<id>/final) of the newest completed
// run called NAME in the project, so a PPO config can follow the reward-model run it needs.
std::string resolve_model_ref(const std::string& ref, store::Project& project, int64_t this_run, const std::string& field) {
    if (ref.rfind("run:", 0) != 0) return ref;
    const std::string wanted = ref.substr(4);
    for (const auto& r : project.runs())  // newest first
        if (r.id != this_run && r.name == wanted && r.status == store::RunStatus::Completed)
            return (fs::path(project.runs_dir()) / std::to_string(r.id) / "final").string();
    project.set_run_status(this_run, store::RunStatus::Failed, field + ": no completed run named '" + wanted + "'");
    throw Error(field + ": no completed run named '" + wanted + "' in " + project.dir());
}

int run_train(cli::Args& args) {
    const std::string project_dir = args.get("project", "");
    const bool resume = args.flag("resume");
    const auto pos = args.positional(1, 1);
    args.finish();
    const std::string config_path = pos[0];
    TrainConfig c = load_train_config(config_path);
    std::string config_text;
    {
        std::ifstream in(config_path, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        config_text = ss.str();
    }
    // LibTorch may start with one intra-op thread: the CLI uses every core unless told otherwise.
    at::set_num_threads(c.threads > 0 ? static_cast<int>(c.threads)
                                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    // ---- data parallelism (core/dist): under a torchrun-style environment (WORLD_SIZE > 1) this
    // process joins a c10d group (Gloo on CPU, NCCL on cuda:LOCAL_RANK). Every rank trains; only
    // rank 0 writes the store, the run directory's files and the exported model.
    const auto dist_env = dist::read_dist_env();
    // One resolver for device and precision (core/model/device.h); a rank uses cuda:LOCAL_RANK.
    const torch::Device device = model::resolve_device(c.device, dist_env ? dist_env->local_rank : -1, config_path + ": device");
    model::use_device(device);
    dist::ProcessGroupOptions dist_options;
    dist_options.device = device;
    const auto group = dist_env ? dist::ProcessGroup::create(*dist_env, dist_options) : dist::ProcessGroup::single();
    const bool writer = group->rank() == 0;
    const std::string name = c.name.empty() ? std::string(algo_name(c.algo)) : c.name;

    // ---- run directory and store
    std::optional<store::Project> project;
    int64_t run_id = 0;
    std::string run_dir;
    if (!project_dir.empty()) {
        project = store::Project::open(project_dir);
        if (resume) {
            for (const auto& r : project->runs())
                if (r.name == name && r.kind == algo_name(c.algo)) {
                    run_id = r.id;
                    break;
                }
            if (!run_id) throw Error(project_dir + ": --resume: no earlier run named '" + name + "'");
        } else if (writer) {
            store::RunInfo info;
            info.kind = algo_name(c.algo);
            info.name = name;
            info.config_yaml = config_text;
            info.base_model = c.model.policy;
            run_id = project->create_run(info);
        }
        run_id = group->broadcast_value(run_id);  // the run rank 0 created
        run_dir = (fs::path(project->runs_dir()) / std::to_string(run_id)).string();
        if (writer) project->set_run_status(run_id, store::RunStatus::Running);
        c.model.policy = resolve_model_ref(c.model.policy, *project, run_id, config_path + ": model.policy");
        c.model.reference = resolve_model_ref(c.model.reference, *project, run_id, config_path + ": model.reference");
        c.model.reward = resolve_model_ref(c.model.reward, *project, run_id, config_path + ": model.reward");
    } else {
        run_dir = (fs::path("runs") / name).string();
    }
    fs::create_directories(run_dir);
    if (writer) io::write_file_atomic(run_dir + "/config.yaml", config_text);

    auto fail_run = [&](const std::string& why, store::RunStatus status) {
        if (project && run_id && writer) project->set_run_status(run_id, status, why);
    };
    try {
        auto records = load_records(c, project ? &*project : nullptr);
        const std::string tokenizer_path = c.model.tokenizer.empty() ? c.model.policy : c.model.tokenizer;
        const TrainEncoder enc = make_train_encoder(c.data, tokenizer_path, config_path);
        if (enc.chat.templated())
            std::fprintf(stderr, "rlhf train: rendering %s with the model's chat template\n",
                         c.data.chat_template == ChatTemplateMode::Model ? "all records" : "conversational records");
        model::LoadOptions lo;
        lo.device = device;
        torch::manual_seed(static_cast<uint64_t>(c.seed));

        std::shared_ptr<model::CausalLM> policy;
        std::unique_ptr<TrainTask> task;
        model::RewardModel rm_trained{nullptr};
        std::shared_ptr<model::CausalLM> reference_keep;  // outlives the task for PPO/GRPO
        std::vector<TokenIds> prompts;       // PPO/GRPO prompts
        std::vector<uint64_t> prompt_rows;   // the source row (Record::line) of each prompt
        auto load_policy = [&] {
            policy = model::load_causal_lm(c.model.policy, lo);
            return policy;
        };
        auto reference_of = [&](const std::shared_ptr<model::CausalLM>& p) {
            auto ref = c.model.reference.empty() ? clone_model(*p) : model::load_causal_lm(c.model.reference, lo);
            freeze(*ref);
            return ref;
        };
        auto maybe_lora = [&] {
            if (!c.lora.enabled) return;
            model::LoraConfig lc;
            lc.rank = c.lora.r;
            lc.alpha = c.lora.alpha;
            lc.dropout = c.lora.dropout;
            lc.target_modules = c.lora.targets;
            model::apply_lora(*policy, lc, static_cast<uint64_t>(c.seed));
            make_lora_only_trainable(*policy);
        };
        auto rl_options = [&] {
            RlOptions o;
            o.eos_ids = model::generation_eos_ids(c.model.policy, policy->config());
            o.pad_id = enc.pad_id();
            auto tok = enc.tok;
            o.decode = [tok](const TokenIds& ids) { return tok->decode(std::vector<int32_t>(ids.begin(), ids.end()), true); };
            // Special tokens shown: the Runs panel marks the EOS the response ended with.
            o.token_piece = [tok](int64_t id) { return tok->decode({static_cast<int32_t>(id)}, false); };
            if (c.model.reward.empty() && c.reward.rules.empty())
                throw Error(config_path + ": model.reward: PPO/GRPO need a reward model folder or reward.rules");
            if (!c.model.reward.empty()) o.reward_model = model::load_reward_model(c.model.reward, lo);
            o.reward_model_weight = c.reward.model_weight;
            if (c.reward.rules.empty()) return o;
            // reward.rules: rule values on the decoded response; exact_answer compares with a
            // field of the prompt's source row.
            auto answers = std::make_shared<std::vector<std::map<uint64_t, std::string>>>();  // per rule
            for (size_t i = 0; i < c.reward.rules.size(); ++i) {
                const auto& rule = c.reward.rules[i];
                std::map<uint64_t, std::string> column;
                if (rule.type == RuleType::ExactAnswer) {
                    const std::string where = config_path + ":" + std::to_string(rule.line) + ": reward.rules[" + std::to_string(i) + "].field";
                    if (c.data.file.empty()) throw Error(where + ": exact_answer needs data.file (a project dataset keeps no extra fields)");
                    column = read_field_by_row(c.data.file, rule.field, where);
                }
                answers->push_back(std::move(column));
            }
            auto scorer = std::make_shared<RuleScorer>(
                c.reward.rules, [](const std::string& text) { return demo::judge_sentiment(text).score(); });
            auto rows = std::make_shared<std::vector<uint64_t>>(prompt_rows);
            o.indexed_rule_reward = [scorer, answers, rows, tok](int64_t index, const TokenIds&, const TokenIds& response) {
                RuleInput in;
                in.response = tok->decode(std::vector<int32_t>(response.begin(), response.end()), true);
                in.response_tokens = static_cast<int64_t>(response.size());
                double total = 0;
                for (size_t i = 0; i < scorer->rules().size(); ++i) {
                    const auto& column = (*answers)[i];
                    auto it = column.find((*rows)[static_cast<size_t>(index)]);
                    in.answer = it == column.end() ? nullptr : &it->second;
                    total += scorer->rules()[i].weight * scorer->value(i, in);
                }
                return total;
            };
            return o;
        };
        auto collect_prompts = [&] {
            for (const auto& r : records) {
                const auto& m = r.kind == data::RecordKind::Prompt ? r.prompt.prompt : r.pref.prompt;
                if (r.kind == data::RecordKind::Sft) continue;
                prompts.push_back(enc.prompt(m));
                prompt_rows.push_back(r.line);
            }
            if (prompts.empty()) throw Error(config_path + ": data: no prompts in the dataset");
        };

        switch (c.algo) {
        case Algo::Sft: {
            std::vector<SftExampleIds> ex;
            for (const auto& r : records) {
                if (r.kind != data::RecordKind::Sft || r.sft.messages.empty()) continue;
                // The last turn is the response; everything before it is the prompt.
                data::Messages prompt(r.sft.messages.begin(), r.sft.messages.end() - 1);
                data::Messages response{r.sft.messages.back()};
                ex.push_back({prompt.empty() ? TokenIds{} : enc.prompt(prompt, response), enc.response(prompt, response)});
            }
            if (ex.empty()) throw Error(config_path + ": data: no SFT examples in the dataset");
            load_policy();
            maybe_lora();
            task = std::make_unique<SftTask>(policy, std::move(ex), c, enc.pad_id());
            break;
        }
        case Algo::Rm:
        case Algo::Dpo: {
            std::vector<PreferenceIds> pairs;
            for (const auto& r : records) {
                if (r.kind != data::RecordKind::Preference) continue;
                auto ids = enc.pair(r.pref.prompt, r.pref.chosen, r.pref.rejected);
                PreferenceIds p{std::move(ids.prompt), std::move(ids.chosen), std::move(ids.rejected), 0.0};
                if (r.pref.score_chosen && r.pref.score_rejected) p.margin = *r.pref.score_chosen - *r.pref.score_rejected;
                pairs.push_back(std::move(p));
            }
            if (pairs.empty()) throw Error(config_path + ": data: no preference pairs in the dataset");
            load_policy();
            if (c.algo == Algo::Rm) {
                rm_trained = model::make_reward_model(policy, static_cast<uint64_t>(c.seed));
                task = std::make_unique<RmTask>(rm_trained, std::move(pairs), c, enc.pad_id());
            } else {
                auto ref = reference_of(policy);  // before LoRA: the base weights
                maybe_lora();
                task = std::make_unique<DpoTask>(policy, *ref, std::move(pairs), c, enc.pad_id());
            }
            break;
        }
        case Algo::Ppo: {
            collect_prompts();
            load_policy();
            reference_keep = reference_of(policy);
            maybe_lora();
            task = std::make_unique<PpoTask>(PolicyWithValue(policy), reference_keep, prompts, c, rl_options());
            break;
        }
        case Algo::Grpo: {
            collect_prompts();
            load_policy();
            if (c.grpo.beta > 0) reference_keep = reference_of(policy);
            maybe_lora();
            task = std::make_unique<GrpoTask>(policy, reference_keep, prompts, c, rl_options());
            break;
        }
        }

        // ---- the loop
        const std::string ckpt_dir = run_dir + "/checkpoints";
        // One step consumes world_size · batch_size · grad_accum examples.
        auto opts = TrainerOptions::from_config(c, ckpt_dir, task->steps_per_epoch(c.grad_accum * group->world_size()));
        opts.device = device;
        opts.comm = group;  // callbacks below then run on rank 0 only
        if (opts.max_steps <= 0) throw Error(config_path + ": max_steps: set max_steps (the task cannot count its epochs)");
        TrainerCallbacks cb;
        cb.on_metrics = [&](int64_t step, const Metrics& m) {
            nlohmann::json line;
            line["step"] = step;
            for (const auto& [k, v] : m) line[k] = v;
            std::cout << line.dump() << "\n" << std::flush;
            if (project) {
                std::vector<store::MetricPoint> pts;
                const double wall = now_seconds();
                for (const auto& [k, v] : m) pts.push_back(store::MetricPoint{k, step, v, wall});
                project->append_metrics(run_id, pts);
            }
        };
        cb.on_samples = [&](int64_t step, const std::vector<Sample>& samples) {
            if (!project) return;
            std::vector<store::Sample> out;
            for (const auto& s : samples) {
                store::Sample x;
                x.run_id = run_id;
                x.step = step;
                x.prompt = s.prompt;
                x.response = s.completion;
                x.reward = s.reward;
                x.extra_json = s.extra.dump();  // per-token rollout data for the Runs panel
                out.push_back(x);
            }
            project->add_samples(run_id, out);
        };
        cb.on_checkpoint = [&](int64_t step, const std::string& path) {
            if (!project) return;
            store::Checkpoint ck;
            ck.run_id = run_id;
            ck.step = step;
            ck.path = fs::relative(path, project->dir()).string();
            ck.sha256 = io::sha256_file_hex(path + "/" + kManifestName);
            project->add_checkpoint(ck);
        };
        cb.on_log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
        Trainer trainer(opts, *task, cb);
        if (resume) {
            const int64_t at = trainer.resume();
            if (at < 0) std::fprintf(stderr, "rlhf train: --resume: no intact checkpoint in %s, starting fresh\n", ckpt_dir.c_str());
        }
        auto result = trainer.run();
        if (!writer) return 0;  // rank 0 exports the (identical) weights

        // ---- export the trained model in Hugging Face layout
        model::SaveOptions so;
        so.tokenizer_from = c.model.tokenizer.empty() ? c.model.policy : c.model.tokenizer;
        const std::string final_dir = run_dir + "/final";
        if (c.algo == Algo::Rm) {
            model::save_reward_model(rm_trained, final_dir, so);
        } else {
            if (c.lora.enabled) model::merge_lora(*policy);
            model::save_causal_lm(*policy, final_dir, so);
        }
        std::fprintf(stderr, "rlhf train: %lld steps (%s); model saved to %s\n", static_cast<long long>(result.steps),
                     result.stop_reason.c_str(), final_dir.c_str());
        if (project) project->set_run_status(run_id, store::RunStatus::Completed);
        return 0;
    } catch (const Cancelled&) {
        fail_run("cancelled", store::RunStatus::Cancelled);
        throw;
    } catch (const std::exception& e) {
        fail_run(e.what(), store::RunStatus::Failed);
        throw;
    }
}

}  // namespace

RLHF_CLI_COMMAND(train, "rlhf train CONFIG.yaml [--project DIR] [--resume]",
                 "Train (sft|rm|ppo|dpo|grpo) from a YAML config; one JSON line of metrics per step.", run_train);
