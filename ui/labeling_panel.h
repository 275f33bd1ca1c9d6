// LabelingPanel — pairwise preference labeling, keyboard first. The store's comparison decides
// which completion is shown on the left (randomised at creation, against position bias); the
// keys name screen sides and are mapped back to the comparison's A/B before storing:
//   1 or ←: left better   2 or →: right better   3: tie   4: both bad   S: skip
//   Ctrl+Z: undo the last label   Tab: rationale field (Enter or Esc returns to the keys)
// A label is committed durably (Project::add_label returns after a synchronous=FULL commit)
// before the next pair is shown, so what the screen acknowledged survives a crash.
//
// Generate pairs (issue 6 item 3): a prompt set, model A and an optional model B (else two
// samples of A), a count and sampling; `rlhf pairs` runs as a child on a worker (PairGenerator,
// engine_pairs.h) and each comparison it stores reaches the queue at once, so labeling starts
// with the first pair; below the low-water mark of unlabelled pairs the next batch starts by
// itself. Pre-labels (machine annotators, "simulated:...") are a separate, toggleable hint
// and never count as this annotator's label or in the win rate, which counts human labels only.
#pragma once
#include <QElapsedTimer>
#include <QWidget>

#include <optional>

#include <QHash>
#include <QPair>
#include <QVector>

#include "core/store/types.h"
#include "ui/engine_pairs.h"
#include "ui/win_rate.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTextBrowser;

namespace rlhf::ui {

class Engine;

class LabelingPanel : public QWidget {
    Q_OBJECT
public:
    enum class Side { Left, Right, Tie, BothBad, Skip };

    explicit LabelingPanel(Engine* engine, QWidget* parent = nullptr);

    void setAnnotator(const QString& name);
    QString annotator() const;
    qint64 annotatorId() const { return annotatorId_; }
    // The comparison on screen (nullopt when none is left).
    const std::optional<store::ComparisonView>& current() const { return current_; }
    // Labels the pair on screen; returns the stored label id (0 when nothing is shown).
    qint64 choose(Side side);
    bool undo();
    void showNext();
    int labelsThisSession() const { return sessionLabels_; }
    QLineEdit* rationaleField() const { return rationale_; }
    QString progressText() const;
    QString winRateText() const;
    // Agreement between the human annotators who labelled the same comparisons, one line per pair:
    // "alice – bob: 10 shared, 70.0% agree, κ 0.571" (Cohen's kappa over A/B/tie/both bad).
    QString agreementText() const { return agreementText_; }
    void refreshWinRate();
    // The store's verdict for a screen side given which completion is on the left.
    static store::Choice choiceFor(Side side, bool aOnLeft);

    // ---- generating pairs
    PairGenerator* generator() const { return generator_; }
    // The request the form describes, and the form set from one (tests, restoring a session).
    PairsRequest pairsRequest() const;
    void setPairsRequest(const PairsRequest& request, int lowWater);
    // Starts generation from the form (the Generate button); returns the job id or 0.
    int startGeneration();
    // Comparisons this annotator has no label on (the queue), from the GUI connection's counts.
    qint64 unlabeledCount();
    // Model folders of the open project: models/* and runs/*/final holding a config.json;
    // reward models (…ForSequenceClassification) are listed apart.
    static QStringList projectModelFolders(const QString& projectDir, bool rewardModels);
    // The pre-label hint for the pair on screen ("" when none or hidden), e.g.
    // "Pre-label (not yours): lexicon-judge prefers LEFT".
    QString prelabelHint() const;
    void setPrelabelsVisible(bool visible);

Q_SIGNALS:
    // After the label is committed and before the next pair is shown.
    void labelCommitted(qint64 labelId, qint64 comparisonId, const QString& choice);
    void undone(qint64 labelId);
    void winRateChanged(const QString& text);

protected:
    void keyPressEvent(QKeyEvent* event) override;
    bool focusNextPrevChild(bool next) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void reloadAnnotators();
    void updateProgress();
    void reloadModelChoices();
    void updatePrelabelHint();
    void afterQueueChange();  // progress text + low-water check
    void onPairStored(const GeneratedPair& pair);

    Engine* engine_;
    QComboBox* annotatorBox_;
    QComboBox* datasetBox_;
    QSpinBox* pairCount_;
    QLabel* progress_;
    QLabel* winRate_;
    QLabel* agreement_;
    QTextBrowser* prompt_;
    QTextBrowser* left_;
    QTextBrowser* right_;
    QLabel* leftTitle_;
    QLabel* rightTitle_;
    QLineEdit* rationale_;
    QLabel* empty_;
    qint64 annotatorId_ = 0;
    std::optional<store::ComparisonView> current_;
    QElapsedTimer shownFor_;
    QElapsedTimer session_;
    int sessionLabels_ = 0;
    qint64 labelledTotal_ = 0;
    QString winRateText_;
    QString agreementText_;

    // generation form
    PairGenerator* generator_;
    QComboBox* promptsBox_;
    QComboBox* modelABox_;
    QComboBox* modelBBox_;
    QSpinBox* genCount_;
    QDoubleSpinBox* temperature_;
    QSpinBox* maxNewTokens_;
    QComboBox* prelabelBox_;
    QSpinBox* lowWater_;
    QPushButton* generateButton_;
    QPushButton* stopButton_;
    QLabel* genStatus_;
    // pre-labels: comparison id -> (machine annotator, choice "A" | "B" | "tie" | ...)
    QCheckBox* showPrelabels_;
    QLabel* prelabelHint_;
    QHash<qint64, QVector<QPair<QString, QString>>> prelabels_;
};

}  // namespace rlhf::ui
