// LivePlot — a QCustomPlot for metrics that arrive while a job runs. Producers (any thread) append
// under a mutex; one 40 ms single-shot timer drains the pending points into the graphs and
// replots, so redraws stay ≤ 25 Hz however fast points come (PlotJuggler's pattern). Several
// series (runs × metrics) overlay; EMA smoothing (TensorBoard's debiased form) draws over a faint
// raw line; x is the step or the wall time; drag to pan, wheel to zoom, double-click to fit and
// follow again; hover shows the nearest value; a click emits pointClicked(series, step).
#pragma once
#include <QHash>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <QVector>
#include <QWidget>

#include <mutex>
#include <vector>

#include "ui/smoothing.h"

class QCustomPlot;
class QCPGraph;
class QComboBox;
class QLabel;
class QMouseEvent;
class QSlider;

namespace rlhf::ui {

class LivePlot : public QWidget {
    Q_OBJECT
public:
    enum class XAxis { Step, WallTime };
    static constexpr int kReplotIntervalMs = 40;  // one replot per 40 ms at most (≤ 25 Hz)

    explicit LivePlot(QWidget* parent = nullptr);
    ~LivePlot() override;

    // Thread-safe: callable from any thread; the point shows at the next replot.
    void appendPoint(const QString& series, double step, double wallTime, double value);

    // GUI thread only.
    void clear();
    void removeSeries(const QString& series);
    // Removes every series whose name starts with `prefix`, pending points included.
    void removeSeriesWithPrefix(const QString& prefix);
    void setSeriesVisible(const QString& series, bool visible);
    void setSmoothing(double weight);  // 0 (raw) .. 0.99
    double smoothing() const { return smoothing_; }
    void setXAxis(XAxis axis);
    XAxis xAxis() const { return xAxis_; }
    void setTitle(const QString& title);
    void flushNow();  // drain pending points and replot immediately (tests, export)
    bool exportPng(const QString& path, int width = 0, int height = 0);
    // CSV with a header: series,step,wall_time,value,smoothed — one row per point.
    bool exportCsv(const QString& path);

    QStringList seriesNames() const;
    int pointCount(const QString& series) const;  // drained points only
    int replotCount() const { return replotCount_; }
    // The nearest point to a widget position of the plot area, within `maxPixels`; false if none.
    bool nearestPoint(const QPoint& pos, QString* series, double* step, double* value,
                      double maxPixels = 8) const;
    QCustomPlot* plot() const { return plot_; }
    // Pixel position (in plot() coordinates) of a drained point, for tests that click on it.
    QPoint pixelOf(const QString& series, int index) const;

Q_SIGNALS:
    void pointClicked(const QString& series, qint64 step);

private:
    struct Series {
        QString name;
        std::vector<double> step, wall, value, smoothed;
        Ema ema;
        QCPGraph* raw = nullptr;
        QCPGraph* smooth = nullptr;
        bool visible = true;
    };
    struct Pending {
        QString series;
        double step, wall, value;
    };

    void scheduleReplot();
    void drain();
    void replotNow();
    Series& seriesFor(const QString& name);
    void rebuildGraphs(Series& s);
    void applyStyle(Series& s, int colorIndex);
    const std::vector<double>& xs(const Series& s) const;
    void onMouseMove(QMouseEvent* event);
    void onMousePress(QMouseEvent* event);
    void onMouseRelease(QMouseEvent* event);

    QCustomPlot* plot_;
    QSlider* smoothingSlider_;
    QLabel* smoothingLabel_;
    QComboBox* xAxisBox_;
    QTimer replotTimer_;

    std::mutex pendingMutex_;  // guards pending_ and replotQueued_
    std::vector<Pending> pending_;
    bool replotQueued_ = false;

    std::vector<Series> series_;  // GUI thread only
    QHash<QString, int> index_;
    double smoothing_ = 0.6;
    XAxis xAxis_ = XAxis::Step;
    bool follow_ = true;  // rescale to fit on new data until the user pans/zooms
    int replotCount_ = 0;
    QPoint pressPos_;
};

}  // namespace rlhf::ui
