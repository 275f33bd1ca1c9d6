// Rollout view (issue 6 item 4): tokens shaded by KL / advantage. The expected colours are computed
// by hand from the documented blend c = round(255 + t * (target − 255)), t = min(|v| / scale, 1),
// with scale = the step's max |v|; the samples are written into a temporary project, and a click
// on a point of the Runs panel's plot must open the view on that step.
#include <QComboBox>
#include <QDialog>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextDocument>
#include <QTreeWidget>

#include "core/store/project.h"
#include "ui/engine.h"
#include "ui/live_plot.h"
#include "ui/qcp.h"
#include "ui/rollout_view.h"
#include "ui/runs_panel.h"

using namespace rlhf;
using namespace rlhf::ui;

namespace {
// Step 3, sample 1: KL [0.5, -1.0, 2.0], advantage [1.0, -0.5, -2.0].
// Step 3, sample 2: KL [0.25], advantage [0.5] (and no ref_logprob / value arrays).
// KL scale = max|kl| = 2.0; advantage scale = max|adv| = 2.0.
const char* kSample1Extra =
    R"({"tokens":["Ġgreat","Ġmovie","!"],"kl":[0.5,-1.0,2.0],"advantage":[1.0,-0.5,-2.0],)"
    R"("logprob":[-1.5,-2.0,-0.25],"ref_logprob":[-2.0,-1.0,-2.25],"value":[0.1,0.2,0.3]})";
const char* kSample2Extra = R"({"tokens":["ok"],"kl":[0.25],"advantage":[0.5],"logprob":[-0.75]})";

QColor backgroundAt(QTextDocument* doc, int position) {
    QTextCursor c(doc);
    c.setPosition(position + 1);  // charFormat() is the format of the character before the cursor
    return c.charFormat().background().color();
}

QString textOf(QTextDocument* doc, int start, int end) {
    QTextCursor c(doc);
    c.setPosition(start);
    c.setPosition(end, QTextCursor::KeepAnchor);
    return c.selectedText();
}
}  // namespace

class RolloutViewTest : public QObject {
    Q_OBJECT
private:
    QTemporaryDir temp_;

private Q_SLOTS:
    void shadeColoursByHand() {
        // KL 0.5 / scale 2: t = 0.25 towards (255,140,0): g = 255 + 0.25*(140-255) = 226.25 -> 226,
        // b = 255 - 0.25*255 = 191.25 -> 191.
        QCOMPARE(shadeColor(ShadeBy::Kl, 0.5, 2.0), QColor(255, 226, 191));
        // KL -1 / 2: t = 0.5 towards (70,130,230): 255-92.5 = 162.5 -> 163, 255-62.5 = 192.5 -> 193,
        // 255-12.5 = 242.5 -> 243 (halves round away from zero).
        QCOMPARE(shadeColor(ShadeBy::Kl, -1.0, 2.0), QColor(163, 193, 243));
        // |KL| beyond the scale saturates at the target.
        QCOMPARE(shadeColor(ShadeBy::Kl, 5.0, 2.0), QColor(255, 140, 0));
        // Advantage 1 / 2: t = 0.5 towards green (40,170,60): 147.5 -> 148, 212.5 -> 213, 157.5 -> 158.
        QCOMPARE(shadeColor(ShadeBy::Advantage, 1.0, 2.0), QColor(148, 213, 158));
        // Advantage -0.5 / 2: t = 0.25 towards red (220,40,40): 246.25 -> 246, 201.25 -> 201.
        QCOMPARE(shadeColor(ShadeBy::Advantage, -0.5, 2.0), QColor(246, 201, 201));
        // Zero, missing, NaN, or no scale: white.
        QCOMPARE(shadeColor(ShadeBy::Advantage, 0.0, 2.0), QColor(255, 255, 255));
        QCOMPARE(shadeColor(ShadeBy::Kl, std::nullopt, 2.0), QColor(255, 255, 255));
        QCOMPARE(shadeColor(ShadeBy::Kl, std::nan(""), 2.0), QColor(255, 255, 255));
        QCOMPARE(shadeColor(ShadeBy::Kl, 1.0, 0.0), QColor(255, 255, 255));
    }

