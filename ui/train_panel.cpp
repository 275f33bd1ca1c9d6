#include "ui/train_panel.h"

#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include <yaml-cpp/yaml.h>

#include "ui/engine.h"
#include "ui/live_plot.h"

namespace rlhf::ui {

namespace {
const QStringList kAlgos = {QStringLiteral("sft"), QStringLiteral("rm"), QStringLiteral("dpo"),
                            QStringLiteral("ppo"), QStringLiteral("grpo")};

// yaml-cpp gotchas: Node::operator= assigns through to the referenced node (so walk with reset),
// a non-const operator[] inserts missing keys (so look up through a const reference), and Clone
// drops the marks (line/column) that in-place edits need.
YAML::Node find(const YAML::Node& root, const std::vector<std::string>& path) {
    YAML::Node node;
    node.reset(root);
    for (const std::string& key : path) {
        const YAML::Node& current = node;
        if (!current.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
        const YAML::Node child = current[key];
        if (!child.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
        node.reset(child);
    }
    return node;
}

// Replaces the scalar at `path` in place, or inserts the key (and its parent block) when missing.
void setScalar(QStringList& lines, const YAML::Node& root, const std::vector<std::string>& path, const QString& value) {
    const YAML::Node node = find(root, path);
    if (node.IsDefined() && node.IsScalar() && node.Mark().line >= 0 && node.Mark().line < lines.size()) {
        QString& line = lines[node.Mark().line];
        const int col = node.Mark().column;
        // The scalar runs to a comment or the end of the line; keep what follows it.
        int end = int(line.size());
        const int hash = int(line.indexOf(QStringLiteral(" #"), col));
        if (hash >= 0) end = hash;
        while (end > col && line[end - 1].isSpace()) --end;
        line = line.left(col) + value + line.mid(end);
        return;
    }
    if (path.size() == 1) {
        lines << QStringLiteral("%1: %2").arg(QString::fromStdString(path[0]), value);
        return;
    }
    // Nested key: under its parent block when there is one, else a new block at the end.
    const YAML::Node parent = find(root, {path[0]});
    if (parent.IsDefined() && parent.IsMap() && parent.Mark().line >= 0) {
        int insertAt = parent.Mark().line;  // first child line; insert just before it, same indent
        const QString first = lines.value(insertAt);
        int indent = 0;
        while (indent < first.size() && first[indent] == QLatin1Char(' ')) ++indent;
        lines.insert(insertAt, QString(indent, QLatin1Char(' ')) + QStringLiteral("%1: %2").arg(QString::fromStdString(path[1]), value));
        return;
    }
    lines << QStringLiteral("%1:").arg(QString::fromStdString(path[0]));
    lines << QStringLiteral("  %1: %2").arg(QString::fromStdString(path[1]), value);
}
}  // namespace

bool readTrainForm(const QString& yaml, TrainForm* form, QString* error) {
    try {
        const YAML::Node root = YAML::Load(yaml.toStdString());
        auto str = [&](const std::vector<std::string>& p) {
            const YAML::Node n = find(root, p);
            return n.IsDefined() && n.IsScalar() ? QString::fromStdString(n.as<std::string>()) : QString();
        };
        auto num = [&](const std::vector<std::string>& p, double fallback) {
            const YAML::Node n = find(root, p);
            return n.IsDefined() && n.IsScalar() ? n.as<double>() : fallback;
        };
        form->algo = str({"algo"});
        form->name = str({"name"});
        form->policy = str({"model", "policy"});
        form->dataset = str({"data", "dataset"});
        form->lr = num({"optimizer", "lr"}, 1e-5);
        form->maxSteps = qint64(num({"max_steps"}, 0));
        form->batchSize = qint64(num({"batch_size"}, 8));
        return true;
    } catch (const YAML::Exception& e) {
        if (error) *error = QStringLiteral("line %1: %2").arg(e.mark.line + 1).arg(QString::fromStdString(e.msg));
        return false;
    }
}

QString applyTrainForm(const QString& yaml, const TrainForm& form) {
    const YAML::Node root = YAML::Load(yaml.toStdString());
    QStringList lines = yaml.split(QLatin1Char('\n'));
    if (!lines.isEmpty() && lines.last().isEmpty()) lines.removeLast();
    // Bottom-up by line so earlier replacements do not move later marks; insertions go last.
    struct Edit { std::vector<std::string> path; QString value; };
    std::vector<Edit> edits = {{{"algo"}, form.algo}, {{"name"}, form.name}, {{"model", "policy"}, form.policy},
                               {{"data", "dataset"}, form.dataset}, {{"optimizer", "lr"}, QString::number(form.lr, 'g', 6)},
                               {{"max_steps"}, QString::number(form.maxSteps)},
                               {{"batch_size"}, QString::number(form.batchSize)}};
    std::stable_sort(edits.begin(), edits.end(), [&](const Edit& a, const Edit& b) {
        const YAML::Node na = find(root, a.path), nb = find(root, b.path);
        const int la = na.IsDefined() ? na.Mark().line : -1, lb = nb.IsDefined() ? nb.Mark().line : -1;
        return la > lb;  // existing keys from the bottom up, missing ones (-1) last
    });
    for (const Edit& e : edits) {
        const bool exists = find(root, e.path).IsDefined();
        if (exists) {
            // In-place replacements keep every line number: the original parse serves them all.
            setScalar(lines, root, e.path, e.value);
        } else if (!e.value.isEmpty()) {
            // An insertion moves the lines below it: parse the current text again first.
            const YAML::Node now = YAML::Load(lines.join(QLatin1Char('\n')).toStdString());
            setScalar(lines, now, e.path, e.value);
        }
    }
    return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

TrainPanel::TrainPanel(Engine* engine, QWidget* parent) : QWidget(parent), engine_(engine) {
    setObjectName(QStringLiteral("trainPanel"));
    template_ = new QComboBox(this);
    template_->addItems(kAlgos);
    auto* load = new QPushButton(tr("Load example"), this);
    algo_ = new QComboBox(this);
    algo_->addItems(kAlgos);
    name_ = new QLineEdit(this);
    policy_ = new QLineEdit(this);
    policy_->setPlaceholderText(tr("model folder (config.json, *.safetensors, tokenizer.json)"));
    dataset_ = new QLineEdit(this);
    lr_ = new QDoubleSpinBox(this);
    lr_->setDecimals(8);
    lr_->setRange(0, 1);
    lr_->setSingleStep(1e-6);
    maxSteps_ = new QSpinBox(this);
    maxSteps_->setRange(0, 10000000);
    maxSteps_->setSpecialValueText(tr("0 (by epochs)"));
    batchSize_ = new QSpinBox(this);
    batchSize_->setRange(1, 65536);
    auto* form = new QFormLayout;
    auto* tplRow = new QHBoxLayout;
    tplRow->addWidget(template_, 1);
    tplRow->addWidget(load);
    form->addRow(tr("Example"), tplRow);
    form->addRow(tr("Algorithm"), algo_);
    form->addRow(tr("Run name"), name_);
    form->addRow(tr("Policy model"), policy_);
    form->addRow(tr("Dataset"), dataset_);
    form->addRow(tr("Learning rate"), lr_);
    form->addRow(tr("Max steps"), maxSteps_);
    form->addRow(tr("Batch size"), batchSize_);
    auto* apply = new QPushButton(tr("Apply form → YAML"), this);
    auto* validateButton = new QPushButton(tr("&Validate"), this);
    startButton_ = new QPushButton(tr("&Start"), this);
    stopButton_ = new QPushButton(tr("S&top"), this);
    resumeButton_ = new QPushButton(tr("&Resume"), this);
    stopButton_->setEnabled(false);
    auto* buttons = new QHBoxLayout;
    for (QPushButton* b : {apply, validateButton, startButton_, stopButton_, resumeButton_}) buttons->addWidget(b);
    status_ = new QLabel(this);
    status_->setObjectName(QStringLiteral("trainStatus"));
    status_->setWordWrap(true);
    auto* formBox = new QWidget(this);
    auto* fv = new QVBoxLayout(formBox);
    fv->setContentsMargins(0, 0, 0, 0);
    fv->addLayout(form);
    fv->addLayout(buttons);
    fv->addWidget(status_);
    fv->addStretch(1);

    yaml_ = new QPlainTextEdit(this);
    yaml_->setObjectName(QStringLiteral("yamlEditor"));
    QFont mono(QStringLiteral("monospace"));
    mono.setStyleHint(QFont::Monospace);
    yaml_->setFont(mono);
    yaml_->setLineWrapMode(QPlainTextEdit::NoWrap);
    plot_ = new LivePlot(this);

    auto* left = new QSplitter(Qt::Vertical, this);
    left->addWidget(formBox);
    left->addWidget(yaml_);
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(plot_);
    split->setSizes({480, 800});
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);

    connect(load, &QPushButton::clicked, this, [this] { loadTemplate(template_->currentText()); });
    connect(apply, &QPushButton::clicked, this, &TrainPanel::applyForm);
    connect(validateButton, &QPushButton::clicked, this, &TrainPanel::validate);
    connect(startButton_, &QPushButton::clicked, this, [this] { start(false); });
    connect(resumeButton_, &QPushButton::clicked, this, [this] { start(true); });
    connect(stopButton_, &QPushButton::clicked, this, &TrainPanel::stop);
    connect(engine_, &Engine::jobMetrics, this, [this](int id, const QVector<MetricPoint>& points) {
        if (id != jobId_) return;
        for (const MetricPoint& p : points) {
            const bool isNew = plot_->pointCount(p.series) == 0;
            plot_->appendPoint(p.series, double(p.step), p.wallTime, p.value);
            if (isNew) {
                // Scales differ (loss ~1, learning rate ~1e-5): show the headline metrics, the
                // rest are a legend click away.
                const QString metric = p.series.section(QLatin1Char('/'), 1);
                const bool headline = metric == QStringLiteral("loss") || metric.startsWith(QStringLiteral("objective/scores"))
                                      || metric == QStringLiteral("reward") || metric == QStringLiteral("accuracy");
                plot_->flushNow();
                plot_->setSeriesVisible(p.series, headline);
            }
        }
    });
    connect(engine_, &Engine::jobProgress, this, [this](int id, qint64 done, qint64 total, double rate, double eta) {
        if (id == jobId_) status_->setText(tr("Training: %1").arg(formatProgress(done, total, rate, eta)));
    });
    connect(engine_, &Engine::jobEnded, this, [this](int id, JobOutcome outcome) {
        if (id != jobId_) return;
        startButton_->setEnabled(true);
        resumeButton_->setEnabled(true);
        stopButton_->setEnabled(false);
        if (outcome == JobOutcome::Finished) status_->setText(tr("Training finished."));
        if (outcome == JobOutcome::Cancelled) status_->setText(tr("Training stopped; Resume continues from the last checkpoint."));
    });
    connect(engine_, &Engine::jobFailed, this, [this](int id, const QString& error) {
        if (id == jobId_) status_->setText(tr("Training failed: %1").arg(error));
    });
    loadTemplate(QStringLiteral("sft"));
}

void TrainPanel::loadTemplate(const QString& algo) {
    QFile f(QDir(QStringLiteral(RLHF_RESOURCES_DIR)).filePath(QStringLiteral("configs/%1.yaml").arg(algo)));
    if (f.open(QIODevice::ReadOnly)) {
        yaml_->setPlainText(QString::fromUtf8(f.readAll()));
    } else {
        yaml_->setPlainText(QStringLiteral("algo: %1\nname: %1-run\nmodel:\n  policy: \ndata:\n  dataset: \n").arg(algo));
    }
    fillForm();
}

void TrainPanel::fillForm() {
    TrainForm form;
    QString error;
    if (!readTrainForm(yaml_->toPlainText(), &form, &error)) {
        status_->setText(tr("YAML: %1").arg(error));
        return;
    }
    algo_->setCurrentText(form.algo);
    name_->setText(form.name);
    policy_->setText(form.policy);
    dataset_->setText(form.dataset);
    lr_->setValue(form.lr);
    maxSteps_->setValue(int(form.maxSteps));
    batchSize_->setValue(int(form.batchSize));
}

void TrainPanel::applyForm() {
    TrainForm form;
    form.algo = algo_->currentText();
    form.name = name_->text().trimmed();
    form.policy = policy_->text().trimmed();
    form.dataset = dataset_->text().trimmed();
    form.lr = lr_->value();
    form.maxSteps = maxSteps_->value();
    form.batchSize = batchSize_->value();
    try {
        yaml_->setPlainText(applyTrainForm(yaml_->toPlainText(), form));
        status_->setText(tr("Form applied to the YAML."));
    } catch (const YAML::Exception& e) {
        status_->setText(tr("YAML: line %1: %2").arg(e.mark.line + 1).arg(QString::fromStdString(e.msg)));
    }
}

bool TrainPanel::validate() {
    const QString error = Engine::validateTrainConfig(yaml_->toPlainText());
    if (!error.isEmpty()) {
        status_->setText(tr("Invalid: %1").arg(error));
        status_->setToolTip(QString());
        return false;
    }
    // The estimate is a warning, not a veto: it is approximate, and swap or a smaller real
    // footprint may still let the run through.
    const Engine::MemoryCheck memory = engine_->estimateTrainMemory(yaml_->toPlainText());
    status_->setText(tr("Config is valid. %1%2").arg(memory.text,
                                                      memory.fits ? QString() : tr(" — the run may not fit!")));
    status_->setToolTip(memory.details);
    return true;
}

int TrainPanel::start(bool resume) {
    if (!validate()) return 0;
    plot_->clear();
    jobId_ = engine_->startTraining(yaml_->toPlainText(), resume);
    startButton_->setEnabled(false);
    resumeButton_->setEnabled(false);
    stopButton_->setEnabled(true);
    status_->setText(tr("Starting…"));
    return jobId_;
}

void TrainPanel::stop() {
    if (jobId_) engine_->cancelJob(jobId_);
}

QString TrainPanel::statusText() const { return status_->text(); }

}  // namespace rlhf::ui
