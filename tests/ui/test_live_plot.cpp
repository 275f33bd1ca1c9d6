// LivePlot: EMA values by hand, points from another thread arrive, replots are collapsed, CSV
// export round-trips, clicking a point emits its series and step.
#include <QFile>
#include <QImage>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QSlider>
#include <QThread>

#include <cmath>

#include "ui/live_plot.h"
#include "ui/qcp.h"
#include "ui/smoothing.h"

using rlhf::ui::LivePlot;

class LivePlotTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void emaMatchesHandComputation() {
        // w = 0.5, x = 2, 4, 8. m0 = 0.5·2 = 1, debias 1-0.5 = 0.5 -> 2.
        // m1 = 0.5·1 + 0.5·4 = 2.5, debias 1-0.25 = 0.75 -> 3.3333.
        // m2 = 0.5·2.5 + 0.5·8 = 5.25, debias 1-0.125 = 0.875 -> 6.
        const auto s = rlhf::ui::emaSmooth({2, 4, 8}, 0.5);
        QCOMPARE(s.size(), size_t(3));
        QCOMPARE(s[0], 2.0);
        QVERIFY(qAbs(s[1] - 10.0 / 3.0) < 1e-12);
        QVERIFY(qAbs(s[2] - 6.0) < 1e-12);
        // w = 0 is the raw series; a NaN passes through and does not poison the rest.
        QCOMPARE(rlhf::ui::emaSmooth({1, 5, 3}, 0.0), (std::vector<double>{1, 5, 3}));
        const auto n = rlhf::ui::emaSmooth({1, std::nan(""), 1}, 0.9);
        QVERIFY(std::isnan(n[1]));
        QCOMPARE(n[2], 1.0);  // (0.9·0.1 + 0.1·1) / (1 - 0.81) = 0.19 / 0.19 = 1
    }

    void pointsFromAWorkerThreadAreCollapsedIntoFewReplots() {
        LivePlot plot;
        plot.resize(600, 400);
        plot.show();
        QVERIFY(QTest::qWaitForWindowExposed(&plot));
        const int before = plot.replotCount();
        // 5000 points from another thread as fast as it can: each point does not cost a replot.
        QThread* producer = QThread::create([&plot] {
            for (int i = 0; i < 5000; ++i) plot.appendPoint(QStringLiteral("run/loss"), i, i * 0.01, 1.0 / (1 + i));
        });
        producer->start();
        QVERIFY(producer->wait(10000));
        delete producer;
        QTRY_COMPARE(plot.pointCount(QStringLiteral("run/loss")), 5000);
        // One replot per 40 ms timer period at most: 5000 points must not give 5000 replots. The
        // producer and the draining interleave in any way, so bound it loosely but far below 5000.
        QVERIFY2(plot.replotCount() - before < 200, qPrintable(QString::number(plot.replotCount() - before)));
        QCOMPARE(plot.plot()->graphCount(), 2);  // raw + smoothed
        QCOMPARE(plot.plot()->graph(0)->dataCount(), 5000);
    }

    void csvExportHasEveryPointAndItsSmoothedValue() {
        LivePlot plot;
        plot.setSmoothing(0.5);
        plot.appendPoint(QStringLiteral("a"), 1, 0.5, 2);
        plot.appendPoint(QStringLiteral("a"), 2, 1.0, 4);
        plot.appendPoint(QStringLiteral("b,c"), 1, 0.7, 8);
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("m.csv"));
        QVERIFY(plot.exportCsv(path));
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 4);
        QCOMPARE(lines[0], QStringLiteral("series,step,wall_time,value,smoothed"));
        QCOMPARE(lines[1], QStringLiteral("a,1,0.5,2,2"));
        // smoothed at step 2 = 10/3 (see emaMatchesHandComputation)
        QVERIFY(lines[2].startsWith(QStringLiteral("a,2,1,4,3.33333333333333")));
        QCOMPARE(lines[3], QStringLiteral("\"b,c\",1,0.69999999999999996,8,8"));
        const QString png = dir.filePath(QStringLiteral("p.png"));
        QVERIFY(plot.exportPng(png, 320, 200));
        QImage image(png);
        QCOMPARE(image.size(), QSize(320, 200));
    }

    void smoothingAndAxisSwitchRebuildTheGraphs() {
        LivePlot plot;
        plot.setSmoothing(0.0);
        for (int i = 0; i < 10; ++i) plot.appendPoint(QStringLiteral("s"), i, 100 + i * 2.0, i);
        plot.flushNow();
        auto* smooth = plot.plot()->graph(1);
        QCOMPARE(smooth->data()->at(9)->value, 9.0);
        plot.setSmoothing(0.5);
        // With w = 0.5 the last smoothed value lags the raw 9.
        QVERIFY(smooth->data()->at(9)->value < 9.0);
        QCOMPARE(plot.smoothing(), 0.5);
        QCOMPARE(plot.findChild<QSlider*>(QStringLiteral("smoothingSlider"))->value(), 50);
        plot.setXAxis(LivePlot::XAxis::WallTime);
        QCOMPARE(plot.plot()->graph(0)->data()->at(0)->key, 100.0);
        QCOMPARE(plot.plot()->graph(0)->data()->at(9)->key, 118.0);
    }

    void clickingAPointEmitsItsStep() {
        LivePlot plot;
        plot.resize(600, 400);
        plot.setSmoothing(0.0);
        plot.show();
        QVERIFY(QTest::qWaitForWindowExposed(&plot));
        for (int i = 0; i < 5; ++i) plot.appendPoint(QStringLiteral("run7/loss"), i * 10, i, i % 2 ? 1.0 : 3.0);
        plot.flushNow();
        QSignalSpy clicked(&plot, &LivePlot::pointClicked);
        const QPoint p = plot.pixelOf(QStringLiteral("run7/loss"), 3);  // step 30, value 1
        QTest::mouseClick(plot.plot(), Qt::LeftButton, Qt::NoModifier, p);
        QCOMPARE(clicked.size(), 1);
        QCOMPARE(clicked.first().at(0).toString(), QStringLiteral("run7/loss"));
        QCOMPARE(clicked.first().at(1).toLongLong(), 30LL);
        QString series;
        double step = 0, value = 0;
        QVERIFY(plot.nearestPoint(plot.pixelOf(QStringLiteral("run7/loss"), 2), &series, &step, &value));
        QCOMPARE(step, 20.0);
        QCOMPARE(value, 3.0);
        // Far from every point: nothing.
        QVERIFY(!plot.nearestPoint(QPoint(p.x(), p.y() - 60), &series, &step, &value));
    }
};

QTEST_MAIN(LivePlotTest)
#include "test_live_plot.moc"