    void parsesExtraJson() {
        store::Sample s;
        s.step = 7;
        s.prompt = "p";
        s.response = " great movie!";
        s.reward = 0.5;
        s.extra_json = R"({"tokens":["a","b","c"],"kl":[0.1,0.2],"advantage":[1,"x",3]})";
        const RolloutSample r = rolloutFromSample(s);
        QCOMPARE(r.tokens.size(), 3);
        QCOMPARE(r.tokens[1].piece, QStringLiteral("b"));
        QCOMPARE(*r.tokens[1].kl, 0.2);
        QVERIFY(!r.tokens[2].kl);          // kl array is shorter: no value for the third token
        QVERIFY(!r.tokens[1].advantage);   // not a number
        QCOMPARE(*r.tokens[2].advantage, 3.0);
        QVERIFY(!r.tokens[0].value);       // array missing
        s.extra_json = "{not json";
        QVERIFY(rolloutFromSample(s).tokens.isEmpty());
        s.extra_json = "{}";
        QVERIFY(rolloutFromSample(s).tokens.isEmpty());
        QCOMPARE(displayPiece(QStringLiteral("Ġa\u010Ab\u2581c")), QStringLiteral(" a\nb c"));
        // Scale: max |kl| over tokens present = 0.2.
        QCOMPARE(shadeScale(ShadeBy::Kl, {rolloutFromSample([] {
                     store::Sample x;
                     x.extra_json = R"({"tokens":["a","b"],"kl":[-0.2,0.1]})";
                     return x;
                 }())}),
                 0.2);
        QCOMPARE(shadeScale(ShadeBy::Advantage, {r}), 3.0);
    }

    void clickOnAPlotPointOpensItsRollouts() {
        const QString dir = temp_.filePath(QStringLiteral("project"));
        qint64 runId = 0;
        {
            auto project = store::Project::open(dir.toStdString());
            store::RunInfo info;
            info.kind = "ppo";
            info.name = "ppo-view";
            runId = project.create_run(info);
            std::vector<store::MetricPoint> points;
            for (int step = 1; step <= 5; ++step) points.push_back({"objective/scores", step, 0.1 * step, 1000.0 + step});
            project.append_metrics(runId, points);
            std::vector<store::Sample> samples;
            auto sample = [&](int64_t step, const char* response, std::optional<double> reward, const char* extra) {
                store::Sample s;
                s.run_id = runId;
                s.step = step;
                s.prompt = "Review:";
                s.response = response;
                s.reward = reward;
                s.extra_json = extra;
                samples.push_back(s);
            };
            sample(2, " meh", 0.1, "{}");
            sample(3, " great movie!", 0.9, kSample1Extra);
            sample(3, "ok", -0.2, kSample2Extra);
            sample(3, " no token data here", 0.3, "{}");
            sample(4, " later", 0.4, kSample2Extra);
            project.add_samples(runId, samples);
            project.set_run_status(runId, store::RunStatus::Completed);
        }
        Engine engine;
        QVERIFY(engine.openProject(dir));
        RunsPanel panel(&engine);
        panel.resize(1200, 800);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        panel.refreshRuns();
        QTRY_COMPARE(panel.runList()->topLevelItemCount(), 1);
        panel.runList()->topLevelItem(0)->setSelected(true);
        const QString series = panel.runList()->topLevelItem(0)->text(0) + QStringLiteral("/objective/scores");
        QTRY_COMPARE(panel.plot()->pointCount(series), 5);
        panel.plot()->setSmoothing(0.0);
        panel.plot()->flushNow();
        // Point index 2 is step 3.
        QTest::mouseClick(panel.plot()->plot(), Qt::LeftButton, Qt::NoModifier, panel.plot()->pixelOf(series, 2));
        QTRY_VERIFY(panel.rolloutWindow() && panel.rolloutWindow()->isVisible());
        RolloutView* view = panel.rolloutView();
        QTRY_COMPARE(view->step(), qint64(3));
        QCOMPARE(view->samples().size(), 3);  // the three step-3 samples, not steps 2 or 4
        QCOMPARE(view->scale(), 2.0);

        // Every token's text and colour, KL shading (scale 2, hand-computed in shadeColoursByHand
        // and here): 0.5 -> (255,226,191); -1.0 -> (163,193,243); 2.0 -> (255,140,0);
        // 0.25 -> t 0.125: 255-14.375 = 240.625 -> 241, 255-31.875 = 223.125 -> 223.
        QTextDocument* doc = view->textView()->document();
        const QVector<RolloutView::TokenSpan>& spans = view->spans();
        QCOMPARE(spans.size(), 4);
        const QStringList pieces{QStringLiteral(" great"), QStringLiteral(" movie"), QStringLiteral("!"), QStringLiteral("ok")};
        const QVector<QColor> klColours{QColor(255, 226, 191), QColor(163, 193, 243), QColor(255, 140, 0), QColor(255, 241, 223)};
        for (int i = 0; i < spans.size(); ++i) {
            QCOMPARE(textOf(doc, spans[i].start, spans[i].end), pieces[i]);
            QCOMPARE(backgroundAt(doc, spans[i].start), klColours[i]);
        }
        QCOMPARE(spans[3].sample, 1);
        // The sample without token data shows its plain text, unshaded.
        QVERIFY(doc->toPlainText().contains(QStringLiteral(" no token data here")));
        // Tooltip of the second token carries its numbers.
        const QString tip = view->tooltipAt(spans[1].start);
        QVERIFY2(tip.contains(QStringLiteral("kl -1")) && tip.contains(QStringLiteral("ref_logprob -1")), qPrintable(tip));
        QVERIFY(view->tooltipAt(0).isEmpty());  // the heading is no token

        // Advantage toggle: adv [1, -0.5, -2] and [0.5], scale 2:
        // 1 -> (148,213,158); -0.5 -> (246,201,201); -2 -> (220,40,40);
        // 0.5 -> t 0.25 green: 255-53.75 = 201.25 -> 201, 255-21.25 = 233.75 -> 234, 255-48.75 = 206.25 -> 206.
        view->shadeBox()->setCurrentIndex(1);
        QCOMPARE(view->shadeBy(), ShadeBy::Advantage);
        const QVector<QColor> advColours{QColor(148, 213, 158), QColor(246, 201, 201), QColor(220, 40, 40), QColor(201, 234, 206)};
        for (int i = 0; i < view->spans().size(); ++i) {
            QCOMPARE(backgroundAt(doc, view->spans()[i].start), advColours[i]);
        }

        // A step without samples shows the next step that logged some (step 5 has none: nothing after).
        QTest::mouseClick(panel.plot()->plot(), Qt::LeftButton, Qt::NoModifier, panel.plot()->pixelOf(series, 3));
        QTRY_COMPARE(view->step(), qint64(4));
        QCOMPARE(view->samples().size(), 1);
    }

