// `rlhf pairs` end to end through the CLI binary, on a tiny real model made by `rlhf demo` (small
// settings) in its own project, and a separate project holding a 5-prompt dataset.
// Truths: every stored completion equals what `rlhf generate` prints for the same prompt, seed and
// sampling flags (sampled one at a time, and greedy in batches); the rule pre-label equals the
// lexicon judge's verdict on the two texts (core/demo, called here) under the machine annotator;
// reruns continue with unused prompts and never compare a prompt twice; bad input exits 1 or 2
// with a message naming what is wrong.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <map>
#include <set>

#include "core/demo/reviews.h"
#include "core/store/project.h"

using namespace rlhf;

namespace {

struct Run {
    int code = -1;
    QByteArray out, err;
};

Run rlhfCli(const QStringList& args, int timeoutMs = 540000) {
    QProcess p;
    p.start(QStringLiteral(RLHF_CLI_PATH), args);
    if (!p.waitForStarted(30000)) return {-1, {}, "did not start"};
    p.waitForFinished(timeoutMs);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(), p.readAllStandardError()};
}

QList<QJsonObject> jsonLines(const QByteArray& out) {
    QList<QJsonObject> lines;
    for (const QByteArray& l : out.split('\n')) {
        if (!l.trimmed().isEmpty()) lines << QJsonDocument::fromJson(l).object();
    }
    return lines;
}

const char* kPrompts[] = {"The blender I bought last week", "This coffee maker", "My new headphones",
                          "The hotel room we stayed in", "This phone case"};

}  // namespace

class PairsCliTest : public QObject {
    Q_OBJECT
    QTemporaryDir temp_;
    QString model_, modelB_, project_;

    // The text of a stored comparison's prompt (a prompt record: one role-less message).
    static QString promptText(store::Project& p, qint64 comparison) {
        auto c = p.comparison(comparison);
        return c ? QString::fromStdString(c->prompt.at(0).content) : QString();
    }

    // `rlhf generate --json` for one prompt: the independent truth of a stored completion.
    QString generated(const QString& model, const QString& prompt, const QStringList& sampling) {
        Run r = rlhfCli(QStringList{QStringLiteral("generate"), QStringLiteral("--model"), model, QStringLiteral("--prompt"),
                                    prompt, QStringLiteral("--json")} + sampling);
        if (r.code != 0) qWarning("rlhf generate failed: %s", r.err.constData());
        return QJsonDocument::fromJson(r.out.trimmed()).object().value(QStringLiteral("text")).toString();
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(temp_.isValid());
        const QString demo = temp_.filePath(QStringLiteral("demo"));
        Run d = rlhfCli({QStringLiteral("demo"), QStringLiteral("--project"), demo, QStringLiteral("--reviews"), QStringLiteral("200"),
                         QStringLiteral("--sft-steps"), QStringLiteral("5"), QStringLiteral("--pairs"), QStringLiteral("1")});
        QVERIFY2(d.code == 0, d.err.constData());
        model_ = QDir(demo).filePath(QStringLiteral("models/sft"));
        // Model B: the same weights in another folder (another model for the store and win rate).
        modelB_ = temp_.filePath(QStringLiteral("model-b"));
        QVERIFY(QDir().mkpath(modelB_));
        for (const QString& f : QDir(model_).entryList(QDir::Files))
            QVERIFY(QFile::copy(QDir(model_).filePath(f), QDir(modelB_).filePath(f)));

        project_ = temp_.filePath(QStringLiteral("project"));
        auto p = store::Project::open(project_.toStdString());
        std::vector<data::Record> records;
        for (const char* text : kPrompts) {
            data::Record r;
            r.kind = data::RecordKind::Prompt;
            r.prompt.prompt = {{"", text}};
            records.push_back(r);
        }
        p.add_records(p.dataset("five-prompts"), records);
    }

