// Reward inspector (issue 6 item 6): RewardStats against hand-computed histograms, accuracies and
// worst-pair order; the `rlhf score` line parser; the panel's model/set choices from a temporary
// project; and the whole job path with a stand-in CLI (RLHF_CLI), so no LibTorch is needed:
// pairs streamed by the child reach the tables, a failing CLI's message reaches the panel, and
// Cancel ends a running scoring job.
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>

#include "core/store/project.h"
#include "ui/engine.h"
#include "ui/engine_score.h"
#include "ui/qcp.h"
#include "ui/reward_inspector.h"

using namespace rlhf;
using namespace rlhf::ui;

namespace {
ScoredPair pair(qint64 id, const QString& dataset, const QString& annotator, double sc, double sr, int ct, int rt) {
    ScoredPair p;
    p.id = id;
    p.dataset = dataset;
    p.annotator = annotator;
    p.prompt = QStringLiteral("prompt %1").arg(id);
    p.chosen = QStringLiteral("chosen text %1").arg(id);
    p.rejected = QStringLiteral("rejected text %1").arg(id);
    p.scoreChosen = sc;
    p.scoreRejected = sr;
    p.chosenTokens = ct;
    p.rejectedTokens = rt;
    return p;
}

// Five pairs, margins [1, -0.5, 0, 2, -1]; correct = margin > 0 -> P0 and P3.
//   P0 alpha            1.0 vs  0.0  tokens 10/20  -> longer 20  "< 32"
//   P1 alpha            0.2 vs  0.7  tokens 40/10  -> 40         "32–63"
//   P2 comparisons/alice 2.0 vs 2.0  tokens 600/5  -> 600        "≥ 512"  (a tie: wrong)
//   P3 comparisons/bob  -1.0 vs -3.0 tokens 31/32  -> 32         "32–63"
//   P4 comparisons/alice 0.5 vs 1.5  tokens 8/8    -> 8          "< 32"
QVector<ScoredPair> fivePairs() {
    const QString cmp = QStringLiteral("comparisons");
    return {pair(1, QStringLiteral("alpha"), QString(), 1.0, 0.0, 10, 20),
            pair(2, QStringLiteral("alpha"), QString(), 0.2, 0.7, 40, 10),
            pair(3, cmp, QStringLiteral("alice"), 2.0, 2.0, 600, 5),
            pair(4, cmp, QStringLiteral("bob"), -1.0, -3.0, 31, 32),
            pair(5, cmp, QStringLiteral("alice"), 0.5, 1.5, 8, 8)};
}

QString pairLine(const ScoredPair& p) {
    return QStringLiteral(R"({"id":%1,"dataset":"%2","annotator":"%3","prompt":"%4","chosen":"%5","rejected":"%6",)"
                          R"("chosen_tokens":%7,"rejected_tokens":%8,"score_chosen":%9,"score_rejected":%10})")
        .arg(p.id).arg(p.dataset, p.annotator, p.prompt, p.chosen, p.rejected)
        .arg(p.chosenTokens).arg(p.rejectedTokens).arg(p.scoreChosen).arg(p.scoreRejected);
}

double barSum(QCustomPlot* plot, int index) {
    auto* bars = qobject_cast<QCPBars*>(plot->plottable(index));
    double sum = 0;
    for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it) sum += it->value;
    return sum;
}
}  // namespace

class RewardInspectorTest : public QObject {
    Q_OBJECT
private:
    QTemporaryDir temp_;
    QString projectDir_, modelDir_;

