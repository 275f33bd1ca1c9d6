#include "ui/labeling_panel.h"

#include <cmath>

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMap>
#include <QPointer>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QTextBrowser>
#include <QVBoxLayout>

#include <algorithm>

#include "core/store/project.h"
#include "ui/engine.h"
#include "ui/record_text.h"

namespace rlhf::ui {

namespace {
const QString kAnnotatorsKey = QStringLiteral("labeling/annotators");
const QString kAnnotatorKey = QStringLiteral("labeling/annotator");

QTextBrowser* pane(QWidget* parent, const QString& name) {
    auto* p = new QTextBrowser(parent);
    p->setObjectName(name);
    p->setFocusPolicy(Qt::NoFocus);  // keys stay with the panel
    return p;
}

// A model folder holds config.json; a reward model's names a …ForSequenceClassification head.
bool isModelFolder(const QString& dir, bool* rewardModel) {
    QFile config(QDir(dir).filePath(QStringLiteral("config.json")));
    if (!config.open(QIODevice::ReadOnly)) return false;
    *rewardModel = config.read(1 << 16).contains("ForSequenceClassification");
    return true;
}

QString defaultAnnotator() {
    const QString user = qEnvironmentVariable("USER");
    return user.isEmpty() ? QStringLiteral("annotator") : user;
}
}  // namespace

store::Choice LabelingPanel::choiceFor(Side side, bool aOnLeft) {
    switch (side) {
    case Side::Left: return aOnLeft ? store::Choice::A : store::Choice::B;
    case Side::Right: return aOnLeft ? store::Choice::B : store::Choice::A;
    case Side::Tie: return store::Choice::Tie;
    case Side::BothBad: return store::Choice::BothBad;
    case Side::Skip: break;
    }
    return store::Choice::Skip;
}

LabelingPanel::LabelingPanel(Engine* engine, QWidget* parent) : QWidget(parent), engine_(engine) {
    setObjectName(QStringLiteral("labelingPanel"));
    setFocusPolicy(Qt::StrongFocus);

    annotatorBox_ = new QComboBox(this);
    annotatorBox_->setObjectName(QStringLiteral("annotatorBox"));
    annotatorBox_->setEditable(true);
    annotatorBox_->setMinimumWidth(140);
    annotatorBox_->setToolTip(tr("Annotator profile: type a new name to add one"));
    datasetBox_ = new QComboBox(this);
    datasetBox_->setMinimumWidth(160);
    pairCount_ = new QSpinBox(this);
    pairCount_->setRange(1, 1000000);
    pairCount_->setValue(100);
    auto* make = new QPushButton(tr("Make comparisons"), this);
    make->setToolTip(tr("Turn preference pairs of the dataset into comparisons to label (sides by a random coin)"));
    progress_ = new QLabel(this);
    progress_->setObjectName(QStringLiteral("labelProgress"));
    winRate_ = new QLabel(this);
    winRate_->setObjectName(QStringLiteral("winRate"));
    agreement_ = new QLabel(this);
    agreement_->setObjectName(QStringLiteral("agreement"));
    for (QWidget* w : std::initializer_list<QWidget*>{annotatorBox_, datasetBox_, pairCount_, make}) {
        w->setFocusPolicy(Qt::ClickFocus);
    }
    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Annotator"), this));
    top->addWidget(annotatorBox_);
    top->addSpacing(16);
    top->addWidget(new QLabel(tr("From dataset"), this));
    top->addWidget(datasetBox_);
    top->addWidget(pairCount_);
    top->addWidget(make);
    top->addStretch(1);
    top->addWidget(progress_);

    // ---- generate pairs
    generator_ = new PairGenerator(engine_, this);
    auto* genBox = new QGroupBox(tr("Generate pairs"), this);
    genBox->setObjectName(QStringLiteral("generateBox"));
    promptsBox_ = new QComboBox(genBox);
    promptsBox_->setObjectName(QStringLiteral("pairsPrompts"));
    promptsBox_->setToolTip(tr("Prompt set: prompts, preference or SFT dataset (prompts already compared for these models are skipped)"));
    promptsBox_->setMinimumWidth(140);
    modelABox_ = new QComboBox(genBox);
    modelABox_->setObjectName(QStringLiteral("pairsModelA"));
    modelBBox_ = new QComboBox(genBox);
    modelBBox_->setObjectName(QStringLiteral("pairsModelB"));
    for (QComboBox* box : {modelABox_, modelBBox_}) {
        box->setEditable(true);
        box->setMinimumWidth(180);
        box->setInsertPolicy(QComboBox::NoInsert);
    }
    modelABox_->setToolTip(tr("Model A: a model folder (the project's models/ and runs/*/final are listed)"));
    modelBBox_->setToolTip(tr("Model B: empty = two samples of model A with different seeds"));
    modelBBox_->lineEdit()->setPlaceholderText(tr("(two samples of A)"));
    auto browse = [this](QComboBox* box) {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Model folder"), engine_->projectDir());
        if (!dir.isEmpty()) box->setEditText(dir);
    };
    auto* browseA = new QPushButton(tr("…"), genBox);
    auto* browseB = new QPushButton(tr("…"), genBox);
    browseA->setToolTip(tr("Browse for model A's folder"));
    browseB->setToolTip(tr("Browse for model B's folder"));
    connect(browseA, &QPushButton::clicked, this, [this, browse] { browse(modelABox_); });
    connect(browseB, &QPushButton::clicked, this, [this, browse] { browse(modelBBox_); });
    genCount_ = new QSpinBox(genBox);
    genCount_->setObjectName(QStringLiteral("pairsCount"));
    genCount_->setRange(1, 100000);
    genCount_->setValue(8);
    genCount_->setToolTip(tr("Comparisons per batch"));
    temperature_ = new QDoubleSpinBox(genBox);
    temperature_->setObjectName(QStringLiteral("pairsTemperature"));
    temperature_->setRange(-0.1, 5.0);
    temperature_->setSingleStep(0.1);
    temperature_->setDecimals(2);
    temperature_->setSpecialValueText(tr("model default"));
    temperature_->setValue(1.0);
    temperature_->setToolTip(tr("Sampling temperature (0 = greedy, needs a model B)"));
    maxNewTokens_ = new QSpinBox(genBox);
    maxNewTokens_->setObjectName(QStringLiteral("pairsMaxNewTokens"));
    maxNewTokens_->setRange(0, 32768);
    maxNewTokens_->setSpecialValueText(tr("model default"));
    maxNewTokens_->setToolTip(tr("New tokens per completion at most"));
    prelabelBox_ = new QComboBox(genBox);
    prelabelBox_->setObjectName(QStringLiteral("pairsPrelabel"));
    prelabelBox_->setToolTip(tr("Machine pre-labels, stored apart from human labels and shown only as a hint"));
    lowWater_ = new QSpinBox(genBox);
    lowWater_->setObjectName(QStringLiteral("pairsLowWater"));
    lowWater_->setRange(0, 100000);
    lowWater_->setValue(4);
    lowWater_->setSpecialValueText(tr("off"));
    lowWater_->setToolTip(tr("Start the next batch by itself when fewer unlabelled pairs than this remain"));
    generateButton_ = new QPushButton(tr("Generate"), genBox);
    generateButton_->setObjectName(QStringLiteral("pairsGenerate"));
    stopButton_ = new QPushButton(tr("Stop"), genBox);
    stopButton_->setObjectName(QStringLiteral("pairsStop"));
    stopButton_->setEnabled(false);
    genStatus_ = new QLabel(genBox);
    genStatus_->setObjectName(QStringLiteral("pairsStatus"));
    for (QWidget* w : std::initializer_list<QWidget*>{promptsBox_, modelABox_, modelBBox_, browseA, browseB, genCount_,
                                                      temperature_, maxNewTokens_, prelabelBox_, lowWater_,
                                                      generateButton_, stopButton_}) {
        w->setFocusPolicy(Qt::ClickFocus);  // the labeling keys stay with the panel
    }
    auto* gen = new QGridLayout(genBox);
    gen->addWidget(new QLabel(tr("Prompts"), genBox), 0, 0);
    gen->addWidget(promptsBox_, 0, 1);
    gen->addWidget(new QLabel(tr("Model A"), genBox), 0, 2);
    gen->addWidget(modelABox_, 0, 3);
    gen->addWidget(browseA, 0, 4);
    gen->addWidget(new QLabel(tr("Model B"), genBox), 0, 5);
    gen->addWidget(modelBBox_, 0, 6);
    gen->addWidget(browseB, 0, 7);
    gen->addWidget(new QLabel(tr("Count"), genBox), 1, 0);
    gen->addWidget(genCount_, 1, 1);
    auto* sampling = new QHBoxLayout;
    sampling->addWidget(new QLabel(tr("Temperature"), genBox));
    sampling->addWidget(temperature_);
    sampling->addWidget(new QLabel(tr("Max new tokens"), genBox));
    sampling->addWidget(maxNewTokens_);
    sampling->addWidget(new QLabel(tr("Pre-labels"), genBox));
    sampling->addWidget(prelabelBox_);
    sampling->addWidget(new QLabel(tr("Refill below"), genBox));
    sampling->addWidget(lowWater_);
    sampling->addStretch(1);
    gen->addLayout(sampling, 1, 2, 1, 6);
    auto* run = new QHBoxLayout;
    run->addWidget(generateButton_);
    run->addWidget(stopButton_);
    run->addWidget(genStatus_, 1);
    gen->addLayout(run, 2, 0, 1, 8);
    gen->setColumnStretch(3, 1);
    gen->setColumnStretch(6, 1);
    connect(generateButton_, &QPushButton::clicked, this, [this] { startGeneration(); });
    connect(stopButton_, &QPushButton::clicked, this, [this] { generator_->stop(); });
    connect(generator_, &PairGenerator::pairStored, this, &LabelingPanel::onPairStored);
    connect(generator_, &PairGenerator::batchStarted, this, [this] {
        stopButton_->setEnabled(true);
        genStatus_->setText(tr("Generating batch %1…").arg(generator_->batchesStarted()));
    });
    connect(generator_, &PairGenerator::batchEnded, this, [this](int stored, const QString& error) {
        stopButton_->setEnabled(generator_->isRunning());
        if (!error.isEmpty()) genStatus_->setText(tr("Generation failed: %1").arg(error));
        else if (generator_->exhausted()) genStatus_->setText(tr("%1 pairs generated; no unused prompt left in this set").arg(generator_->storedTotal()));
        else genStatus_->setText(tr("%1 pairs generated (last batch %2)").arg(generator_->storedTotal()).arg(stored));
        afterQueueChange();  // a batch short of the mark is followed by the next one
    });

    showPrelabels_ = new QCheckBox(tr("Show pre-labels"), this);
    showPrelabels_->setObjectName(QStringLiteral("showPrelabels"));
    showPrelabels_->setChecked(true);
    showPrelabels_->setFocusPolicy(Qt::ClickFocus);
    showPrelabels_->setToolTip(tr("Machine pre-labels (rule or reward model): a hint, never counted as your label"));
    prelabelHint_ = new QLabel(this);
    prelabelHint_->setObjectName(QStringLiteral("prelabelHint"));
    prelabelHint_->setStyleSheet(QStringLiteral("color: palette(mid); font-style: italic"));
    connect(showPrelabels_, &QCheckBox::toggled, this, [this] { updatePrelabelHint(); });

    prompt_ = pane(this, QStringLiteral("labelPrompt"));
    prompt_->setMaximumHeight(160);
    left_ = pane(this, QStringLiteral("leftPane"));
    right_ = pane(this, QStringLiteral("rightPane"));
    leftTitle_ = new QLabel(tr("A — press 1 or ←"), this);
    rightTitle_ = new QLabel(tr("B — press 2 or →"), this);
    for (QLabel* t : {leftTitle_, rightTitle_}) t->setStyleSheet(QStringLiteral("font-weight: bold"));
    auto* sides = new QGridLayout;
    sides->addWidget(leftTitle_, 0, 0);
    sides->addWidget(rightTitle_, 0, 1);
    sides->addWidget(left_, 1, 0);
    sides->addWidget(right_, 1, 1);
    sides->setRowStretch(1, 1);

    rationale_ = new QLineEdit(this);
    rationale_->setObjectName(QStringLiteral("rationale"));
    rationale_->setPlaceholderText(tr("Rationale (Tab to type, Enter to return to the keys) — optional"));
    rationale_->installEventFilter(this);
    auto* buttons = new QHBoxLayout;
    struct B { QString text; Side side; };
    for (const B& b : {B{tr("A better (1)"), Side::Left}, B{tr("B better (2)"), Side::Right},
                       B{tr("Tie (3)"), Side::Tie}, B{tr("Both bad (4)"), Side::BothBad}, B{tr("Skip (S)"), Side::Skip}}) {
        auto* button = new QPushButton(b.text, this);
        button->setFocusPolicy(Qt::NoFocus);
        const Side side = b.side;
        connect(button, &QPushButton::clicked, this, [this, side] { choose(side); });
        buttons->addWidget(button);
    }
    auto* undoButton = new QPushButton(tr("Undo (Ctrl+Z)"), this);
    undoButton->setFocusPolicy(Qt::NoFocus);
    connect(undoButton, &QPushButton::clicked, this, [this] { undo(); });
    buttons->addWidget(undoButton);

    empty_ = new QLabel(tr("Nothing left to label. Generate pairs, or make comparisons from a preference dataset, above."), this);
    empty_->setAlignment(Qt::AlignCenter);
    empty_->hide();

    auto* hints = new QHBoxLayout;
    hints->addWidget(prelabelHint_, 1);
    hints->addWidget(showPrelabels_);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(genBox);
    layout->addWidget(new QLabel(tr("Prompt"), this));
    layout->addWidget(prompt_);
    layout->addLayout(sides, 1);
    layout->addWidget(empty_);
    layout->addLayout(hints);
    layout->addWidget(rationale_);
    layout->addLayout(buttons);
    layout->addWidget(winRate_);
    layout->addWidget(agreement_);

    connect(annotatorBox_, &QComboBox::textActivated, this, &LabelingPanel::setAnnotator);
    connect(make, &QPushButton::clicked, this, [this] {
        const qint64 id = datasetBox_->currentData().toLongLong();
        if (id > 0) engine_->startComparisonsFromDataset(id, pairCount_->value(), quint64(QDateTime::currentMSecsSinceEpoch()));
    });
    connect(engine_, &Engine::projectDataChanged, this, [this] {
        if (!engine_->hasProject()) return;
        const qint64 keep = datasetBox_->currentData().toLongLong();
        const QString keepPrompts = promptsBox_->currentText();
        datasetBox_->clear();
        promptsBox_->clear();
        for (const store::Dataset& d : engine_->project().datasets()) {
            datasetBox_->addItem(QString::fromStdString(d.name), QVariant::fromValue<qlonglong>(d.id));
            promptsBox_->addItem(QString::fromStdString(d.name));
        }
        const int i = datasetBox_->findData(QVariant::fromValue<qlonglong>(keep));
        if (i >= 0) datasetBox_->setCurrentIndex(i);
        if (promptsBox_->findText(keepPrompts) >= 0) promptsBox_->setCurrentText(keepPrompts);
        reloadModelChoices();
        if (annotatorId_ == 0) setAnnotator(QSettings().value(kAnnotatorKey, defaultAnnotator()).toString());
        if (!current_) showNext();
        refreshWinRate();
        updateProgress();
    });
    connect(engine_, &Engine::projectOpened, this, [this] {
        annotatorId_ = 0;
        current_.reset();
        generator_->stop();
        prelabels_.clear();
    });
    reloadAnnotators();
    session_.start();
    updateProgress();
}

void LabelingPanel::reloadAnnotators() {
    const QSignalBlocker block(annotatorBox_);
    annotatorBox_->clear();
    annotatorBox_->addItems(QSettings().value(kAnnotatorsKey, QStringList{defaultAnnotator()}).toStringList());
    annotatorBox_->setCurrentText(QSettings().value(kAnnotatorKey, defaultAnnotator()).toString());
}

void LabelingPanel::setAnnotator(const QString& rawName) {
    const QString name = rawName.trimmed();
    if (name.isEmpty() || !engine_->hasProject()) return;
    annotatorId_ = engine_->project().annotator(name.toStdString());
    QSettings settings;
    QStringList names = settings.value(kAnnotatorsKey).toStringList();
    if (!names.contains(name)) names << name;
    settings.setValue(kAnnotatorsKey, names);
    settings.setValue(kAnnotatorKey, name);
    reloadAnnotators();
    sessionLabels_ = 0;
    session_.restart();
    labelledTotal_ = 0;
    for (const store::LabelRow& row : engine_->project().labels_in_force()) {
        if (row.annotator == name.toStdString()) ++labelledTotal_;
    }
    showNext();
}

QString LabelingPanel::annotator() const { return annotatorBox_->currentText(); }

void LabelingPanel::showNext() {
    current_.reset();
    if (engine_->hasProject() && annotatorId_ > 0) current_ = engine_->project().next_unlabeled(annotatorId_);
    const bool has = bool(current_);
    for (QWidget* w : std::initializer_list<QWidget*>{prompt_, left_, right_, leftTitle_, rightTitle_}) w->setVisible(has);
    empty_->setVisible(!has);
    if (has) {
        prompt_->setPlainText(messagesText(current_->prompt));
        left_->setPlainText(QString::fromStdString(current_->left().text));
        right_->setPlainText(QString::fromStdString(current_->right().text));
    }
    rationale_->clear();
    shownFor_.start();
    updatePrelabelHint();
    updateProgress();
}

qint64 LabelingPanel::choose(Side side) {
    if (!current_ || annotatorId_ == 0) return 0;
    store::LabelInput label;
    label.comparison_id = current_->id;
    label.annotator_id = annotatorId_;
    label.choice = choiceFor(side, current_->a_on_left);
    label.rationale = rationale_->text().trimmed().toStdString();
    label.seconds = shownFor_.elapsed() / 1000.0;
    qint64 labelId = 0;
    try {
        labelId = engine_->project().add_label(label);  // durable before it returns
    } catch (const std::exception& e) {
        progress_->setText(tr("Label NOT saved: %1").arg(QString::fromUtf8(e.what())));
        return 0;
    }
    ++sessionLabels_;
    ++labelledTotal_;
    Q_EMIT labelCommitted(labelId, current_->id, QString::fromLatin1(store::choice_name(label.choice)));
    showNext();
    afterQueueChange();
    refreshWinRate();
    return labelId;
}

bool LabelingPanel::undo() {
    if (annotatorId_ == 0 || !engine_->hasProject()) return false;
    const std::optional<int64_t> undoneId = engine_->project().undo_last_label(annotatorId_);
    if (!undoneId) return false;
    sessionLabels_ = std::max(0, sessionLabels_ - 1);
    labelledTotal_ = std::max<qint64>(0, labelledTotal_ - 1);
    Q_EMIT undone(*undoneId);
    showNext();  // the undone pair is unlabelled again, so it comes back (lowest id first)
    refreshWinRate();
    return true;
}

void LabelingPanel::updateProgress() {
    progress_->setText(progressText());
}

QString LabelingPanel::progressText() const {
    const double hours = session_.elapsed() / 3.6e6;
    const double perHour = hours > 0 ? sessionLabels_ / hours : 0;
    QString text = tr("%1 labelled · %2 this session · %3 labels/h")
        .arg(labelledTotal_).arg(sessionLabels_).arg(perHour, 0, 'f', 0);
    if (engine_->hasProject() && annotatorId_ > 0) {
        // Two count(*) queries on the GUI connection: cheap, and what the queue display needs.
        auto& project = engine_->project();
        text += tr(" · %1 in queue").arg(project.comparison_count() - project.labeled_count(annotatorId_));
    }
    return text;
}

qint64 LabelingPanel::unlabeledCount() {
    if (!engine_->hasProject() || annotatorId_ == 0) return 0;
    auto& project = engine_->project();
    return project.comparison_count() - project.labeled_count(annotatorId_);
}

void LabelingPanel::afterQueueChange() {
    if (!engine_->hasProject() || annotatorId_ == 0) return;
    generator_->reportUnlabeled(unlabeledCount());
}

void LabelingPanel::onPairStored(const GeneratedPair& pair) {
    if (!pair.prelabel.isEmpty()) prelabels_[pair.comparisonId].append({pair.prelabelAnnotator, pair.prelabel});
    genStatus_->setText(tr("Generating batch %1: %2/%3 · %4 pairs so far")
                            .arg(generator_->batchesStarted()).arg(pair.done).arg(pair.total).arg(generator_->storedTotal()));
    // The queue refreshes as pairs land: an annotator who ran out sees the new pair at once.
    if (!current_) showNext();
    else if (current_->id == pair.comparisonId) updatePrelabelHint();
    updateProgress();
}

QStringList LabelingPanel::projectModelFolders(const QString& projectDir, bool rewardModels) {
    QStringList out;
    if (projectDir.isEmpty()) return out;
    const QDir root(projectDir);
    QStringList candidates;
    for (const QString& name : QDir(root.filePath(QStringLiteral("models"))).entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name))
        candidates << root.filePath(QStringLiteral("models/") + name);
    const QDir runs(root.filePath(QStringLiteral("runs")));
    QStringList runNames = runs.entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    // Newest run first when names are run ids.
    std::sort(runNames.begin(), runNames.end(), [](const QString& a, const QString& b) {
        bool oa = false, ob = false;
        const qint64 ia = a.toLongLong(&oa), ib = b.toLongLong(&ob);
        if (oa && ob) return ia > ib;
        return oa != ob ? oa : a < b;
    });
    for (const QString& name : runNames) candidates << runs.filePath(name + QStringLiteral("/final"));
    for (const QString& dir : candidates) {
        bool rm = false;
        if (isModelFolder(dir, &rm) && rm == rewardModels) out << QDir::cleanPath(dir);
    }
    return out;
}

