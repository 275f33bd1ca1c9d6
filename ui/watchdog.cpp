#include "ui/watchdog.h"

#include <algorithm>
#include <cmath>

namespace rlhf::ui {

double nearestRankQuantile(std::vector<double> values, double q) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * double(values.size()));
    const size_t index = rank < 1 ? 0 : size_t(rank) - 1;
    return values[std::min(index, values.size() - 1)];
}

EventLoopWatchdog::EventLoopWatchdog(int intervalMs, QObject* parent)
    : QObject(parent), intervalMs_(intervalMs) {
    // PreciseTimer: the default CoarseTimer may fire up to 5% early/late by design, which would
    // read as lateness that is not the loop's fault.
    timer_.setTimerType(Qt::PreciseTimer);
    timer_.setInterval(intervalMs_);
    connect(&timer_, &QTimer::timeout, this, &EventLoopWatchdog::onTick);
}

void EventLoopWatchdog::start() {
    clock_.start();
    lastNs_ = 0;
    timer_.start();
}

void EventLoopWatchdog::stop() { timer_.stop(); }

void EventLoopWatchdog::reset() { latenessMs_.clear(); }

void EventLoopWatchdog::onTick() {
    const qint64 now = clock_.nsecsElapsed();
    const double gapMs = double(now - lastNs_) / 1e6;
    lastNs_ = now;
    latenessMs_.push_back(std::max(0.0, gapMs - intervalMs_));
}

EventLoopWatchdog::Stats EventLoopWatchdog::stats() const {
    Stats s;
    s.samples = int(latenessMs_.size());
    s.p50Ms = nearestRankQuantile(latenessMs_, 0.50);
    s.p99Ms = nearestRankQuantile(latenessMs_, 0.99);
    s.maxMs = latenessMs_.empty() ? 0 : *std::max_element(latenessMs_.begin(), latenessMs_.end());
    return s;
}

QString EventLoopWatchdog::summary() const {
    const Stats s = stats();
    return QStringLiteral("event loop lateness over %1 ticks of %2 ms: p50 %3 ms, p99 %4 ms, max %5 ms")
        .arg(s.samples).arg(intervalMs_).arg(s.p50Ms, 0, 'f', 2).arg(s.p99Ms, 0, 'f', 2)
        .arg(s.maxMs, 0, 'f', 2);
}

}  // namespace rlhf::ui