    QString writeScript(const QString& name, const QString& body) {
        const QString path = temp_.filePath(name);
        QFile f(path);
        f.open(QIODevice::WriteOnly);
        f.write(QByteArray("#!/bin/sh\n") + body.toUtf8());
        f.close();
        f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        return path;
    }

private Q_SLOTS:
    void initTestCase() {
        // A project with two datasets, a reward-model run with an exported model, one without
        // (still running, nothing exported), and a PPO run: only the first is offered.
        projectDir_ = temp_.filePath(QStringLiteral("project"));
        auto project = store::Project::open(projectDir_.toStdString());
        data::Record r;
        r.kind = data::RecordKind::Preference;
        r.pref.prompt = {{"", "Rate this film."}};
        r.pref.chosen = {{"", "A warm, funny film."}};
        r.pref.rejected = {{"", "Bad."}};
        project.add_records(project.dataset("another"), {r});
        project.add_records(project.dataset("prefs"), {r});
        store::RunInfo rm;
        rm.kind = "rm";
        rm.name = "rm-good";
        rm.config_yaml = "algo: rm\ndata:\n  dataset: prefs   # trained on\n";
        const int64_t id = project.create_run(rm);
        modelDir_ = QDir(QString::fromStdString(project.runs_dir())).filePath(QStringLiteral("%1/final").arg(id));
        QDir().mkpath(modelDir_);
        QFile config(modelDir_ + QStringLiteral("/config.json"));
        QVERIFY(config.open(QIODevice::WriteOnly));
        config.write("{}");
        rm.name = "rm-unfinished";
        project.create_run(rm);
        rm.kind = "ppo";
        rm.name = "ppo";
        project.create_run(rm);
    }

    void histogramBinsByHand() {
        // [0, 2] in 4 bins of 0.5: 0 -> 0, 0.5 -> 1, 1 -> 2, 1.5 -> 3, 2 -> floor(4) = 4 clamped to 3.
        const Histogram h = makeHistogram({0, 0.5, 1, 1.5, 2, 2}, 4, 0, 2);
        QCOMPARE(h.width, 0.5);
        QCOMPARE(h.counts, (QVector<int>{1, 1, 1, 3}));
        QCOMPARE(h.center(1), 0.75);
        // Outside the range clamps to the end bins.
        QCOMPARE(makeHistogram({-5, 9}, 2, 0, 2).counts, (QVector<int>{1, 1}));
        // One distinct value: range [2.5, 3.5] in 2 bins of 0.5; (3 - 2.5) / 0.5 = 1.
        const Histogram one = makeHistogram({3, 3}, 2, 3, 3);
        QCOMPARE(one.lo, 2.5);
        QCOMPARE(one.counts, (QVector<int>{0, 2}));
    }

    void lengthBuckets() {
        QCOMPARE(RewardStats::lengthBucket(0), QStringLiteral("< 32 tokens"));
        QCOMPARE(RewardStats::lengthBucket(31), QStringLiteral("< 32 tokens"));
        QCOMPARE(RewardStats::lengthBucket(32), QStringLiteral("32–63 tokens"));
        QCOMPARE(RewardStats::lengthBucket(511), QStringLiteral("256–511 tokens"));
        QCOMPARE(RewardStats::lengthBucket(512), QStringLiteral("≥ 512 tokens"));
    }

