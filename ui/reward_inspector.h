// RewardInspectorPanel — is this reward model good enough to spend a PPO run on? (issue 6 item 6)
// Pick a reward model (the exported `final` folder of one of the project's RM runs, or any folder)
// and a preference set (a dataset, or the human-labelled comparisons); `rlhf score` runs as a child
// process on an Engine job (engine_score.h) and streams its pairs here. The panel shows the
// chosen and rejected score histograms overlaid on the same bins, the margin distribution,
// accuracy overall and per slice (dataset, length bucket, annotator), and the pairs it gets most
// wrong (lowest margin first) with a detail view of prompt / chosen / rejected.
#pragma once
#include <QString>
#include <QVector>
#include <QWidget>

#include "ui/engine_score.h"

class QComboBox;
class QCustomPlot;
class QLabel;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTextBrowser;
class QTimer;

namespace rlhf::ui {

class Engine;

class RewardInspectorPanel : public QWidget {
    Q_OBJECT
public:
    static constexpr int kScoreBins = 30;     // bins of the score histograms
    static constexpr int kMarginBins = 30;    // bins of the margin histogram
    static constexpr int kWorstPairs = 100;   // rows of the most-wrong table
    static constexpr int kRefreshMs = 100;    // views redraw at most 10 times a second while pairs stream in
    static constexpr int kComparisonsItem = -1;  // set box data of the "comparisons" entry

    explicit RewardInspectorPanel(Engine* engine, QWidget* parent = nullptr);

    // Re-reads the project's reward-model runs and datasets (on projectOpened / projectDataChanged).
    void reload();
    // Starts `rlhf score` for the chosen model and set; returns the job id, or 0 (reason in the
    // summary label) when no project, model or set is chosen.
    int startScoring();
    void cancelScoring();
    int scoringJob() const { return job_; }
    // Shows the given pairs as if scored (tests, screenshots); addPairs is what the job calls.
    void setPairs(const QVector<ScoredPair>& pairs);
    void addPairs(const QVector<ScoredPair>& pairs);
    // Redraws plots and tables now instead of at the next refresh tick.
    void refreshViews();
    // Selects a row of the worst-pairs table (and fills the detail view).
    void showWorstPair(int row);

    const RewardStats& stats() const { return stats_; }
    QComboBox* modelBox() const { return model_; }
    QComboBox* setBox() const { return set_; }
    QSpinBox* limitBox() const { return limit_; }
    QComboBox* splitBox() const { return split_; }
    QPushButton* scoreButton() const { return score_; }
    QPushButton* cancelButton() const { return cancel_; }
    QLabel* summaryLabel() const { return summary_; }
    QTableWidget* sliceTable() const { return slices_; }
    QTableWidget* worstTable() const { return worst_; }
    QTextBrowser* detailView() const { return detail_; }
    QCustomPlot* scoresPlot() const { return scoresPlot_; }
    QCustomPlot* marginPlot() const { return marginPlot_; }
    // The pair index (into stats().pairs()) shown in each worst-table row.
    const QVector<int>& worstRows() const { return worstRows_; }

private:
    void scheduleRefresh();
    void updatePlots();
    void updateTables();
    void updateSummary();
    void setRunning(bool running);

    Engine* engine_;
    QComboBox* model_;
    QComboBox* set_;
    QSpinBox* limit_;
    QComboBox* split_;
    QPushButton* browse_;
    QPushButton* score_;
    QPushButton* cancel_;
    QLabel* summary_;
    QCustomPlot* scoresPlot_;
    QCustomPlot* marginPlot_;
    QTableWidget* slices_;
    QTableWidget* worst_;
    QTextBrowser* detail_;
    QTimer* refreshTimer_;
    RewardStats stats_;
    QVector<int> worstRows_;
    int job_ = 0;
    QString jobError_;
    bool reloadInFlight_ = false;
};

// Grabs the panel at 1400×900 into `path` (PNG): scores the project's newest reward-model run on
// its first preference dataset (waiting up to `timeoutMs` for `rlhf score`), shows the worst pair.
// Returns false (and leaves no file) when the project has no RM run or no preference dataset.
bool saveRewardInspectorScreenshot(Engine* engine, const QString& path, int timeoutMs = 300000);

}  // namespace rlhf::ui