void LabelingPanel::reloadModelChoices() {
    const QString dir = engine_->projectDir();
    const QStringList models = projectModelFolders(dir, /*rewardModels=*/false);
    for (QComboBox* box : {modelABox_, modelBBox_}) {
        const QString keep = box->currentText();
        const QSignalBlocker block(box);
        box->clear();
        if (box == modelBBox_) box->addItem(QString());  // two samples of A
        for (const QString& m : models) box->addItem(modelDisplayName(m, dir), m);
        box->setEditText(keep);
        if (keep.isEmpty() && box == modelABox_ && !models.isEmpty()) box->setCurrentIndex(0);
    }
    const QString keepPrelabel = prelabelBox_->currentData().toString();
    prelabelBox_->clear();
    prelabelBox_->addItem(tr("none"), QString());
    prelabelBox_->addItem(tr("rule: lexicon judge"), QStringLiteral("rule"));
    for (const QString& rm : projectModelFolders(dir, /*rewardModels=*/true))
        prelabelBox_->addItem(tr("reward model %1").arg(modelDisplayName(rm, dir)), QStringLiteral("rm:") + rm);
    const int i = prelabelBox_->findData(keepPrelabel);
    if (i >= 0) prelabelBox_->setCurrentIndex(i);
}

// An entry's folder: the item's data when the text is an item's (display name), else the text.
static QString modelOf(const QComboBox* box) {
    const QString text = box->currentText().trimmed();
    const int i = box->findText(text);
    if (i >= 0 && !box->itemData(i).toString().isEmpty()) return box->itemData(i).toString();
    return text;
}

