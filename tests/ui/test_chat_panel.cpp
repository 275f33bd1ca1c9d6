// The Chat panel driving real `rlhf chat --json` children on tiny GPT-2s (test_chat_model.cpp),
// inside the real main window, under QT_QPA_PLATFORM=offscreen:
//  - a reply streams into the transcript in more than one update, and is the text `rlhf
//    generate` writes for the same prompt (the independent truth);
//  - side by side, two models answer the same message (two processes at once);
//  - "A better" stores feedback that Project::feedback_preference_pairs() returns with A's reply
//    chosen and B's rejected, and the export makes it a preference dataset (once);
//  - Stop cancels a long reply mid-way; thumbs store a rating;
//  - Help ▸ Open Demo Project builds the demo as a job (a stand-in CLI here) and opens it.
// The event-loop watchdog runs throughout; its p99/max lateness is printed.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>

#include "core/store/project.h"
#include "ui/chat_panel.h"
#include "ui/engine.h"
#include "ui/engine_chat.h"
#include "ui/main_window.h"
#include "ui/watchdog.h"

QString writeTinyChatModel(const QString& dir, unsigned seed);  // test_chat_model.cpp

using namespace rlhf::ui;

namespace {

QString generateGreedy(const QString& model, const QString& prompt, int maxNew) {
    QProcess p;
    p.start(QStringLiteral(RLHF_CLI_PATH),
            {QStringLiteral("generate"), QStringLiteral("--model"), model, QStringLiteral("--prompt"), prompt,
             QStringLiteral("--max-new-tokens"), QString::number(maxNew), QStringLiteral("--temperature"), QStringLiteral("0"),
             QStringLiteral("--json"), QStringLiteral("--threads"), QStringLiteral("1")});
    p.waitForFinished(120000);
    return QJsonDocument::fromJson(p.readAllStandardOutput().trimmed()).object().value(QStringLiteral("text")).toString();
}

ChatSampling greedy(int maxNew) {
    ChatSampling s;
    s.temperature = 0;
    s.maxNewTokens = maxNew;
    return s;
}

}  // namespace