    void statsByHand() {
        RewardStats s;
        s.add(fivePairs());
        QCOMPARE(s.count(), 5);
        QCOMPARE(s.accuracy(), 0.4);                   // 2 of 5
        QVERIFY(qFuzzyCompare(s.meanMargin(), 0.3));   // (1 - 0.5 + 0 + 2 - 1) / 5

        const QVector<SliceAccuracy> slices = s.slices();
        struct Row {
            const char* slice;
            QString value;
            int pairs, correct;
        };
        const QVector<Row> expected{{"all", QString(), 5, 2},
                                    {"dataset", QStringLiteral("alpha"), 2, 1},
                                    {"dataset", QStringLiteral("comparisons"), 3, 1},
                                    {"length", QStringLiteral("< 32 tokens"), 2, 1},       // P0, P4
                                    {"length", QStringLiteral("32–63 tokens"), 2, 1},      // P1, P3
                                    {"length", QStringLiteral("≥ 512 tokens"), 1, 0},      // P2
                                    {"annotator", QStringLiteral("alice"), 2, 0},          // P2, P4
                                    {"annotator", QStringLiteral("bob"), 1, 1}};           // P3
        QCOMPARE(slices.size(), expected.size());
        for (int i = 0; i < expected.size(); ++i) {
            QCOMPARE(slices[i].slice, QString::fromLatin1(expected[i].slice));
            QCOMPARE(slices[i].value, expected[i].value);
            QCOMPARE(slices[i].pairs, expected[i].pairs);
            QCOMPARE(slices[i].correct, expected[i].correct);
        }
        // Lowest margins first: P4 (-1), P1 (-0.5), P2 (0), P0 (1), P3 (2).
        QCOMPARE(s.worstPairs(3), (QVector<int>{4, 1, 2}));
        QCOMPARE(s.worstPairs(-1), (QVector<int>{4, 1, 2, 0, 3}));

        // Scores on shared bins over [-3, 2], width 1.25 (edges -3, -1.75, -0.5, 0.75, 2):
        // chosen {1, 0.2, 2, -1, 0.5} -> bins {3, 2, 3, 1, 2} = [0, 1, 2, 2];
        // rejected {0, 0.7, 2, -3, 1.5} -> bins {2, 2, 3, 0, 3} = [1, 0, 2, 2].
        const auto h = s.scoreHistograms(4);
        QCOMPARE(h.chosen.lo, -3.0);
        QCOMPARE(h.chosen.width, 1.25);
        QCOMPARE(h.rejected.lo, h.chosen.lo);
        QCOMPARE(h.chosen.counts, (QVector<int>{0, 1, 2, 2}));
        QCOMPARE(h.rejected.counts, (QVector<int>{1, 0, 2, 2}));
        // Margins {1, -0.5, 0, 2, -1} over [-1, 2] in 3 bins of 1: -1, -0.5 -> 0; 0 -> 1; 1, 2 -> 2.
        const Histogram m = s.marginHistogram(3);
        QCOMPARE(m.counts, (QVector<int>{2, 1, 2}));
    }

    void splitSlices() {
        // Two held-out pairs (margins 1 and -1: one right) and one training pair (margin 2: right).
        RewardStats s;
        QVector<ScoredPair> pairs{pair(1, QStringLiteral("d"), QString(), 1, 0, 5, 5), pair(2, QStringLiteral("d"), QString(), 0, 1, 5, 5),
                                  pair(3, QStringLiteral("d"), QString(), 2, 0, 5, 5)};
        pairs[0].split = pairs[1].split = QStringLiteral("eval");
        pairs[2].split = QStringLiteral("train");
        s.add(pairs);
        const QVector<SliceAccuracy> slices = s.slices();
        // all, dataset d, split eval, split train, length "< 32".
        QCOMPARE(slices.size(), 5);
        QCOMPARE(slices[2].slice, QStringLiteral("split"));
        QCOMPARE(slices[2].value, QStringLiteral("eval"));
        QCOMPARE(slices[2].pairs, 2);
        QCOMPARE(slices[2].accuracy(), 0.5);
        QCOMPARE(slices[3].value, QStringLiteral("train"));
        QCOMPARE(slices[3].accuracy(), 1.0);
    }

    void parsesCliLines() {
        const ScoredPair p = fivePairs()[2];
        const auto back = parseScoredPair(pairLine(p).toUtf8());
        QVERIFY(back.has_value());
        QCOMPARE(back->id, qint64(3));
        QCOMPARE(back->annotator, QStringLiteral("alice"));
        QCOMPARE(back->chosenTokens, 600);
        QCOMPARE(back->scoreRejected, 2.0);
        QVERIFY(back->split.isEmpty());
        const auto held = parseScoredPair(R"({"id":9,"score_chosen":1,"score_rejected":0.5,"split":"eval"})");
        QVERIFY(held.has_value());
        QCOMPARE(held->split, QStringLiteral("eval"));
        QVERIFY(!parseScoredPair(R"({"event":"progress","done":1,"total":2})"));
        QVERIFY(!parseScoredPair(R"({"event":"summary","pairs":2,"accuracy":0.5,"mean_margin":0.1})"));
        QVERIFY(!parseScoredPair("not json"));
        ScoreRequest r;
        r.modelDir = QStringLiteral("/m");
        r.projectDir = QStringLiteral("/p");
        r.comparisons = true;
        r.limit = 10;
        r.split = QStringLiteral("eval");  // comparisons have no training split: not passed
        QCOMPARE(scoreArguments(r).join(QLatin1Char(' ')),
                 QStringLiteral("score --model /m --project /p --comparisons --limit 10 --batch 8"));
        r.comparisons = false;
        r.dataset = QStringLiteral("prefs");
        QCOMPARE(scoreArguments(r).join(QLatin1Char(' ')),
                 QStringLiteral("score --model /m --project /p --dataset prefs --split eval --limit 10 --batch 8"));
    }