    // Two samples of one model with the rule pre-label; then reruns.
    void sampledPairsMatchGenerateAndRerunsAddNoDuplicates() {
        const QStringList sampling{QStringLiteral("--temperature"), QStringLiteral("1"), QStringLiteral("--max-new-tokens"),
                                   QStringLiteral("8")};
        const QStringList base = QStringList{QStringLiteral("pairs"), QStringLiteral("--project"), project_,
                                             QStringLiteral("--prompts"), QStringLiteral("five-prompts"),
                                             QStringLiteral("--model-a"), model_, QStringLiteral("--seed"),
                                             QStringLiteral("11"), QStringLiteral("--prelabel"), QStringLiteral("rule")} +
                                 sampling;
        Run r = rlhfCli(base + QStringList{QStringLiteral("--n"), QStringLiteral("3")});
        QVERIFY2(r.code == 0, r.err.constData());
        QList<QJsonObject> lines = jsonLines(r.out);
        QCOMPARE(lines.size(), 4);  // 3 comparisons + the summary
        QCOMPARE(lines.last().value(QStringLiteral("stored")).toInt(), 3);

        auto p = store::Project::open(project_.toStdString());
        const QString canonicalModel = QFileInfo(model_).canonicalFilePath();
        std::set<qint64> firstPrompts;
        for (int i = 0; i < 3; ++i) {
            const QJsonObject& l = lines[i];
            const qint64 id = l.value(QStringLiteral("comparison")).toInteger();
            auto c = p.comparison(id);
            QVERIFY(c.has_value());
            // The store holds what the line says, from the one model, with the documented seeds.
            QCOMPARE(QString::fromStdString(c->a.text), l.value(QStringLiteral("text_a")).toString());
            QCOMPARE(QString::fromStdString(c->b.text), l.value(QStringLiteral("text_b")).toString());
            QCOMPARE(QString::fromStdString(c->a.model), canonicalModel);
            QCOMPARE(QString::fromStdString(c->b.model), canonicalModel);
            QCOMPARE(c->a_on_left, l.value(QStringLiteral("a_on_left")).toBool());
            QCOMPARE(*c->a.seed, 11 + 2 * c->prompt_id);
            QCOMPARE(*c->b.seed, 11 + 2 * c->prompt_id + 1);
            firstPrompts.insert(c->prompt_id);
            // Independent truth: `rlhf generate` with the same prompt, seed and sampling.
            const QString prompt = promptText(p, id);
            QCOMPARE(prompt, QString::fromLatin1(kPrompts[i]));  // the first 3 prompts, in dataset order
            QCOMPARE(QString::fromStdString(c->a.text),
                     generated(model_, prompt, sampling + QStringList{QStringLiteral("--seed"), QString::number(*c->a.seed)}));
            QCOMPARE(QString::fromStdString(c->b.text),
                     generated(model_, prompt, sampling + QStringList{QStringLiteral("--seed"), QString::number(*c->b.seed)}));
            // The rule pre-label is the lexicon judge's verdict (core/demo), stored under the machine annotator.
            const int verdict = demo::judge_preference(c->a.text, c->b.text);
            const char* expected = verdict > 0 ? "A" : verdict < 0 ? "B" : "tie";
            QCOMPARE(l.value(QStringLiteral("prelabel")).toString(), QString::fromLatin1(expected));
            int machine = 0;
            for (const store::LabelRow& row : p.labels_in_force()) {
                if (row.comparison_id != id) continue;
                QCOMPARE(row.annotator, std::string("simulated:lexicon-judge"));
                QCOMPARE(std::string(store::choice_name(row.choice)), std::string(expected));
                ++machine;
            }
            QCOMPARE(machine, 1);
        }

        // Rerun with room for more: only the 2 unused prompts are generated.
        r = rlhfCli(base + QStringList{QStringLiteral("--n"), QStringLiteral("10")});
        QVERIFY2(r.code == 0, r.err.constData());
        lines = jsonLines(r.out);
        QCOMPARE(lines.size(), 3);
        QCOMPARE(lines.last().value(QStringLiteral("stored")).toInt(), 2);
        QCOMPARE(lines.last().value(QStringLiteral("already_used")).toInt(), 3);
        for (int i = 0; i < 2; ++i) QVERIFY(!firstPrompts.count(lines[i].value(QStringLiteral("prompt_id")).toInteger()));

        // And once more: nothing left, nothing added.
        r = rlhfCli(base + QStringList{QStringLiteral("--n"), QStringLiteral("10")});
        QVERIFY2(r.code == 0, r.err.constData());
        lines = jsonLines(r.out);
        QCOMPARE(lines.size(), 1);
        QCOMPARE(lines.last().value(QStringLiteral("stored")).toInt(), 0);
        QCOMPARE(lines.last().value(QStringLiteral("already_used")).toInt(), 5);

        // Each prompt compared exactly once for this model (comparison ids run 1..count: nothing is deleted).
        std::map<qint64, int> perPrompt;
        const qint64 count = p.comparison_count();
        QCOMPARE(count, qint64(5));
        for (qint64 id = 1; id <= count; ++id) ++perPrompt[p.comparison(id)->prompt_id];
        QCOMPARE(perPrompt.size(), size_t(5));
        for (const auto& [prompt, n] : perPrompt) QCOMPARE(n, 1);
    }