PairsRequest LabelingPanel::pairsRequest() const {
    PairsRequest r;
    r.prompts = promptsBox_->currentText();
    r.modelA = modelOf(modelABox_);
    r.modelB = modelOf(modelBBox_);
    r.count = genCount_->value();
    r.maxNewTokens = maxNewTokens_->value();
    r.temperature = temperature_->value() < 0 ? -1 : temperature_->value();
    r.prelabel = prelabelBox_->currentData().toString();
    return r;
}

void LabelingPanel::setPairsRequest(const PairsRequest& r, int lowWater) {
    promptsBox_->setCurrentText(r.prompts);
    modelABox_->setEditText(r.modelA);
    modelBBox_->setEditText(r.modelB);
    genCount_->setValue(r.count);
    maxNewTokens_->setValue(std::max(0, r.maxNewTokens));
    temperature_->setValue(r.temperature < 0 ? temperature_->minimum() : r.temperature);
    int i = prelabelBox_->findData(r.prelabel);
    if (i < 0 && !r.prelabel.isEmpty()) {
        prelabelBox_->addItem(r.prelabel, r.prelabel);
        i = prelabelBox_->count() - 1;
    }
    prelabelBox_->setCurrentIndex(std::max(0, i));
    lowWater_->setValue(lowWater);
}

