#include "ui/screenshots.h"

#include <QApplication>
#include <QDeadlineTimer>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QMessageBox>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QThread>
#include <QTreeWidget>

#include <cstdio>
#include <functional>

#include "ui/chat_panel.h"
#include "ui/dataset_model.h"
#include "ui/dataset_panel.h"
#include "ui/engine.h"
#include "ui/engine_chat.h"
#include "ui/import_dialog.h"
#include "ui/labeling_panel.h"
#include "ui/live_plot.h"
#include "ui/main_window.h"
#include "ui/runs_panel.h"
#include "ui/train_panel.h"
#include "ui/workbench.h"

namespace rlhf::ui {

namespace {

bool waitUntil(const std::function<bool()>& done, int timeoutMs) {
    QDeadlineTimer deadline(timeoutMs);
    while (!done()) {
        if (deadline.hasExpired()) return false;
        QApplication::processEvents(QEventLoop::AllEvents, 20);
        QThread::msleep(5);
    }
    return true;
}

void settle(int ms) {
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < ms) {
        QApplication::processEvents(QEventLoop::AllEvents, 20);
        QThread::msleep(5);
    }
}

bool save(QWidget* w, const QString& dir, const QString& name) {
    const QString path = QDir(dir).filePath(name + QStringLiteral(".png"));
    const bool ok = w->grab().save(path);
    std::printf("%s %s\n", ok ? "wrote" : "FAILED", qPrintable(path));
    return ok;
}

// The Chat panel side by side: the demo's reference model (A, models/sft) and its PPO policy (B,
// the newest PPO run's export) continue the same review openings with real replies, when a demo
// with a PPO run is built (RLHF_DEMO_PROJECT, else ~/rlhf-demo). Without one the panel is shot
// empty and the tool says so.
bool saveChatScreenshot(MainWindow& window, const QString& outDir) {
    ChatPanel* chat = window.chatPanel();
    window.tabs()->setCurrentWidget(chat);
    const QString demo = defaultDemoProjectDir();
    const QString reference = QDir(demo).filePath(QStringLiteral("models/sft"));
    QString policy;
    for (const ChatModelEntry& m : findChatModels(demo, {})) {
        if (!m.label.contains(QStringLiteral("(ppo)"))) continue;
        if (policy.isEmpty() || m.label.contains(QStringLiteral("demo-ppo"))) policy = m.path;
    }
    if (isModelFolder(reference) && !policy.isEmpty()) {
        chat->setSideBySide(true);
        chat->selectModel(ChatPanel::A, reference);
        chat->selectModel(ChatPanel::B, policy);
        chat->setCompletionMode(true);
        ChatSampling s;
        s.temperature = 0.7;
        s.maxNewTokens = 40;
        s.seed = 6;  // a seed at which the reference writes some negative reviews (the contrast PPO removed)
        chat->setSampling(s);
        for (const QString& opening : {QStringLiteral("My new rice cooker"), QStringLiteral("Honestly, the vacuum"),
                                       QStringLiteral("After a month with this watch,")}) {
            chat->send(opening);
            if (!waitUntil([&] { return !chat->isBusy(); }, 120000)) {
                std::fprintf(stderr, "chat: no reply within 2 minutes\n");
                return false;
            }
            chat->preferSide(ChatPanel::B);
        }
    } else {
        std::fprintf(stderr, "chat: no demo with a PPO run in %s (set RLHF_DEMO_PROJECT); the Chat panel is shot empty\n",
                     qPrintable(demo));
    }
    settle(400);
    return save(&window, outDir, QStringLiteral("chat"));
}

}  // namespace