    void screenshot() {
        // Writes docs/screenshots/rollout_view.png when RLHF_SCREENSHOT_DIR is set (not in CI).
        const QString out = qEnvironmentVariable("RLHF_SCREENSHOT_DIR");
        if (out.isEmpty()) QSKIP("RLHF_SCREENSHOT_DIR not set");
        const QString source = qEnvironmentVariable("RLHF_ROLLOUT_SAMPLES");  // a JSONL of store samples
        QVector<RolloutSample> samples;
        QFile f(source);
        QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(source));
        qint64 step = 0;
        while (!f.atEnd()) {
            const QJsonObject o = QJsonDocument::fromJson(f.readLine()).object();
            if (o.isEmpty()) continue;
            store::Sample s;
            s.step = o.value(QStringLiteral("step")).toInteger();
            s.prompt = o.value(QStringLiteral("prompt")).toString().toStdString();
            s.response = o.value(QStringLiteral("response")).toString().toStdString();
            if (o.value(QStringLiteral("reward")).isDouble()) s.reward = o.value(QStringLiteral("reward")).toDouble();
            s.extra_json = QJsonDocument(o.value(QStringLiteral("extra")).toObject()).toJson(QJsonDocument::Compact).toStdString();
            step = s.step;
            samples.push_back(rolloutFromSample(s));
        }
        RolloutView view;
        view.resize(1000, 700);
        view.setSamples(qEnvironmentVariable("RLHF_ROLLOUT_TITLE", QStringLiteral("ppo")), step, samples);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        // KL shading when the step has any, else advantage (at step 1 the policy equals the reference).
        if (view.scale() == 0) view.setShadeBy(ShadeBy::Advantage);
        QVERIFY(view.grab().save(out + QStringLiteral("/rollout_view.png")));
    }
};

QTEST_MAIN(RolloutViewTest)
#include "test_rollout_view.moc"