int LabelingPanel::startGeneration() {
    const PairsRequest r = pairsRequest();
    if (!engine_->hasProject()) {
        genStatus_->setText(tr("Open a project first"));
        return 0;
    }
    if (r.prompts.isEmpty() || r.modelA.isEmpty()) {
        genStatus_->setText(tr("Choose a prompt set and model A"));
        return 0;
    }
    if (r.modelB.isEmpty() && r.temperature == 0) {
        genStatus_->setText(tr("Two samples of one model need a temperature > 0"));
        return 0;
    }
    PairsRequest withSeed = r;
    withSeed.seed = QDateTime::currentMSecsSinceEpoch() % 1000000007;  // fresh samples each session
    generator_->setLowWater(lowWater_->value());
    return generator_->start(withSeed);
}

QString LabelingPanel::prelabelHint() const {
    return prelabelHint_->isVisible() ? prelabelHint_->text() : QString();
}

void LabelingPanel::setPrelabelsVisible(bool visible) { showPrelabels_->setChecked(visible); }

void LabelingPanel::updatePrelabelHint() {
    QStringList parts;
    if (current_ && showPrelabels_->isChecked()) {
        for (const auto& [who, choice] : prelabels_.value(current_->id)) {
            // The stored verdict is about A/B; the annotator sees screen sides.
            QString verdict;
            if (choice == QLatin1String("A")) verdict = current_->a_on_left ? tr("prefers LEFT") : tr("prefers RIGHT");
            else if (choice == QLatin1String("B")) verdict = current_->a_on_left ? tr("prefers RIGHT") : tr("prefers LEFT");
            else verdict = tr("says %1").arg(choice);
            QString name = who;
            name.remove(0, int(qstrlen("simulated:")));
            parts << tr("%1 %2").arg(name, verdict);
        }
    }
    prelabelHint_->setText(parts.isEmpty() ? QString() : tr("Pre-label (not a human label): %1").arg(parts.join(QStringLiteral("; "))));
    prelabelHint_->setVisible(!parts.isEmpty());
}