    void offersTheProjectsRewardModels() {
        auto project = store::Project::open(projectDir_.toStdString());
        const QVector<RewardModelChoice> choices = rewardModelChoices(project);
        QCOMPARE(choices.size(), 1);
        QVERIFY2(choices[0].label.startsWith(QStringLiteral("rm-good #")), qPrintable(choices[0].label));
        QCOMPARE(QDir(choices[0].dir).canonicalPath(), QDir(modelDir_).canonicalPath());
        QCOMPARE(choices[0].dataset, QStringLiteral("prefs"));
    }

    void panelShowsPairs() {
        Engine engine;
        RewardInspectorPanel panel(&engine);
        panel.resize(1200, 800);
        panel.setPairs(fivePairs());
        QCOMPARE(panel.sliceTable()->rowCount(), 8);
        QCOMPARE(panel.sliceTable()->item(0, 3)->text(), QStringLiteral("40.0%"));
        QCOMPARE(panel.sliceTable()->item(7, 1)->text(), QStringLiteral("bob"));
        QCOMPARE(panel.sliceTable()->item(7, 3)->text(), QStringLiteral("100.0%"));
        QCOMPARE(panel.worstTable()->rowCount(), 5);
        QCOMPARE(panel.worstTable()->item(0, 0)->text(), QStringLiteral("-1.000"));  // P4
        QCOMPARE(panel.worstTable()->item(1, 0)->text(), QStringLiteral("-0.500"));  // P1
        // Clicking a row shows that pair in full.
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        QTest::mouseClick(panel.worstTable()->viewport(), Qt::LeftButton, Qt::NoModifier,
                          panel.worstTable()->visualItemRect(panel.worstTable()->item(1, 4)).center());
        QVERIFY(panel.detailView()->toPlainText().contains(QStringLiteral("chosen text 2")));
        QVERIFY(panel.detailView()->toPlainText().contains(QStringLiteral("rejected text 2")));
        // Both histograms hold every pair once; the margin plot splits wrong / right bars.
        QCOMPARE(panel.scoresPlot()->plottableCount(), 2);
        QCOMPARE(barSum(panel.scoresPlot(), 0), 5.0);
        QCOMPARE(barSum(panel.scoresPlot(), 1), 5.0);
        QCOMPARE(barSum(panel.marginPlot(), 0) + barSum(panel.marginPlot(), 1), 5.0);
        QVERIFY(panel.summaryLabel()->text().contains(QStringLiteral("5 pairs · accuracy 40.0%")));
    }

    void scoresThroughTheCli() {
        const QString argsFile = temp_.filePath(QStringLiteral("args.txt"));
        QString body = QStringLiteral("echo \"$@\" > '%1'\necho '{\"event\":\"progress\",\"done\":0,\"total\":5}'\n").arg(argsFile);
        for (const ScoredPair& p : fivePairs()) body += QStringLiteral("echo '%1'\n").arg(pairLine(p));
        body += QStringLiteral("echo '{\"event\":\"summary\",\"pairs\":5,\"accuracy\":0.4,\"mean_margin\":0.3}'\n");
        qputenv("RLHF_CLI", writeScript(QStringLiteral("score-ok.sh"), body).toUtf8());

        Engine engine;
        QVERIFY(engine.openProject(projectDir_));
        RewardInspectorPanel panel(&engine);
        QTRY_COMPARE(panel.modelBox()->count(), 1);
        QCOMPARE(panel.setBox()->count(), 2);  // two datasets; no labelled comparisons yet
        QCOMPARE(panel.setBox()->currentText(), QStringLiteral("prefs"));  // the run's training set
        QSignalSpy ended(&engine, &Engine::jobEnded);
        QTest::mouseClick(panel.scoreButton(), Qt::LeftButton);
        QVERIFY(panel.scoringJob() > 0);
        QVERIFY(ended.wait(20000));
        QCOMPARE(ended.first().at(1).value<JobOutcome>(), JobOutcome::Finished);
        QTRY_COMPARE(panel.stats().count(), 5);
        QCOMPARE(panel.stats().accuracy(), 0.4);
        QVERIFY2(panel.summaryLabel()->text().startsWith(QStringLiteral("5 pairs · accuracy 40.0%")),
                 qPrintable(panel.summaryLabel()->text()));
        QFile args(argsFile);
        QVERIFY(args.open(QIODevice::ReadOnly));
        QCOMPARE(QString::fromUtf8(args.readAll()).trimmed(),
                 QStringLiteral("score --model %1 --project %2 --dataset prefs --limit 1000 --batch 8").arg(modelDir_, projectDir_));
    }

