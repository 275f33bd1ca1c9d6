#include "ui/labeling_panel.h"

#include <QComboBox>
#include <QDateTime>
#include <QGridLayout>
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

    empty_ = new QLabel(tr("Nothing left to label. Make comparisons from a preference dataset above."), this);
    empty_->setAlignment(Qt::AlignCenter);
    empty_->hide();

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(new QLabel(tr("Prompt"), this));
    layout->addWidget(prompt_);
    layout->addLayout(sides, 1);
    layout->addWidget(empty_);
    layout->addWidget(rationale_);
    layout->addLayout(buttons);
    layout->addWidget(winRate_);

    connect(annotatorBox_, &QComboBox::textActivated, this, &LabelingPanel::setAnnotator);
    connect(make, &QPushButton::clicked, this, [this] {
        const qint64 id = datasetBox_->currentData().toLongLong();
        if (id > 0) engine_->startComparisonsFromDataset(id, pairCount_->value(), quint64(QDateTime::currentMSecsSinceEpoch()));
    });
    connect(engine_, &Engine::projectDataChanged, this, [this] {
        if (!engine_->hasProject()) return;
        const qint64 keep = datasetBox_->currentData().toLongLong();
        datasetBox_->clear();
        for (const store::Dataset& d : engine_->project().datasets()) {
            datasetBox_->addItem(QString::fromStdString(d.name), QVariant::fromValue<qlonglong>(d.id));
        }
        const int i = datasetBox_->findData(QVariant::fromValue<qlonglong>(keep));
        if (i >= 0) datasetBox_->setCurrentIndex(i);
        if (annotatorId_ == 0) setAnnotator(QSettings().value(kAnnotatorKey, defaultAnnotator()).toString());
        if (!current_) showNext();
        refreshWinRate();
    });
    connect(engine_, &Engine::projectOpened, this, [this] {
        annotatorId_ = 0;
        current_.reset();
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
    return tr("%1 labelled · %2 this session · %3 labels/h")
        .arg(labelledTotal_).arg(sessionLabels_).arg(perHour, 0, 'f', 0);
}

QString LabelingPanel::winRateText() const { return winRateText_; }

void LabelingPanel::refreshWinRate() {
    if (!engine_->hasProject()) return;
    // Reading every label in force with its comparison is not for the GUI thread.
    QPointer<LabelingPanel> self(this);
    engine_->readAsync([self](store::Project& project) -> std::function<void()> {
        // Count per unordered model pair, from the first model's (alphabetical) side.
        QMap<QPair<QString, QString>, WinRate> pairs;
        for (const store::LabelRow& row : project.labels_in_force()) {
            if (row.choice == store::Choice::Skip) continue;
            const auto c = project.comparison(row.comparison_id);
            if (!c) continue;
            QString ma = QString::fromStdString(c->a.model), mb = QString::fromStdString(c->b.model);
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
        return [self, text = lines.join(QLatin1Char('\n'))] {
            if (!self) return;
            self->winRateText_ = text;
            self->winRate_->setText(text.isEmpty() ? QString() : tr("Win rate (95% Wilson): %1").arg(text));
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
