// Issue 7 ("the demo model loads elsewhere"), checked with llama.cpp: the demo pipeline's own
// model (a small `rlhf demo`: 600 reviews, 30 pre-training steps) exported with
// `rlhf convert --to gguf` and run by llama.cpp (node-llama-cpp's prebuilt CPU binary, through
// tests/tools/llamacpp/ref.mjs) tokenizes the prompt with the tokenizer inside the GGUF into the
// ids our tokenizer gives, and generates the same greedy ids and text as
// `rlhf generate --temperature 0`. Registered with test_gguf_llamacpp (same conditions).
#include <QtTest/QtTest>

#include <QProcess>
#include <QTemporaryDir>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "llamacpp_reference.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using gguf_test::run_reference;

}  // namespace

class GgufDemoCliTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void demo_model_generates_the_same_text();

private:
    QTemporaryDir tmp_;
};

void GgufDemoCliTest::initTestCase() {
    QVERIFY(tmp_.isValid());
    // Registered because the package was fetched: from here on, a missing piece is a failure.
    QVERIFY2(fs::exists(std::string(RLHF_FIXTURES_DIR) + "/npm/node-llama-cpp/node_modules/node-llama-cpp/package.json"),
             "tests/fixtures/npm/node-llama-cpp is incomplete: re-run tests/tools/fetch-reference-files.sh");
    QVERIFY2(fs::exists(RLHF_NODE_PATH), "node (found at configure time) is gone");
}

void GgufDemoCliTest::demo_model_generates_the_same_text() {
    // The demo pipeline's own model (a small run: 600 reviews, 30 pre-training steps), exported
    // through the CLI and run by llama.cpp with the tokenizer inside the GGUF.
    const QString project = tmp_.path() + QStringLiteral("/demo");
    auto rlhf_cli = [&](const QStringList& args, QByteArray* out) {
        QProcess p;
        p.start(QStringLiteral(RLHF_CLI_PATH), args);
        bool ok = p.waitForFinished(600000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
        if (!ok) qWarning("rlhf %s: %s", qPrintable(args.join(QLatin1Char(' '))), p.readAllStandardError().constData());
        if (out) *out = p.readAllStandardOutput();
        return ok;
    };
    QVERIFY(rlhf_cli({QStringLiteral("demo"), QStringLiteral("--project"), project, QStringLiteral("--reviews"),
                      QStringLiteral("600"), QStringLiteral("--sft-steps"), QStringLiteral("30"), QStringLiteral("--pairs"),
                      QStringLiteral("4")},
                     nullptr));
    const QString model_dir = project + QStringLiteral("/models/sft");
    const QString gguf = project + QStringLiteral("/demo.gguf");
    QByteArray out;
    QVERIFY(rlhf_cli({QStringLiteral("convert"), QStringLiteral("--to"), QStringLiteral("gguf"), QStringLiteral("--model"),
                      model_dir, QStringLiteral("--out"), gguf},
                     &out));
    json summary = json::parse(out.toStdString());
    QCOMPARE(summary["architecture"].get<std::string>(), std::string("gpt2"));

    for (const char* prompt : {"This movie was", "I watched the film with my family and"}) {
        QVERIFY(rlhf_cli({QStringLiteral("generate"), QStringLiteral("--model"), model_dir, QStringLiteral("--prompt"),
                          QString::fromUtf8(prompt), QStringLiteral("--max-new-tokens"), QStringLiteral("24"),
                          QStringLiteral("--temperature"), QStringLiteral("0"), QStringLiteral("--json")},
                         &out));
        json ours = json::parse(out.toStdString());
        std::string error;
        json ref = run_reference({{"model", gguf.toStdString()}, {"context", 64},
                                  {"generate_text", {{"prompt", prompt}, {"new_tokens", 24}}}},
                                 tmp_.path(), &error);
        QVERIFY2(error.empty(), error.c_str());
        const json& theirs = ref["generate_text"];
        qInfo("prompt '%s': rlhf generate '%s' | llama.cpp '%s'", prompt, ours["text"].get<std::string>().c_str(),
              theirs["text"].get<std::string>().c_str());
        // The GGUF's tokenizer (llama.cpp's BPE with the "gpt-2" pre-tokenizer, BOS from the file)
        // encodes the prompt as our tokenizer does from tokenizer.json.
        QByteArray tokenized;
        {
            QProcess p;
            p.start(QStringLiteral(RLHF_CLI_PATH), {QStringLiteral("tokenize"), QStringLiteral("--tokenizer"), model_dir,
                                                    QStringLiteral("--add-special-tokens")});
            p.write(QByteArray::fromStdString(json({{"text", prompt}}).dump() + "\n"));
            p.closeWriteChannel();
            QVERIFY(p.waitForFinished(60000) && p.exitCode() == 0);
            tokenized = p.readAllStandardOutput();
        }
        QCOMPARE(theirs["prompt_ids"].get<std::vector<int64_t>>(),
                 json::parse(tokenized.toStdString())["ids"].get<std::vector<int64_t>>());
        QCOMPARE(theirs["prompt_ids"].size(), ours["prompt_tokens"].get<size_t>());
        QCOMPARE(theirs["ids"].get<std::vector<int64_t>>(), ours["tokens"].get<std::vector<int64_t>>());
        QCOMPARE(theirs["text"].get<std::string>(), ours["text"].get<std::string>());
    }
}

QTEST_APPLESS_MAIN(GgufDemoCliTest)
#include "test_gguf_demo_cli.moc"