    void cliFailureReachesThePanel() {
        qputenv("RLHF_CLI", writeScript(QStringLiteral("score-bad.sh"),
                                        QStringLiteral("echo 'rlhf score: /m/config.json: --model: not found' >&2\nexit 1\n")).toUtf8());
        Engine engine;
        QVERIFY(engine.openProject(projectDir_));
        RewardInspectorPanel panel(&engine);
        QTRY_COMPARE(panel.modelBox()->count(), 1);
        QSignalSpy ended(&engine, &Engine::jobEnded);
        QVERIFY(panel.startScoring() > 0);
        QVERIFY(ended.wait(20000));
        QCOMPARE(ended.first().at(1).value<JobOutcome>(), JobOutcome::Failed);
        QVERIFY2(panel.summaryLabel()->text().contains(QStringLiteral("/m/config.json: --model: not found")),
                 qPrintable(panel.summaryLabel()->text()));
        QVERIFY(panel.scoreButton()->isEnabled());
    }

    void cancelStopsTheChild() {
        qputenv("RLHF_CLI", writeScript(QStringLiteral("score-slow.sh"),
                                        QStringLiteral("echo '{\"event\":\"progress\",\"done\":0,\"total\":9}'\nexec sleep 60\n")).toUtf8());
        Engine engine;
        QVERIFY(engine.openProject(projectDir_));
        RewardInspectorPanel panel(&engine);
        QTRY_COMPARE(panel.modelBox()->count(), 1);
        QSignalSpy ended(&engine, &Engine::jobEnded);
        QSignalSpy progress(&engine, &Engine::jobProgress);
        QVERIFY(panel.startScoring() > 0);
        QVERIFY(progress.wait(20000));
        QVERIFY(panel.cancelButton()->isEnabled());
        QTest::mouseClick(panel.cancelButton(), Qt::LeftButton);
        QVERIFY(ended.wait(20000));  // not the 60 s of the child
        QCOMPARE(ended.first().at(1).value<JobOutcome>(), JobOutcome::Cancelled);
        QVERIFY(panel.summaryLabel()->text().endsWith(QStringLiteral("(cancelled)")));
    }

    void screenshot() {
        // docs/screenshots/reward_inspector.png when RLHF_SCREENSHOT_DIR and RLHF_SCREENSHOT_PROJECT
        // (a project with a trained RM run) are set, with the real CLI; not in CI.
        const QString out = qEnvironmentVariable("RLHF_SCREENSHOT_DIR");
        const QString project = qEnvironmentVariable("RLHF_SCREENSHOT_PROJECT");
        if (out.isEmpty() || project.isEmpty()) QSKIP("RLHF_SCREENSHOT_DIR / RLHF_SCREENSHOT_PROJECT not set");
        qputenv("RLHF_CLI", QByteArray(RLHF_CLI_PATH));
        Engine engine;
        QVERIFY(engine.openProject(project));
        QVERIFY(saveRewardInspectorScreenshot(&engine, out + QStringLiteral("/reward_inspector.png")));
    }
};

QTEST_MAIN(RewardInspectorTest)
#include "test_reward_inspector.moc"