class ChatPanelTest : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    QString modelA_, modelB_;
    // `rlhf generate` outputs, computed before the watchdog starts (they block this thread).
    QString expectedFox_, expectedOnceA_, expectedOnceB_;
    std::unique_ptr<MainWindow> window_;
    ChatPanel* chat_ = nullptr;
    EventLoopWatchdog watchdog_{10};

    // Waits (processing events) for `side`'s reply to end; returns its finish reason.
    QString waitReply(QSignalSpy& spy, int side, int timeoutMs = 120000) {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < timeoutMs) {
            for (const QList<QVariant>& args : spy)
                if (args.at(0).toInt() == side) return args.at(2).toString();
            spy.wait(200);
        }
        return QStringLiteral("timeout");
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        QCoreApplication::setOrganizationName(QStringLiteral("rlhf-workbench-test-chat"));
        QSettings().clear();
        qputenv("RLHF_CLI", QByteArrayLiteral(RLHF_CLI_PATH));
        qputenv("HF_HUB_CACHE", tmp_.filePath(QStringLiteral("no-hub")).toUtf8());  // the user's cache is not scanned
        modelA_ = tmp_.filePath(QStringLiteral("project/models/tiny-a"));
        modelB_ = tmp_.filePath(QStringLiteral("project/models/tiny-b"));
        QString error = writeTinyChatModel(modelA_, 1);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        error = writeTinyChatModel(modelB_, 2);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        expectedFox_ = generateGreedy(modelA_, QStringLiteral("The quick brown fox"), 120);
        expectedOnceA_ = generateGreedy(modelA_, QStringLiteral("Once upon a time"), 30);
        expectedOnceB_ = generateGreedy(modelB_, QStringLiteral("Once upon a time"), 30);
        QVERIFY(!expectedFox_.isEmpty() && !expectedOnceA_.isEmpty() && !expectedOnceB_.isEmpty());
        window_ = std::make_unique<MainWindow>();
        QVERIFY(window_->demoBanner()->isVisibleTo(window_.get()));  // first launch: no recent project
        QVERIFY(window_->openProject(tmp_.filePath(QStringLiteral("project"))));
        QVERIFY(!window_->demoBanner()->isVisibleTo(window_.get()));
        window_->show();
        chat_ = window_->chatPanel();
        QVERIFY(chat_);
        QCOMPARE(window_->tabs()->tabText(window_->tabs()->indexOf(chat_)), QStringLiteral("Chat"));
        window_->tabs()->setCurrentWidget(chat_);
        // The project's models/* are found; A and B default to two different folders.
        QVERIFY(chat_->modelPaths().contains(modelA_));
        QVERIFY(chat_->modelPaths().contains(modelB_));
        QVERIFY(chat_->modelPath(ChatPanel::A) != chat_->modelPath(ChatPanel::B));
        watchdog_.start();
    }

    void streamedReplyMatchesGenerate() {
        QVERIFY(chat_->selectModel(ChatPanel::A, modelA_));
        chat_->setSideBySide(false);
        chat_->setCompletionMode(true);
        chat_->setSampling(greedy(120));
        QSignalSpy finished(chat_, &ChatPanel::replyFinished);
        auto* input = chat_->findChild<QPlainTextEdit*>(QStringLiteral("chatInput"));
        QTest::keyClicks(input, QStringLiteral("The quick brown fox"));
        QTest::mouseClick(chat_->findChild<QPushButton*>(QStringLiteral("send")), Qt::LeftButton);
        QVERIFY(chat_->isBusy());
        QCOMPARE(input->toPlainText(), QString());
        QCOMPARE(waitReply(finished, ChatPanel::A), QStringLiteral("length"));
        qInfo("reply arrived in %d updates", chat_->streamUpdates(ChatPanel::A));
        QVERIFY(chat_->streamUpdates(ChatPanel::A) > 1);
        const QString reply = chat_->lastReply(ChatPanel::A);
        QCOMPARE(reply, expectedFox_);
        QVERIFY(chat_->transcript(ChatPanel::A).contains(reply));
        // Stored: a session, the user message and the reply answering it.
        auto& project = window_->engine()->project();
        const auto messages = project.chat_messages(chat_->sessionId());
        QCOMPARE(int(messages.size()), 2);
        QCOMPARE(messages[0].role, std::string("user"));
        QCOMPARE(messages[1].content, reply.toStdString());
        QCOMPARE(messages[1].parent_id.value_or(0), messages[0].id);
        // Thumbs up on it.
        QVERIFY(chat_->rateReply(ChatPanel::A, +1) > 0);
    }

    void sideBySidePreferenceBecomesAPair() {
        chat_->newChat();
        chat_->setSideBySide(true);
        QVERIFY(chat_->selectModel(ChatPanel::A, modelA_));
        QVERIFY(chat_->selectModel(ChatPanel::B, modelB_));
        chat_->setSampling(greedy(30));
        QSignalSpy finished(chat_, &ChatPanel::replyFinished);
        QVERIFY(chat_->send(QStringLiteral("Once upon a time")));
        QVERIFY(chat_->isBusy());
        QCOMPARE(waitReply(finished, ChatPanel::A), QStringLiteral("length"));
        QCOMPARE(waitReply(finished, ChatPanel::B), QStringLiteral("length"));
        const QString a = chat_->lastReply(ChatPanel::A), b = chat_->lastReply(ChatPanel::B);
        QVERIFY(!a.isEmpty() && !b.isEmpty());
        QVERIFY2(a != b, "two models with different weights answer differently");
        QCOMPARE(a, expectedOnceA_);
        QCOMPARE(b, expectedOnceB_);

        auto* aBetter = chat_->findChild<QPushButton*>(QStringLiteral("aBetter"));
        QVERIFY(aBetter->isEnabled());
        QSignalSpy stored(chat_, &ChatPanel::feedbackStored);
        QTest::mouseClick(aBetter, Qt::LeftButton);
        QCOMPARE(stored.count(), 1);
        QVERIFY(!aBetter->isEnabled());  // one vote per turn

        auto& project = window_->engine()->project();
        const auto pairs = project.feedback_preference_pairs();
        QCOMPARE(int(pairs.size()), 1);
        QCOMPARE(QString::fromStdString(pairs[0].chosen.back().content), a);
        QCOMPARE(QString::fromStdString(pairs[0].rejected.back().content), b);
        QCOMPARE(QString::fromStdString(pairs[0].prompt.back().content), QStringLiteral("Once upon a time"));

        QCOMPARE(chat_->exportFeedback(), qint64(1));
        QCOMPARE(chat_->exportFeedback(), qint64(0));  // the same pair is not added twice
        const auto ds = project.find_dataset(ChatPanel::kDefaultFeedbackDataset);
        QVERIFY(ds.has_value());
    }

    void stopCancelsALongReply() {
        chat_->newChat();
        chat_->setSideBySide(false);
        chat_->setSampling(greedy(1000));
        QSignalSpy finished(chat_, &ChatPanel::replyFinished);
        QVERIFY(chat_->send(QStringLiteral("Tell a long story")));
        QVERIFY(QTest::qWaitFor([&] { return chat_->streamUpdates(ChatPanel::A) > 0; }, 60000));
        QTest::mouseClick(chat_->findChild<QPushButton*>(QStringLiteral("stop")), Qt::LeftButton);
        QCOMPARE(waitReply(finished, ChatPanel::A), QStringLiteral("cancelled"));
        QVERIFY(!chat_->isBusy());
        QVERIFY(chat_->transcript(ChatPanel::A).contains(QStringLiteral("[stopped]")));
        // The reply was cut well before its 1000-token budget (each token is ≥ 1 character here).
        QVERIFY(chat_->lastReply(ChatPanel::A).size() < 1000);
    }

    // Help ▸ Open Demo Project when the demo is not built: a job runs `rlhf demo --project DIR`
    // (a stand-in script that narrates like the real one and writes a model folder), its steps
    // become progress, and the window opens the project when it ends.
    void openDemoBuildsThenOpens() {
        const QString script = tmp_.filePath(QStringLiteral("fake-rlhf"));
        QFile f(script);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("#!/bin/sh\n"
                "# $1=demo $2=--project $3=DIR\n"
                "for i in 1 2 3; do echo \"demo: pre-training step $i/3  loss 1.0\" >&2; sleep 0.1; done\n"
                "mkdir -p \"$3/models/sft\" && echo '{}' > \"$3/models/sft/config.json\" && echo '{}' > \"$3/models/sft/tokenizer.json\"\n"
                "echo '{\"ok\":true}'\n");
        f.close();
        f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        qputenv("RLHF_CLI", script.toUtf8());
        const QString demoDir = tmp_.filePath(QStringLiteral("demo"));
        QVERIFY(!isDemoProjectBuilt(demoDir));
        QSignalSpy progress(window_->engine(), &Engine::jobProgress);
        QSignalSpy opened(window_.get(), &MainWindow::projectChanged);
        const int job = window_->buildAndOpenDemo(demoDir);
        QVERIFY(job > 0);
        QVERIFY(opened.wait(30000));
        qputenv("RLHF_CLI", QByteArrayLiteral(RLHF_CLI_PATH));
        QCOMPARE(window_->projectDir(), QFileInfo(demoDir).absoluteFilePath());
        QVERIFY(isDemoProjectBuilt(demoDir));
        QVERIFY(progress.count() >= 1);
        QCOMPARE(progress.last().at(2).toLongLong(), qint64(3));  // total = the pre-training steps
    }

    void cleanupTestCase() {
        watchdog_.stop();
        qInfo("%s", qPrintable(watchdog_.summary()));
        window_.reset();
    }
};

QTEST_MAIN(ChatPanelTest)
#include "test_chat_panel.moc"