    // Two models, greedy: batched generation, each row equal to `rlhf generate` alone.
    void twoModelsGreedyBatched() {
        const QStringList greedy{QStringLiteral("--temperature"), QStringLiteral("0"), QStringLiteral("--max-new-tokens"),
                                 QStringLiteral("6")};
        Run r = rlhfCli(QStringList{QStringLiteral("pairs"), QStringLiteral("--project"), project_, QStringLiteral("--prompts"),
                                    QStringLiteral("five-prompts"), QStringLiteral("--model-a"), model_,
                                    QStringLiteral("--model-b"), modelB_, QStringLiteral("--n"), QStringLiteral("5"),
                                    QStringLiteral("--batch"), QStringLiteral("5")} + greedy);
        QVERIFY2(r.code == 0, r.err.constData());
        const QList<QJsonObject> lines = jsonLines(r.out);
        // The same prompts were used by the one-model pairs, but not for this pair of models.
        QCOMPARE(lines.size(), 6);
        QCOMPARE(lines.last().value(QStringLiteral("stored")).toInt(), 5);
        auto p = store::Project::open(project_.toStdString());
        for (int i = 0; i < 5; ++i) {
            auto c = p.comparison(lines[i].value(QStringLiteral("comparison")).toInteger());
            QVERIFY(c.has_value());
            QCOMPARE(QString::fromStdString(c->b.model), QFileInfo(modelB_).canonicalFilePath());
            QVERIFY(lines[i].value(QStringLiteral("prelabel")).isNull());  // none asked for
            const QString prompt = QString::fromStdString(c->prompt.at(0).content);
            QCOMPARE(QString::fromStdString(c->a.text), generated(model_, prompt, greedy));
            QCOMPARE(QString::fromStdString(c->b.text), generated(modelB_, prompt, greedy));
        }
    }

    void errorsNameWhatIsWrong() {
        Run r = rlhfCli({QStringLiteral("pairs"), QStringLiteral("--project"), project_, QStringLiteral("--prompts"),
                         QStringLiteral("nope"), QStringLiteral("--model-a"), model_, QStringLiteral("--temperature"),
                         QStringLiteral("1")});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("no dataset named 'nope'") && r.err.contains("five-prompts"), r.err.constData());
        QVERIFY(r.out.isEmpty());

        r = rlhfCli({QStringLiteral("pairs"), QStringLiteral("--project"), project_, QStringLiteral("--prompts"),
                     QStringLiteral("five-prompts")});
        QCOMPARE(r.code, 2);  // --model-a missing
        QVERIFY2(r.err.contains("model-a"), r.err.constData());

        // Two samples of one model under greedy decoding would be equal: refused as bad usage.
        r = rlhfCli({QStringLiteral("pairs"), QStringLiteral("--project"), project_, QStringLiteral("--prompts"),
                     QStringLiteral("five-prompts"), QStringLiteral("--model-a"), model_, QStringLiteral("--temperature"),
                     QStringLiteral("0")});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--model-b"), r.err.constData());

        r = rlhfCli({QStringLiteral("pairs"), QStringLiteral("--project"), temp_.filePath(QStringLiteral("missing")),
                     QStringLiteral("--prompts"), QStringLiteral("five-prompts"), QStringLiteral("--model-a"), model_});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("missing"), r.err.constData());
    }
};

QTEST_GUILESS_MAIN(PairsCliTest)
#include "test_pairs_cli.moc"
