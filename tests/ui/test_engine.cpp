// Engine facade: jobs on worker threads, queued progress/metrics, cancel through an atomic flag,
// failures turned into jobFailed(QString).
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <atomic>

#include "core/io/error.h"
#include "ui/engine.h"

using rlhf::ui::Engine;
using rlhf::ui::JobContext;
using rlhf::ui::MetricPoint;

class EngineTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void progressArithmetic() {
        // 50 of 200 items in 10 s: rate 50/10 = 5/s, remaining 150 / 5 = 30 s.
        auto e = rlhf::ui::estimateProgress(50, 200, 10.0);
        QCOMPARE(e.rate, 5.0);
        QCOMPARE(e.etaSeconds, 30.0);
        // Nothing done yet: no rate, ETA unknown.
        e = rlhf::ui::estimateProgress(0, 200, 3.0);
        QCOMPARE(e.rate, 0.0);
        QCOMPARE(e.etaSeconds, -1.0);
        // No total: a rate but no ETA.
        e = rlhf::ui::estimateProgress(30, 0, 2.0);
        QCOMPARE(e.rate, 15.0);
        QCOMPARE(e.etaSeconds, -1.0);
        // 75 s left reads 1:15; 3725 s reads 1:02:05 (3600 + 2·60 + 5).
        QCOMPARE(rlhf::ui::formatProgress(50, 200, 5.0, 75.0), QStringLiteral("50/200 · 5.00/s · ETA 1:15"));
        QCOMPARE(rlhf::ui::formatProgress(1, 2, 12.0, 3725.0), QStringLiteral("1/2 · 12.0/s · ETA 1:02:05"));
        QCOMPARE(rlhf::ui::formatProgress(7, 0, 0.0, -1.0), QStringLiteral("7"));
    }

    void finishedJobDeliversEveryMetricBeforeTheEnd() {
        Engine engine;
        QVector<MetricPoint> received;
        bool endedAfterMetrics = false;
        connect(&engine, &Engine::jobMetrics, this,
                [&](int, const QVector<MetricPoint>& pts) { received += pts; });
        QSignalSpy finished(&engine, &Engine::jobFinished);
        connect(&engine, &Engine::jobFinished, this, [&](int) { endedAfterMetrics = received.size() == 1000; });
        QSignalSpy progress(&engine, &Engine::jobProgress);
        Qt::HANDLE workerThread = nullptr;
        const int id = engine.startJob(QStringLiteral("count"), [&](JobContext& ctx) {
            workerThread = QThread::currentThreadId();
            for (int i = 0; i < 1000; ++i) {
                ctx.metric("s/x", i, i * 0.5);
                ctx.progress(i + 1, 1000);
            }
        });
        QVERIFY(id > 0);
        QVERIFY(finished.wait(10000));
        QCOMPARE(finished.first().first().toInt(), id);
        QVERIFY(endedAfterMetrics);
        QVERIFY(workerThread != QThread::currentThreadId());
        // Points arrive in order with their values intact.
        for (int i = 0; i < received.size(); ++i) {
            QCOMPARE(received[i].step, qint64(i));
            QCOMPARE(received[i].value, i * 0.5);
            QCOMPARE(received[i].series, QStringLiteral("s/x"));
        }
        // The last progress report (done == total) is never throttled away.
        QVERIFY(!progress.isEmpty());
        QCOMPARE(progress.last().at(1).toLongLong(), 1000LL);
        QCOMPARE(progress.last().at(2).toLongLong(), 1000LL);
        // Throttled: far fewer than one signal per item.
        QVERIFY(progress.size() < 1000);
        QCOMPARE(engine.runningJobCount(), 0);
    }

    void errorBecomesJobFailed() {
        Engine engine;
        QSignalSpy failed(&engine, &Engine::jobFailed);
        QSignalSpy finished(&engine, &Engine::jobFinished);
        engine.startJob(QStringLiteral("bad"), [](JobContext&) {
            throw rlhf::Error("data.jsonl:3: missing field 'chosen'");
        });
        QVERIFY(failed.wait(10000));
        QCOMPARE(failed.first().at(1).toString(), QStringLiteral("data.jsonl:3: missing field 'chosen'"));
        QCOMPARE(finished.size(), 0);
    }

    void cancelInterruptsABusyWorker() {
        // The worker never returns to an event loop: only the atomic flag can reach it.
        Engine engine;
        QSignalSpy cancelled(&engine, &Engine::jobCancelled);
        std::atomic<bool> started{false};
        std::atomic<long> iterations{0};
        const int id = engine.startJob(QStringLiteral("spin"), [&](JobContext& ctx) {
            started = true;
            for (;;) {
                ctx.throwIfCancelled();
                ++iterations;
                QThread::usleep(100);
            }
        });
        QTRY_VERIFY(started.load());
        QVERIFY(engine.isRunning(id));
        QVERIFY(engine.cancelJob(id));
        QVERIFY(cancelled.wait(10000));
        QCOMPARE(cancelled.first().first().toInt(), id);
        QVERIFY(!engine.isRunning(id));
        QVERIFY(!engine.cancelJob(id));  // already ended
        QVERIFY(iterations.load() > 0);
    }

    void returningAfterCancelCountsAsCancelled() {
        Engine engine;
        QSignalSpy cancelled(&engine, &Engine::jobCancelled);
        const int id = engine.startJob(QStringLiteral("polite"), [](JobContext& ctx) {
            while (!ctx.cancelled()) QThread::msleep(1);
        });
        engine.cancelJob(id);
        QVERIFY(cancelled.wait(10000));
    }

    void postToGuiRunsOnTheGuiThread() {
        Engine engine;
        Qt::HANDLE ranOn = nullptr;
        QSignalSpy finished(&engine, &Engine::jobFinished);
        engine.startJob(QStringLiteral("post"), [&](JobContext& ctx) {
            ctx.postToGui([&] { ranOn = QThread::currentThreadId(); });
        });
        QVERIFY(finished.wait(10000));
        QCOMPARE(ranOn, QThread::currentThreadId());
    }

    void destructorCancelsAndJoins() {
        std::atomic<bool> sawCancel{false};
        {
            Engine engine;
            std::atomic<bool> started{false};
            engine.startJob(QStringLiteral("long"), [&](JobContext& ctx) {
                started = true;
                while (!ctx.cancelled()) QThread::msleep(1);
                sawCancel = true;
            });
            QTRY_VERIFY(started.load());
        }
        QVERIFY(sawCancel.load());  // the thread was joined before ~Engine returned
    }

    void demoJobProducesBothSeries() {
        Engine engine;
        QSet<QString> series;
        int points = 0;
        connect(&engine, &Engine::jobMetrics, this, [&](int, const QVector<MetricPoint>& pts) {
            for (const auto& p : pts) series.insert(p.series);
            points += pts.size();
        });
        QSignalSpy finished(&engine, &Engine::jobFinished);
        engine.startDemoJob(30, 0, QStringLiteral("run1"));
        QVERIFY(finished.wait(10000));
        QCOMPARE(points, 60);
        QVERIFY(series.contains(QStringLiteral("run1/loss")));
        QVERIFY(series.contains(QStringLiteral("run1/objective/scores")));
    }
};

QTEST_GUILESS_MAIN(EngineTest)
#include "test_engine.moc"
