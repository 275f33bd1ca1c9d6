// JobsWidget — the jobs area in the status bar: one row per running job with its name, a
// progress bar, "done/total · rate/s · ETA" and a Cancel button. Rows leave a few seconds after the
// job ends (a failure stays until dismissed, so the error is not missed).
#pragma once
#include <QHash>
#include <QWidget>

class QHBoxLayout;
class QLabel;
class QProgressBar;
class QToolButton;

namespace rlhf::ui {

class Engine;
enum class JobOutcome;

class JobsWidget : public QWidget {
    Q_OBJECT
public:
    static constexpr int kLingerMs = 4000;  // how long a finished row stays visible

    explicit JobsWidget(Engine* engine, QWidget* parent = nullptr);
    int rowCount() const { return int(rows_.size()); }
    QString rowText(int jobId) const;  // the progress text of a row ("" when none)

private:
    struct Row {
        QWidget* box = nullptr;
        QLabel* name = nullptr;
        QProgressBar* bar = nullptr;
        QLabel* text = nullptr;
        QToolButton* cancel = nullptr;
    };
    void addRow(int id, const QString& name);
    void endRow(int id, JobOutcome outcome, const QString& error);
    void removeRow(int id);

    Engine* engine_;
    QHBoxLayout* layout_;
    QHash<int, Row> rows_;
};

}  // namespace rlhf::ui
