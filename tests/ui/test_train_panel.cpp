// Training launcher: the form reads and writes the YAML (comments kept), bad YAML is reported with
// its line, and a run's JSON lines stream into the plot; Stop ends the child; a failing CLI's
// message reaches the panel. The CLI is a stand-in script (RLHF_CLI), so no LibTorch is needed.
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <fstream>
#include <vector>

#include "core/io/safetensors.h"
#include "ui/engine.h"
#include "ui/live_plot.h"
#include "ui/train_panel.h"

using namespace rlhf::ui;

class TrainPanelTest : public QObject {
    Q_OBJECT
private:
    QTemporaryDir temp_;

    QString writeScript(const QString& name, const QString& body) {
        const QString path = temp_.filePath(name);
        QFile f(path);
        f.open(QIODevice::WriteOnly);
        f.write(QByteArray("#!/bin/sh\n") + body.toUtf8());
        f.close();
        f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        return path;
    }

    // The example SFT config with a run name and a step count: valid for core/train's parser too.
    static QString exampleConfig(const QString& name, qint64 maxSteps) {
        QFile f(QStringLiteral(RLHF_SOURCE_DIR "/resources/configs/sft.yaml"));
        f.open(QIODevice::ReadOnly);
        const QString yaml = QString::fromUtf8(f.readAll());
        TrainForm form;
        readTrainForm(yaml, &form, nullptr);
        form.name = name;
        form.maxSteps = maxSteps;
        return applyTrainForm(yaml, form);
    }

private Q_SLOTS:
    void formReadsTheExampleConfig() {
        QFile f(QStringLiteral(RLHF_SOURCE_DIR "/resources/configs/sft.yaml"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QString yaml = QString::fromUtf8(f.readAll());
        TrainForm form;
        QString error;
        QVERIFY2(readTrainForm(yaml, &form, &error), qPrintable(error));
        // Values as written in resources/configs/sft.yaml.
        QCOMPARE(form.algo, QStringLiteral("sft"));
        QCOMPARE(form.name, QStringLiteral("sft-demo"));
        QCOMPARE(form.policy, QStringLiteral("models/tiny-gpt2"));
        QCOMPARE(form.dataset, QStringLiteral("demo-sft"));
        QCOMPARE(form.lr, 2.0e-5);
        QCOMPARE(form.batchSize, qint64(8));
    }

    void formWritesBackKeepingComments() {
        const QString yaml = QStringLiteral(
            "algo: sft\n"
            "name: old   # shown in the Runs panel\n"
            "model:\n"
            "  policy: models/a   # HF folder\n"
            "optimizer:\n"
            "  lr: 1.0e-5\n"
            "batch_size: 8\n");
        TrainForm form;
        QVERIFY(readTrainForm(yaml, &form, nullptr));
        form.name = QStringLiteral("new-run");
        form.policy = QStringLiteral("models/b");
        form.lr = 3e-4;
        form.maxSteps = 50;  // not in the file: added
        form.dataset = QStringLiteral("pairs");  // parent block missing: added as a block
        const QString out = applyTrainForm(yaml, form);
        QVERIFY2(out.contains(QStringLiteral("name: new-run   # shown in the Runs panel\n")), qPrintable(out));
        QVERIFY2(out.contains(QStringLiteral("  policy: models/b   # HF folder\n")), qPrintable(out));
        TrainForm back;
        QVERIFY(readTrainForm(out, &back, nullptr));
        QCOMPARE(back.name, QStringLiteral("new-run"));
        QCOMPARE(back.policy, QStringLiteral("models/b"));
        QCOMPARE(back.lr, 3e-4);
        QCOMPARE(back.maxSteps, qint64(50));
        QCOMPARE(back.dataset, QStringLiteral("pairs"));
        QCOMPARE(back.batchSize, qint64(8));
        QCOMPARE(back.algo, QStringLiteral("sft"));
    }

    void badYamlIsReportedWithItsLine() {
        const QString error = Engine::validateTrainConfig(QStringLiteral("algo: sft\nmodel:\n  policy: [unclosed\n"));
        QVERIFY(!error.isEmpty());
        QVERIFY2(error.startsWith(QStringLiteral("line ")), qPrintable(error));
        QVERIFY(!Engine::validateTrainConfig(QStringLiteral("name: x\n")).isEmpty());  // no algo
    }

    void runStreamsIntoThePlotAndStops() {
        // A stand-in trainer: one JSON line per step, like `rlhf train`, for as long as it is let run.
        const QString cli = writeScript(QStringLiteral("fake-rlhf"),
            QStringLiteral("i=1\nwhile [ $i -le 100000 ]; do\n"
                           "  echo \"{\\\"step\\\": $i, \\\"loss\\\": 2.5, \\\"learning_rate\\\": 0.001}\"\n"
                           "  i=$((i+1)); sleep 0.005\ndone\n"));
        qputenv("RLHF_CLI", cli.toUtf8());
        Engine engine;
        TrainPanel panel(&engine);
        panel.yamlEditor()->setPlainText(exampleConfig(QStringLiteral("fake"), 100000));
        QSignalSpy cancelled(&engine, &Engine::jobCancelled);
        QVERIFY2(panel.validate(), qPrintable(panel.statusText()));
        QVERIFY(panel.start() > 0);
        QTRY_VERIFY_WITH_TIMEOUT(panel.plot()->pointCount(QStringLiteral("fake/loss")) >= 20, 20000);
        QVERIFY(panel.plot()->seriesNames().contains(QStringLiteral("fake/learning_rate")));
        panel.stop();
        QVERIFY(cancelled.wait(20000));
        QVERIFY(panel.statusText().contains(QStringLiteral("stopped")));
        qunsetenv("RLHF_CLI");
    }

    void validateShowsTheMemoryEstimate() {
        // A project with a tiny GPT-2-shaped folder (208 F32 parameters) at models/tiny.
        const QString project = temp_.filePath(QStringLiteral("memproject"));
        Engine engine;
        QString error;
        QVERIFY2(engine.openProject(project, &error), qPrintable(error));
        const QString model = project + QStringLiteral("/models/tiny");
        QVERIFY(QDir().mkpath(model));
        std::ofstream(model.toStdString() + "/config.json")
            << R"({"model_type":"gpt2","n_embd":8,"n_layer":2,"n_head":2,"vocab_size":10,"n_positions":16})";
        std::vector<float> a(80, 0.f), b(128, 0.f);
        rlhf::io::write_safetensors(model.toStdString() + "/model.safetensors",
                                    {{"wte", rlhf::io::DType::F32, {10, 8}, a.data(), a.size() * 4},
                                     {"wpe", rlhf::io::DType::F32, {16, 8}, b.data(), b.size() * 4}});
        TrainPanel panel(&engine);
        panel.yamlEditor()->setPlainText(QStringLiteral(
            "algo: sft\nname: mem\nmodel:\n  policy: models/tiny\ndata:\n  dataset: d\n  max_prompt_length: 8\n  max_length: 16\n"
            "batch_size: 2\n"));
        QVERIFY2(panel.validate(), qPrintable(panel.statusText()));
        if (panel.statusText().contains(QStringLiteral("this build has no core/train")))
            QSKIP("built without core/train");
        // By hand (core/train/memory_estimate.h): weights 4*208 + gradients 4*208 + AdamW 8*208 =
        // 3328; activations 2 layers * 32 tokens * 8 * (34 + 5*2*16/8) * 2 = 55296 (54.0 KiB);
        // logits 3*32*10*4 = 3840. Total 62464 B = 61.0 KiB. The relative path resolves in the project.
        QVERIFY2(panel.statusText().contains(QStringLiteral("Estimated memory 61.0 KiB (208 parameters)")),
                 qPrintable(panel.statusText()));
        QVERIFY2(panel.statusText().contains(QStringLiteral("available")), qPrintable(panel.statusText()));
        // A policy folder that does not exist: still valid YAML, but the estimate says why it is missing.
        panel.yamlEditor()->setPlainText(QStringLiteral(
            "algo: sft\nname: mem\nmodel:\n  policy: models/absent\ndata:\n  dataset: d\n"));
        QVERIFY(panel.validate());
        QVERIFY2(panel.statusText().contains(QStringLiteral("Memory not estimated")) &&
                     panel.statusText().contains(QStringLiteral("config.json")),
                 qPrintable(panel.statusText()));
    }

    void failingCliMessageReachesThePanel() {
        const QString cli = writeScript(QStringLiteral("failing-rlhf"),
            QStringLiteral("echo 'config.yaml:3: model.policy: no such folder' >&2\nexit 1\n"));
        qputenv("RLHF_CLI", cli.toUtf8());
        Engine engine;
        TrainPanel panel(&engine);
        panel.yamlEditor()->setPlainText(exampleConfig(QStringLiteral("broken"), 10));
        QSignalSpy failed(&engine, &Engine::jobFailed);
        QVERIFY2(panel.validate(), qPrintable(panel.statusText()));
        panel.start();
        QVERIFY(failed.wait(20000));
        QVERIFY2(panel.statusText().contains(QStringLiteral("model.policy: no such folder")), qPrintable(panel.statusText()));
        qunsetenv("RLHF_CLI");
    }
};

QTEST_MAIN(TrainPanelTest)
#include "test_train_panel.moc"
