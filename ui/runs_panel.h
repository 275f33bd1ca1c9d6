// RunsPanel — the project's runs with their state, a LivePlot of the selected runs' metrics polled
// incrementally from the store (only points after the last step each run has shown), the metric
// names to overlay (DESIGN.md §5: loss, objective/scores, objective/kl, …), and the samples the
// run logged at a clicked step. Clicking a plot point also opens the RolloutView window on that
// step's rollouts (tokens shaded by KL / advantage, rollout_view.h).
#pragma once
#include <QHash>
#include <QSet>
#include <QWidget>

class QDialog;
class QListWidget;
class QTableWidget;
class QTimer;
class QTreeWidget;

namespace rlhf::ui {

class Engine;
class LivePlot;
class RolloutView;

class RunsPanel : public QWidget {
    Q_OBJECT
public:
    static constexpr int kPollMs = 250;

    explicit RunsPanel(Engine* engine, QWidget* parent = nullptr);
    LivePlot* plot() const { return plot_; }
    QTreeWidget* runList() const { return runs_; }
    QTableWidget* samplesTable() const { return samples_; }
    QListWidget* metricList() const { return metrics_; }
    void refreshRuns();
    void poll();
    void selectRun(qint64 runId);
    void showSamples(qint64 runId, qint64 step);
    // Opens (or raises) the rollout window on the samples of `step` (or of the next step that
    // logged any), read on the reader thread.
    void openRollouts(qint64 runId, qint64 step);
    RolloutView* rolloutView() const { return rolloutView_; }
    QDialog* rolloutWindow() const { return rolloutWindow_; }

private:
    struct Watched {
        QString name;
        qint64 lastStep = -1;
        bool inFlight = false;
        double t0 = -1;  // wall time of the run's first point (x = 0 on the wall-time axis)
        quint64 token = 0;  // a reply for an older watch of the same run is ignored
    };
    void onSelectionChanged();
    void addMetricName(const QString& metric);
    bool metricChecked(const QString& metric) const;
    void applyMetricVisibility();

    Engine* engine_;
    QTreeWidget* runs_;
    QListWidget* metrics_;
    LivePlot* plot_;
    QTableWidget* samples_;
    QTimer* pollTimer_;
    QDialog* rolloutWindow_ = nullptr;  // created on first use; a separate window, not modal
    RolloutView* rolloutView_ = nullptr;
    QHash<qint64, Watched> watched_;  // run id -> what the plot has of it
    QSet<QString> metricNames_;
    bool runsInFlight_ = false;
    quint64 nextToken_ = 1;
};

}  // namespace rlhf::ui
