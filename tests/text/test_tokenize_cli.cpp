// `rlhf tokenize` (DESIGN.md §6) run as a process: JSONL in, {"ids", "decoded"} out, compared
// with Hugging Face tokenizers' ids from the reference fixtures; bad input lines and bad usage
// give the documented exit codes and a message naming the line.
#include <QProcess>

#include "tests/text/test_tokenizer_common.h"

using namespace tokenizer_test;

namespace {
struct Run {
    int code;
    QByteArray out, err;
};
Run run_cli(const QStringList& args, const QByteArray& input) {
    QProcess p;
    p.start(QStringLiteral(RLHF_CLI_PATH), args);
    if (!p.waitForStarted(30000)) return {-1, {}, "did not start"};
    p.write(input);
    p.closeWriteChannel();
    p.waitForFinished(120000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(), p.readAllStandardError()};
}
}  // namespace

class TokenizeCliTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void matches_reference_data() {
        QTest::addColumn<bool>("special");
        QTest::newRow("plain") << false;
        QTest::newRow("add_special_tokens") << true;
    }

    void matches_reference() {
        QFETCH(bool, special);
        if (!file_exists(npm_dir("llama2") + "/tokenizer.json")) QSKIP("npm tokenizer files missing");
        auto cases = read_reference(fixture("llama2.jsonl.gz"));
        cases.resize(60);
        QByteArray input;
        for (const auto& c : cases) input += QByteArray::fromStdString(nlohmann::json{{"text", c.text}}.dump()) + "\n";
        QStringList args{QStringLiteral("tokenize"), QStringLiteral("--tokenizer"), QString::fromStdString(npm_dir("llama2"))};
        if (special) args << QStringLiteral("--add-special-tokens");
        Run r = run_cli(args, input);
        QVERIFY2(r.code == 0, r.err.constData());
        QList<QByteArray> lines = r.out.split('\n');
        QCOMPARE(lines.size(), static_cast<int>(cases.size()) + 1);  // trailing newline
        for (size_t i = 0; i < cases.size(); ++i) {
            auto j = nlohmann::json::parse(lines[static_cast<int>(i)].toStdString());
            QCOMPARE(j.at("ids").get<std::vector<int32_t>>(), special ? cases[i].ids_special : cases[i].ids);
            if (!special) QCOMPARE(j.at("decoded").get<std::string>(), cases[i].decoded);
        }
    }

    void bad_line_names_line_number() {
        const QString tiny = QString::fromStdString(fixture("tiny.json"));
        Run r = run_cli({QStringLiteral("tokenize"), QStringLiteral("--tokenizer"), tiny}, "{\"text\": \"abc\"}\n{\"txt\": 1}\n");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("line 2"), r.err.constData());
        QVERIFY(r.out.startsWith("{\"decoded\":\"abc\",\"ids\":[4]}"));  // the good first line was written

        r = run_cli({QStringLiteral("tokenize"), QStringLiteral("--tokenizer"), tiny}, "{\"text\": \"a\"}\n\n{not json\n");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("line 3"), r.err.constData());
    }

    void usage_and_file_errors() {
        Run r = run_cli({QStringLiteral("tokenize")}, "");
        QCOMPARE(r.code, 2);
        r = run_cli({QStringLiteral("tokenize"), QStringLiteral("--tokenizer"), QStringLiteral("/nonexistent/dir")}, "");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("/nonexistent/dir"), r.err.constData());
        const QString bad = QString::fromStdString(fixture("malformed/unknown_decoder.json"));
        r = run_cli({QStringLiteral("tokenize"), QStringLiteral("--tokenizer"), bad}, "");
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("unsupported decoder type 'WordPiece'"), r.err.constData());
    }
};

QTEST_APPLESS_MAIN(TokenizeCliTest)
#include "test_tokenize_cli.moc"