QString LabelingPanel::winRateText() const { return winRateText_; }

void LabelingPanel::refreshWinRate() {
    if (!engine_->hasProject()) return;
    // Reading every label in force with its comparison is not for the GUI thread.
    QPointer<LabelingPanel> self(this);
    const QString projectDir = engine_->projectDir();
    engine_->readAsync([self, projectDir](store::Project& project) -> std::function<void()> {
        // Count per unordered model pair, from the first model's (alphabetical) side.
        QMap<QPair<QString, QString>, WinRate> pairs;
        // Machine labels are pre-labels: collected for the hint, kept out of the win rate.
        QHash<qint64, QVector<QPair<QString, QString>>> machine;
        for (const store::LabelRow& row : project.labels_in_force()) {
            const QString annotator = QString::fromStdString(row.annotator);
            if (isMachineAnnotator(annotator)) {
                machine[row.comparison_id].append({annotator, QString::fromLatin1(store::choice_name(row.choice))});
                continue;
            }
            if (row.choice == store::Choice::Skip) continue;
            const auto c = project.comparison(row.comparison_id);
            if (!c) continue;
            QString ma = modelDisplayName(QString::fromStdString(c->a.model), projectDir);
            QString mb = modelDisplayName(QString::fromStdString(c->b.model), projectDir);
            if (ma == mb) continue;
            const bool aIsX = ma < mb;
            WinRate& w = pairs[aIsX ? qMakePair(ma, mb) : qMakePair(mb, ma)];
            w.modelX = aIsX ? ma : mb;
            w.modelY = aIsX ? mb : ma;
            if (row.choice == store::Choice::Tie || row.choice == store::Choice::BothBad) ++w.ties;
            else if ((row.choice == store::Choice::A) == aIsX) ++w.wins;
            else ++w.losses;
        }
        QStringList lines;
        for (WinRate w : pairs) {
            computeWinRate(w);
            lines << formatWinRate(w);
        }
        // Inter-annotator agreement on shared comparisons, human annotators only.
        QStringList agreementLines;
        std::vector<store::Annotator> humans;
        for (const store::Annotator& a : project.annotators())
            if (a.labeled > 0 && !isMachineAnnotator(QString::fromStdString(a.name))) humans.push_back(a);
        for (size_t i = 0; i < humans.size(); ++i)
            for (size_t j = i + 1; j < humans.size(); ++j) {
                const store::Agreement g = project.agreement(humans[i].id, humans[j].id);
                if (g.shared == 0) continue;
                agreementLines << QStringLiteral("%1 – %2: %3 shared, %4% agree, κ %5")
                                      .arg(QString::fromStdString(humans[i].name), QString::fromStdString(humans[j].name))
                                      .arg(g.shared)
                                      .arg(g.percent, 0, 'f', 1)
                                      .arg(std::isnan(g.kappa) ? QStringLiteral("undefined") : QString::number(g.kappa, 'f', 3));
            }
        return [self, text = lines.join(QLatin1Char('\n')), agreement = agreementLines.join(QLatin1Char('\n')),
                machine = std::move(machine)] {
            if (!self) return;
            // Merged: pairs that landed while this read ran keep what their JSON line said.
            for (auto it = machine.constBegin(); it != machine.constEnd(); ++it) self->prelabels_[it.key()] = it.value();
            self->updatePrelabelHint();
            self->winRateText_ = text;
            self->winRate_->setText(text.isEmpty() ? QString() : tr("Win rate (95% Wilson): %1").arg(text));
            self->agreementText_ = agreement;
            self->agreement_->setText(agreement.isEmpty() ? QString() : tr("Annotator agreement: %1").arg(agreement));
            Q_EMIT self->winRateChanged(text);
        };
    });
}

