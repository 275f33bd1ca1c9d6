// TrainPanel — the training launcher: a form over the run's YAML config (algorithm, name, model,
// dataset, learning rate, steps, batch size) and the YAML itself, editable. Form edits are staged
// and applied to the YAML with a button (no feedback loop; comments in the YAML survive). Start
// runs `rlhf train CONFIG --project DIR` on a worker (Engine::startTraining): the CLI's one JSON
// line per step becomes progress and live plot points; Stop cancels (the child is terminated);
// Resume starts it again with --resume.
#pragma once
#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace rlhf::ui {

class Engine;
class LivePlot;

// Form fields of a config, read from / written into YAML text.
struct TrainForm {
    QString algo, name, policy, dataset;
    double lr = 0;
    qint64 maxSteps = 0, batchSize = 0;
};
// Reads the form fields; false (and `error` = "line N: …") when the YAML does not parse.
bool readTrainForm(const QString& yaml, TrainForm* form, QString* error);
// Writes the form fields into the YAML: a key that exists has its value replaced in place (its
// line's comment kept); a missing one is added. Returns the new text.
QString applyTrainForm(const QString& yaml, const TrainForm& form);

class TrainPanel : public QWidget {
    Q_OBJECT
public:
    explicit TrainPanel(Engine* engine, QWidget* parent = nullptr);
    QPlainTextEdit* yamlEditor() const { return yaml_; }
    LivePlot* plot() const { return plot_; }
    void loadTemplate(const QString& algo);
    bool validate();  // shows the verdict; true when the config is valid
    int start(bool resume = false);
    void stop();
    int jobId() const { return jobId_; }
    QString statusText() const;

private:
    void fillForm();
    void applyForm();

    Engine* engine_;
    QComboBox* template_;
    QComboBox* algo_;
    QLineEdit* name_;
    QLineEdit* policy_;
    QLineEdit* dataset_;
    QDoubleSpinBox* lr_;
    QSpinBox* maxSteps_;
    QSpinBox* batchSize_;
    QPlainTextEdit* yaml_;
    QLabel* status_;
    QPushButton* startButton_;
    QPushButton* stopButton_;
    QPushButton* resumeButton_;
    LivePlot* plot_;
    int jobId_ = 0;
};

}  // namespace rlhf::ui