int writeDemoPreferenceFile(const QString& path, int records) {
    const char* topics[] = {"photosynthesis", "the French Revolution", "binary search", "compound interest",
                            "plate tectonics", "the TCP handshake", "vaccines", "black holes"};
    const char* styles[] = {"Explain", "Summarise", "Give an example of", "What is"};
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return 0;
    int lines = 0;
    for (int i = 0; i < records; ++i) {
        const QString topic = QString::fromLatin1(topics[i % 8]);
        const QString prompt = QStringLiteral("%1 %2 in two sentences.").arg(QString::fromLatin1(styles[(i / 8) % 4]), topic);
        const QString chosen = QStringLiteral("Here is a clear answer about %1. It covers the key idea, gives one "
                                              "concrete example (#%2), and stays within two sentences.").arg(topic).arg(i);
        const QString rejected = QStringLiteral("Here is an answer about %1. It skips the key idea, gives no "
                                                "example (#%2), and rambles past two sentences.").arg(topic).arg(i);
        QJsonObject o{{QStringLiteral("prompt"), prompt}, {QStringLiteral("chosen"), chosen},
                      {QStringLiteral("rejected"), rejected}};
        f.write(QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n');
        ++lines;
        if (i == records / 3) {  // two malformed lines, so the import summary has something to say
            f.write("{\"prompt\": \"no answers here\"}\n");
            f.write("{\"prompt\": \"truncated\", \"chosen\": \n");
            lines += 2;
        }
    }
    return lines;
}

int saveScreenshots(const QString& outDir, const QString& projectDir) {
    QDir().mkpath(outDir);
    QTemporaryDir temp;
    const QString project = projectDir.isEmpty() ? temp.filePath(QStringLiteral("demo-project")) : projectDir;
    const QString dataFile = temp.filePath(QStringLiteral("helpful_pairs.jsonl"));
    writeDemoPreferenceFile(dataFile, 120);

    MainWindow window;
    addPanels(window);
    window.resize(1280, 800);
    if (!window.openProject(project)) return 1;
    window.show();
    Engine* engine = window.engine();
    bool ok = true;

    // Import through the dialog, as a user would, and keep its summary for a screenshot.
    auto* dialog = new ImportDialog(engine, &window);
    dialog->setFile(dataFile);
    dialog->show();
    dialog->startImport();
    if (!waitUntil([&] { return dialog->lastImportOk(); }, 30000)) {
        std::fprintf(stderr, "import did not finish: %s\n", qPrintable(dialog->summaryText()));
        return 1;
    }
    settle(200);
    ok &= save(dialog, outDir, QStringLiteral("import_dialog"));
    dialog->close();

    auto* datasets = window.findChild<DatasetPanel*>();
    auto* labeling = window.findChild<LabelingPanel*>();
    auto* runs = window.findChild<RunsPanel*>();

    // Comparisons to label, then a few labels so the win rate shows.
    const qint64 datasetId = datasets->model()->datasetId();
    const int job = engine->startComparisonsFromDataset(datasetId, 30, 7);
    waitUntil([&] { return !engine->isRunning(job); }, 30000);
    settle(200);
    for (int i = 0; i < 12; ++i) labeling->choose(i % 5 == 4 ? LabelingPanel::Side::Tie : (i % 3 ? LabelingPanel::Side::Left : LabelingPanel::Side::Right));
    settle(300);

    // A finished demo run and a live one.
    const int done = engine->startDemoJob(300, 0, QStringLiteral("sft-demo"));
    waitUntil([&] { return !engine->isRunning(done); }, 30000);
    const int live = engine->startDemoJob(400, 15, QStringLiteral("ppo-demo"));
    settle(300);
    runs->runList()->selectAll();
    settle(2500);

    QTabWidget* tabs = window.tabs();
    tabs->setCurrentWidget(runs);
    runs->showSamples(1, 100);  // run #1 (sft-demo) logs samples every 50 steps
    settle(600);
    ok &= save(&window, outDir, QStringLiteral("runs"));

    tabs->setCurrentWidget(datasets);
    datasets->view()->selectRow(1);
    settle(600);
    ok &= save(&window, outDir, QStringLiteral("datasets"));

    tabs->setCurrentWidget(labeling);
    labeling->setFocus();
    settle(400);
    ok &= save(&window, outDir, QStringLiteral("labeling"));

    // The launcher with a stand-in trainer (prints `rlhf train`'s JSON lines), so its plot has data.
    const QString fake = temp.filePath(QStringLiteral("demo-trainer"));
    {
        QFile f(fake);
        f.open(QIODevice::WriteOnly);
        f.write("#!/bin/sh\nawk 'BEGIN { srand(3); for (i = 1; i <= 200; i++) { printf \"{\\\"step\\\": %d, \\\"loss\\\": %.4f, "
                "\\\"learning_rate\\\": %.6f}\\n\", i, 2.2*exp(-i/50)+0.4+0.05*rand(), 0.0002*(i<20?i/20:1); fflush() } }'\n");
        f.close();
        f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    }
    qputenv("RLHF_CLI", fake.toUtf8());
    auto* train = window.findChild<TrainPanel*>();
    tabs->setCurrentWidget(train);
    const int trainJob = train->start(false);
    waitUntil([&] { return trainJob == 0 || !engine->isRunning(trainJob); }, 20000);
    settle(600);
    ok &= save(&window, outDir, QStringLiteral("train"));
    qunsetenv("RLHF_CLI");

    ok &= saveChatScreenshot(window, outDir);

    QMessageBox* about = window.makeAboutBox();
    about->show();
    waitUntil([&] { return about->property("aboutReady").toBool(); }, 15000);
    settle(300);
    ok &= save(about, outDir, QStringLiteral("about"));
    about->close();

    engine->cancelJob(live);
    waitUntil([&] { return !engine->isRunning(live); }, 10000);
    return ok ? 0 : 1;
}

}  // namespace rlhf::ui