void LabelingPanel::keyPressEvent(QKeyEvent* event) {
    if (event->matches(QKeySequence::Undo)) {
        undo();
        return;
    }
    if (event->modifiers() & (Qt::ControlModifier | Qt::AltModifier | Qt::MetaModifier)) {
        QWidget::keyPressEvent(event);
        return;
    }
    switch (event->key()) {
    case Qt::Key_1:
    case Qt::Key_Left: choose(Side::Left); return;
    case Qt::Key_2:
    case Qt::Key_Right: choose(Side::Right); return;
    case Qt::Key_3: choose(Side::Tie); return;
    case Qt::Key_4: choose(Side::BothBad); return;
    case Qt::Key_S: choose(Side::Skip); return;
    default: QWidget::keyPressEvent(event);
    }
}

bool LabelingPanel::focusNextPrevChild(bool) {
    // Tab toggles between the keys (the panel) and the rationale field; nothing else takes focus.
    if (rationale_->hasFocus()) setFocus(Qt::TabFocusReason);
    else rationale_->setFocus(Qt::TabFocusReason);
    return true;
}

bool LabelingPanel::eventFilter(QObject* watched, QEvent* event) {
    if (watched == rationale_ && event->type() == QEvent::KeyPress) {
        auto* key = static_cast<QKeyEvent*>(event);
        if (key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter || key->key() == Qt::Key_Escape) {
            setFocus(Qt::OtherFocusReason);
            return true;
        }
    }
    return QWidget::eventFilter(watched, event);
}

}  // namespace rlhf::ui
