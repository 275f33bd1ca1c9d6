// Event-loop watchdog: quantiles by hand, and a deliberately blocked loop must show as lateness.
#include <QTest>
#include <QThread>

#include "ui/watchdog.h"

class WatchdogTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void nearestRank() {
        // Nearest rank: the ceil(q·n)-th smallest. n = 10: p50 -> 5th = 5, p99 -> ceil(9.9) = 10th = 10.
        std::vector<double> v{10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
        QCOMPARE(rlhf::ui::nearestRankQuantile(v, 0.5), 5.0);
        QCOMPARE(rlhf::ui::nearestRankQuantile(v, 0.99), 10.0);
        QCOMPARE(rlhf::ui::nearestRankQuantile(v, 0.0), 1.0);
        QCOMPARE(rlhf::ui::nearestRankQuantile({}, 0.99), 0.0);
        // n = 200 values 1..200: p99 -> 198th smallest = 198.
        std::vector<double> w;
        for (int i = 200; i >= 1; --i) w.push_back(i);
        QCOMPARE(rlhf::ui::nearestRankQuantile(w, 0.99), 198.0);
    }

    void blockedLoopShowsAsLateness() {
        rlhf::ui::EventLoopWatchdog dog(10);
        dog.start();
        QTest::qWait(50);
        // Block the loop for 150 ms: the next tick comes >= 150 ms after the previous one, so its
        // lateness is at least 150 - 10 = 140 ms (a lower bound the scheduler cannot undercut).
        QThread::msleep(150);
        QTest::qWait(50);
        dog.stop();
        const auto s = dog.stats();
        QVERIFY(s.samples >= 2);
        QVERIFY2(s.maxMs >= 140.0, qPrintable(dog.summary()));
        qInfo("%s", qPrintable(dog.summary()));
    }
};

QTEST_GUILESS_MAIN(WatchdogTest)
#include "test_watchdog.moc"
