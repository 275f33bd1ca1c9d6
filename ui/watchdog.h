// EventLoopWatchdog — measures how late the GUI event loop runs a precise repeating timer. A tick
// that arrives L ms after it was due means the loop was blocked for ~L ms: what a user feels as a
// frozen window. The GUI tests print p99 and max lateness while jobs run.
#pragma once
#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QTimer>

#include <vector>

namespace rlhf::ui {

// The q-quantile (0..1) of `values` by the nearest-rank method (ceil(q·n)-th smallest), 0 when empty.
double nearestRankQuantile(std::vector<double> values, double q);

class EventLoopWatchdog : public QObject {
    Q_OBJECT
public:
    struct Stats {
        int samples = 0;
        double p50Ms = 0, p99Ms = 0, maxMs = 0;  // lateness of the ticks, milliseconds
    };

    explicit EventLoopWatchdog(int intervalMs = 10, QObject* parent = nullptr);
    void start();
    void stop();
    void reset();
    Stats stats() const;
    // "event loop lateness over N ticks: p50 x ms, p99 y ms, max z ms"
    QString summary() const;

private:
    void onTick();

    int intervalMs_;
    QTimer timer_;
    QElapsedTimer clock_;
    qint64 lastNs_ = 0;
    std::vector<double> latenessMs_;
};

}  // namespace rlhf::ui
