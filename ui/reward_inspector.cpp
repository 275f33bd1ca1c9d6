#include "ui/reward_inspector.h"

#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPointer>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QTextBrowser>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "core/store/project.h"
#include "ui/engine.h"
#include "ui/qcp.h"

namespace rlhf::ui {

namespace {
const QColor kChosenColor(0x4e, 0x79, 0xa7);    // blue: the response humans preferred
const QColor kRejectedColor(0xf2, 0x8e, 0x2b);  // orange: the one they did not
const QColor kWrongColor(0xe1, 0x57, 0x59);     // margin < 0: the model disagrees
const QColor kRightColor(0x59, 0xa1, 0x4f);     // margin > 0

enum WorstColumn { WorstMargin, WorstChosen, WorstRejected, WorstSlice, WorstPrompt, WorstColumns };

void styleAxes(QCustomPlot* plot, const QPalette& pal) {
    const QColor fg = pal.color(QPalette::WindowText);
    QColor grid = fg;
    grid.setAlpha(40);
    for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) {
        axis->setBasePen(QPen(fg));
        axis->setTickPen(QPen(fg));
        axis->setSubTickPen(QPen(fg));
        axis->setTickLabelColor(fg);
        axis->setLabelColor(fg);
        axis->grid()->setPen(QPen(grid, 1, Qt::DotLine));
    }
    plot->setBackground(pal.brush(QPalette::Base));
    plot->axisRect()->setBackground(pal.brush(QPalette::Base));
    plot->legend->setBrush(pal.brush(QPalette::Base));
    plot->legend->setTextColor(pal.color(QPalette::Text));
    plot->legend->setBorderPen(QPen(pal.color(QPalette::Mid)));
}

QCustomPlot* makePlot(QWidget* parent, const QString& name, const QString& title, const QString& xLabel) {
    auto* plot = new QCustomPlot(parent);
    plot->setObjectName(name);
    plot->setMinimumSize(240, 180);
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot->plotLayout()->insertRow(0);
    auto* t = new QCPTextElement(plot, title, QFont(parent->font().family(), parent->font().pointSize(), QFont::Bold));
    t->setTextColor(parent->palette().color(QPalette::WindowText));
    plot->plotLayout()->addElement(0, 0, t);
    plot->xAxis->setLabel(xLabel);
    plot->yAxis->setLabel(QObject::tr("pairs"));
    plot->legend->setFont(parent->font());
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    styleAxes(plot, parent->palette());
    return plot;
}

QCPBars* makeBars(QCustomPlot* plot, const QString& name, const QColor& color) {
    auto* bars = new QCPBars(plot->xAxis, plot->yAxis);
    bars->setName(name);
    QColor fill = color;
    fill.setAlpha(140);  // translucent: the chosen and rejected bars overlay
    bars->setBrush(fill);
    bars->setPen(QPen(color.darker(120)));
    bars->setWidthType(QCPBars::wtPlotCoords);
    return bars;
}

QString percent(double x) { return QStringLiteral("%1%").arg(100.0 * x, 0, 'f', 1); }
}  // namespace

RewardInspectorPanel::RewardInspectorPanel(Engine* engine, QWidget* parent) : QWidget(parent), engine_(engine) {
    setObjectName(QStringLiteral("rewardInspectorPanel"));

    // ---- the choice bar
    model_ = new QComboBox(this);
    model_->setObjectName(QStringLiteral("rmModelBox"));
    model_->setEditable(true);  // any folder can be typed or pasted
    model_->setMinimumContentsLength(28);
    model_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    model_->setToolTip(tr("A reward model folder (Hugging Face SequenceClassification layout)"));
    browse_ = new QPushButton(tr("Folder…"), this);
    set_ = new QComboBox(this);
    set_->setObjectName(QStringLiteral("rmSetBox"));
    set_->setMinimumContentsLength(18);
    limit_ = new QSpinBox(this);
    limit_->setObjectName(QStringLiteral("rmLimitBox"));
    limit_->setRange(0, 1000000);
    limit_->setValue(1000);
    limit_->setSpecialValueText(tr("all"));
    limit_->setToolTip(tr("Pairs to score (0 = all)"));
    split_ = new QComboBox(this);
    split_->setObjectName(QStringLiteral("rmSplitBox"));
    split_->addItem(tr("all pairs"), QStringLiteral("all"));
    split_->addItem(tr("held-out only"), QStringLiteral("eval"));
    split_->addItem(tr("training only"), QStringLiteral("train"));
    split_->setToolTip(tr("Which side of the reward-model run's train / held-out split to score "
                          "(when the run trained on this dataset)"));
    score_ = new QPushButton(tr("Score"), this);
    score_->setObjectName(QStringLiteral("rmScoreButton"));
    cancel_ = new QPushButton(tr("Cancel"), this);
    cancel_->setObjectName(QStringLiteral("rmCancelButton"));
    cancel_->setEnabled(false);
    summary_ = new QLabel(tr("Choose a reward model and a preference set, then Score."), this);
    summary_->setObjectName(QStringLiteral("rmSummary"));
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Reward model"), this));
    bar->addWidget(model_, 2);
    bar->addWidget(browse_);
    bar->addSpacing(8);
    bar->addWidget(new QLabel(tr("Pairs"), this));
    bar->addWidget(set_, 1);
    bar->addWidget(split_);
    bar->addWidget(new QLabel(tr("Limit"), this));
    bar->addWidget(limit_);
    bar->addWidget(score_);
    bar->addWidget(cancel_);

    // ---- plots and the slice table
    scoresPlot_ = makePlot(this, QStringLiteral("rmScoresPlot"), tr("Scores: chosen vs rejected"), tr("reward score"));
    scoresPlot_->legend->setVisible(true);
    marginPlot_ = makePlot(this, QStringLiteral("rmMarginPlot"), tr("Margin (chosen − rejected)"), tr("margin"));
    marginPlot_->legend->setVisible(true);
    slices_ = new QTableWidget(0, 4, this);
    slices_->setObjectName(QStringLiteral("rmSliceTable"));
    slices_->setHorizontalHeaderLabels({tr("Slice"), tr("Value"), tr("Pairs"), tr("Accuracy")});
    slices_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    slices_->horizontalHeader()->setStretchLastSection(true);
    slices_->verticalHeader()->hide();
    slices_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    slices_->setSelectionBehavior(QAbstractItemView::SelectRows);

    auto* top = new QSplitter(Qt::Horizontal, this);
    top->addWidget(scoresPlot_);
    top->addWidget(marginPlot_);
    top->addWidget(slices_);
    top->setStretchFactor(0, 3);
    top->setStretchFactor(1, 3);
    top->setStretchFactor(2, 2);

    // ---- the worst pairs and their detail
    worst_ = new QTableWidget(0, WorstColumns, this);
    worst_->setObjectName(QStringLiteral("rmWorstTable"));
    worst_->setHorizontalHeaderLabels({tr("Margin"), tr("Chosen"), tr("Rejected"), tr("Set / annotator"), tr("Prompt")});
    worst_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    worst_->horizontalHeader()->setStretchLastSection(true);
    worst_->verticalHeader()->hide();
    worst_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    worst_->setSelectionBehavior(QAbstractItemView::SelectRows);
    worst_->setSelectionMode(QAbstractItemView::SingleSelection);
    worst_->setWordWrap(false);
    detail_ = new QTextBrowser(this);
    detail_->setObjectName(QStringLiteral("rmDetail"));
    auto* worstBox = new QWidget(this);
    auto* wv = new QVBoxLayout(worstBox);
    wv->setContentsMargins(0, 0, 0, 0);
    wv->addWidget(new QLabel(tr("Pairs it gets most wrong (lowest margin first)"), worstBox));
    wv->addWidget(worst_);
    auto* bottom = new QSplitter(Qt::Horizontal, this);
    bottom->addWidget(worstBox);
    bottom->addWidget(detail_);
    bottom->setStretchFactor(0, 3);
    bottom->setStretchFactor(1, 2);

    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(top);
    split->addWidget(bottom);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(bar);
    layout->addWidget(summary_);
    layout->addWidget(split, 1);

    refreshTimer_ = new QTimer(this);
    refreshTimer_->setSingleShot(true);
    refreshTimer_->setInterval(kRefreshMs);
    connect(refreshTimer_, &QTimer::timeout, this, &RewardInspectorPanel::refreshViews);

    connect(score_, &QPushButton::clicked, this, [this] { startScoring(); });
    connect(cancel_, &QPushButton::clicked, this, &RewardInspectorPanel::cancelScoring);
    connect(browse_, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Reward model folder"), model_->currentText());
        if (!dir.isEmpty()) model_->setCurrentText(dir);
    });
    // A run's model preselects the dataset it was trained on (its held-out part is in there too).
    connect(model_, &QComboBox::currentIndexChanged, this, [this](int index) {
        const QString dataset = model_->itemData(index, Qt::UserRole + 1).toString();
        if (dataset.isEmpty()) return;
        const int i = set_->findText(dataset);
        if (i >= 0) set_->setCurrentIndex(i);
    });
    connect(worst_, &QTableWidget::currentCellChanged, this, [this](int row) { showWorstPair(row); });
    connect(engine_, &Engine::projectOpened, this, [this] {
        setPairs({});
        reload();
    });
    connect(engine_, &Engine::projectDataChanged, this, &RewardInspectorPanel::reload);
    connect(engine_, &Engine::jobProgress, this, [this](int id, qint64 done, qint64 total, double rate, double eta) {
        if (id != job_) return;
        summary_->setText(tr("Scoring… %1").arg(formatProgress(done, total, rate, eta)));
    });
    connect(engine_, &Engine::jobFailed, this, [this](int id, const QString& error) {
        if (id == job_) jobError_ = error;
    });
    connect(engine_, &Engine::jobEnded, this, [this](int id, JobOutcome outcome) {
        if (id != job_) return;
        job_ = 0;
        setRunning(false);
        refreshViews();
        if (outcome == JobOutcome::Failed) summary_->setText(tr("Scoring failed: %1").arg(jobError_));
        if (outcome == JobOutcome::Cancelled) summary_->setText(summary_->text() + tr(" (cancelled)"));
    });
    if (engine_->hasProject()) reload();
    refreshViews();
}

void RewardInspectorPanel::reload() {
    if (!engine_->hasProject() || reloadInFlight_) return;
    reloadInFlight_ = true;
    QPointer<RewardInspectorPanel> self(this);
    engine_->readAsync([self](store::Project& project) -> std::function<void()> {
        QVector<RewardModelChoice> models = rewardModelChoices(project);
        QStringList datasets;
        for (const store::Dataset& d : project.datasets()) datasets << QString::fromStdString(d.name);
        const bool labelled = !project.labels_in_force().empty();
        return [self, models, datasets, labelled] {
            if (!self) return;
            self->reloadInFlight_ = false;
            // Keep what the user had chosen when it is still there.
            const QString model = self->model_->currentText();
            const QString set = self->set_->currentText();
            {
                const QSignalBlocker block(self->model_);
                self->model_->clear();
                for (const RewardModelChoice& m : models) {
                    self->model_->addItem(m.label, m.dir);
                    self->model_->setItemData(self->model_->count() - 1, m.dataset, Qt::UserRole + 1);
                    self->model_->setItemData(self->model_->count() - 1, m.dir, Qt::ToolTipRole);
                }
                const int keep = self->model_->findText(model);
                if (keep >= 0) {
                    self->model_->setCurrentIndex(keep);
                } else if (!model.isEmpty()) {
                    self->model_->setCurrentText(model);
                }
            }
            {
                const QSignalBlocker block(self->set_);
                self->set_->clear();
                for (const QString& d : datasets) self->set_->addItem(d);
                if (labelled) self->set_->addItem(tr("Human-labelled comparisons"), kComparisonsItem);
                int keep = self->set_->findText(set);
                if (keep < 0 && self->model_->currentIndex() >= 0)
                    keep = self->set_->findText(self->model_->currentData(Qt::UserRole + 1).toString());
                if (keep >= 0) self->set_->setCurrentIndex(keep);
            }
        };
    });
}

int RewardInspectorPanel::startScoring() {
    if (job_) return job_;
    if (!engine_->hasProject()) {
        summary_->setText(tr("Open a project first."));
        return 0;
    }
    ScoreRequest r;
    // An item chosen from the list carries its folder; typed text is a folder itself.
    const int index = model_->findText(model_->currentText());
    r.modelDir = index >= 0 ? model_->itemData(index).toString() : model_->currentText().trimmed();
    r.projectDir = engine_->projectDir();
    r.comparisons = set_->currentData().isValid() && set_->currentData().toInt() == kComparisonsItem;
    r.dataset = r.comparisons ? QString() : set_->currentText();
    r.split = r.comparisons ? QString() : split_->currentData().toString();
    r.limit = limit_->value();
    if (r.modelDir.isEmpty()) {
        summary_->setText(tr("Choose a reward model folder."));
        return 0;
    }
    if (!r.comparisons && r.dataset.isEmpty()) {
        summary_->setText(tr("Choose a preference set."));
        return 0;
    }
    setPairs({});
    jobError_.clear();
    QPointer<RewardInspectorPanel> self(this);
    job_ = ui::startScoring(engine_, r, [self](QVector<ScoredPair> pairs) {
        if (self) self->addPairs(pairs);
    });
    setRunning(true);
    summary_->setText(tr("Scoring with %1…").arg(r.modelDir));
    return job_;
}

void RewardInspectorPanel::cancelScoring() {
    if (job_) engine_->cancelJob(job_);
}

void RewardInspectorPanel::setRunning(bool running) {
    score_->setEnabled(!running);
    cancel_->setEnabled(running);
}

void RewardInspectorPanel::setPairs(const QVector<ScoredPair>& pairs) {
    stats_.clear();
    stats_.add(pairs);
    refreshViews();
}

void RewardInspectorPanel::addPairs(const QVector<ScoredPair>& pairs) {
    stats_.add(pairs);
    scheduleRefresh();
}

void RewardInspectorPanel::scheduleRefresh() {
    if (!refreshTimer_->isActive()) refreshTimer_->start();
}

void RewardInspectorPanel::refreshViews() {
    refreshTimer_->stop();
    updatePlots();
    updateTables();
    updateSummary();
}

void RewardInspectorPanel::updateSummary() {
    if (stats_.count() == 0) return;
    const QString text = tr("%1 pairs · accuracy %2 · mean margin %3")
                             .arg(stats_.count())
                             .arg(percent(stats_.accuracy()))
                             .arg(stats_.meanMargin(), 0, 'g', 4);
    summary_->setText(job_ ? tr("Scoring… %1").arg(text) : text);
}

void RewardInspectorPanel::updatePlots() {
    scoresPlot_->clearPlottables();
    marginPlot_->clearPlottables();
    marginPlot_->clearItems();
    if (stats_.count() > 0) {
        const auto h = stats_.scoreHistograms(kScoreBins);
        auto* chosen = makeBars(scoresPlot_, tr("chosen"), kChosenColor);
        auto* rejected = makeBars(scoresPlot_, tr("rejected"), kRejectedColor);
        QVector<double> x, yc, yr;
        for (int i = 0; i < h.chosen.counts.size(); ++i) {
            x << h.chosen.center(i);
            yc << h.chosen.counts[i];
            yr << h.rejected.counts[i];
        }
        chosen->setWidth(h.chosen.width);
        rejected->setWidth(h.rejected.width);
        chosen->setData(x, yc, true);
        rejected->setData(x, yr, true);
        scoresPlot_->rescaleAxes();
        scoresPlot_->yAxis->setRangeLower(0);

        // Margins: bins left of zero are pairs the model ranks the wrong way round.
        const Histogram m = stats_.marginHistogram(kMarginBins);
        auto* wrong = makeBars(marginPlot_, tr("wrong (< 0)"), kWrongColor);
        auto* right = makeBars(marginPlot_, tr("right (> 0)"), kRightColor);
        QVector<double> xw, yw, xr, yrr;
        for (int i = 0; i < m.counts.size(); ++i) {
            (m.center(i) < 0 ? xw : xr) << m.center(i);
            (m.center(i) < 0 ? yw : yrr) << m.counts[i];
        }
        wrong->setWidth(m.width);
        right->setWidth(m.width);
        wrong->setData(xw, yw, true);
        right->setData(xr, yrr, true);
        marginPlot_->rescaleAxes();
        marginPlot_->yAxis->setRangeLower(0);
        // Zero in view, marked: where right turns to wrong.
        QCPRange xr2 = marginPlot_->xAxis->range();
        xr2.expand(0.0);
        marginPlot_->xAxis->setRange(xr2);
        auto* zero = new QCPItemStraightLine(marginPlot_);
        zero->point1->setCoords(0, 0);
        zero->point2->setCoords(0, 1);
        zero->setPen(QPen(palette().color(QPalette::WindowText), 1, Qt::DashLine));
    }
    scoresPlot_->replot(QCustomPlot::rpQueuedReplot);
    marginPlot_->replot(QCustomPlot::rpQueuedReplot);
}

void RewardInspectorPanel::updateTables() {
    const QVector<SliceAccuracy> slices = stats_.pairs().isEmpty() ? QVector<SliceAccuracy>{} : stats_.slices();
    slices_->setRowCount(int(slices.size()));
    for (int i = 0; i < slices.size(); ++i) {
        const SliceAccuracy& s = slices[i];
        auto* acc = new QTableWidgetItem(percent(s.accuracy()));
        acc->setData(Qt::UserRole, s.accuracy());
        acc->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        // Tint by accuracy: red at 50% (chance) or below, green at 100%.
        const double t = std::clamp((s.accuracy() - 0.5) * 2.0, 0.0, 1.0);
        QColor tint = t >= 0.5 ? kRightColor : kWrongColor;
        tint.setAlpha(int(std::lround(40 + 60 * std::abs(t - 0.5) * 2)));
        acc->setBackground(tint);
        auto* n = new QTableWidgetItem(QString::number(s.pairs));
        n->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        slices_->setItem(i, 0, new QTableWidgetItem(s.slice));
        const bool heldOut = s.slice == QStringLiteral("split") && s.value == QStringLiteral("eval");
        slices_->setItem(i, 1, new QTableWidgetItem(heldOut ? tr("held-out (eval)") : s.value));
        slices_->setItem(i, 2, n);
        slices_->setItem(i, 3, acc);
    }

    const QVector<int> worst = stats_.worstPairs(kWorstPairs);
    if (worst == worstRows_ && worst_->rowCount() == worst.size()) return;  // nothing moved: keep the selection
    const int selected = worst_->currentRow();
    const qint64 selectedPair = selected >= 0 && selected < worstRows_.size() ? worstRows_[selected] : -1;
    worstRows_ = worst;
    const QSignalBlocker block(worst_);
    worst_->setRowCount(int(worst.size()));
    for (int row = 0; row < worst.size(); ++row) {
        const ScoredPair& p = stats_.pairs()[worst[row]];
        auto number = [](double v) {
            auto* item = new QTableWidgetItem(QString::number(v, 'f', 3));
            item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            return item;
        };
        auto* margin = number(p.margin());
        margin->setForeground(p.correct() ? kRightColor : kWrongColor);
        worst_->setItem(row, WorstMargin, margin);
        worst_->setItem(row, WorstChosen, number(p.scoreChosen));
        worst_->setItem(row, WorstRejected, number(p.scoreRejected));
        worst_->setItem(row, WorstSlice, new QTableWidgetItem(p.annotator.isEmpty() ? p.dataset
                                                                               : p.dataset + QStringLiteral(" / ") + p.annotator));
        worst_->setItem(row, WorstPrompt, new QTableWidgetItem(p.prompt.simplified().left(200)));
    }
    const int again = selectedPair >= 0 ? int(worstRows_.indexOf(int(selectedPair))) : -1;
    if (again >= 0) worst_->setCurrentCell(again, 0);
}

void RewardInspectorPanel::showWorstPair(int row) {
    if (row < 0 || row >= worstRows_.size()) {
        detail_->clear();
        return;
    }
    if (worst_->currentRow() != row) {
        const QSignalBlocker block(worst_);
        worst_->setCurrentCell(row, 0);
    }
    const ScoredPair& p = stats_.pairs()[worstRows_[row]];
    auto para = [](const QString& text) {
        return QStringLiteral("<p style=\"white-space: pre-wrap\">%1</p>").arg(text.toHtmlEscaped());
    };
    QString html;
    html += QStringLiteral("<p><b>%1</b> · id %2%3 · margin <b style=\"color:%4\">%5</b></p>")
                .arg(p.dataset.toHtmlEscaped() + (p.split.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(p.split)))
                .arg(p.id)
                .arg(p.annotator.isEmpty() ? QString() : tr(" · annotator %1").arg(p.annotator.toHtmlEscaped()))
                .arg((p.correct() ? kRightColor : kWrongColor).name())
                .arg(p.margin(), 0, 'f', 3);
    html += QStringLiteral("<h4>Prompt</h4>") + para(p.prompt);
    html += QStringLiteral("<h4 style=\"color:%1\">Chosen · score %2 · %3 tokens</h4>")
                .arg(kChosenColor.name()).arg(p.scoreChosen, 0, 'f', 3).arg(p.chosenTokens) + para(p.chosen);
    html += QStringLiteral("<h4 style=\"color:%1\">Rejected · score %2 · %3 tokens</h4>")
                .arg(kRejectedColor.name()).arg(p.scoreRejected, 0, 'f', 3).arg(p.rejectedTokens) + para(p.rejected);
    detail_->setHtml(html);
}

bool saveRewardInspectorScreenshot(Engine* engine, const QString& path, int timeoutMs) {
    if (!engine->hasProject()) return false;
    RewardInspectorPanel panel(engine);
    panel.resize(1400, 900);
    panel.setAttribute(Qt::WA_DontShowOnScreen);
    panel.show();
    // Wait for reload (reader thread) to fill the boxes.
    QEventLoop loop;
    QTimer poll;
    QElapsedTimer clock;
    clock.start();
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (panel.modelBox()->count() > 0 && panel.setBox()->count() > 0) loop.quit();
        if (clock.elapsed() > 10000) loop.quit();
    });
    poll.start(20);
    loop.exec();
    if (panel.modelBox()->count() == 0 || panel.setBox()->count() == 0) return false;
    panel.modelBox()->setCurrentIndex(0);  // newest RM run; preselects its training set
    if (panel.startScoring() == 0) return false;
    QObject::disconnect(&poll, nullptr, &loop, nullptr);
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (panel.scoringJob() == 0 || clock.elapsed() > timeoutMs) loop.quit();
    });
    loop.exec();
    if (panel.scoringJob() != 0) {
        panel.cancelScoring();
        return false;
    }
    panel.refreshViews();
    if (panel.stats().count() == 0) return false;
    panel.showWorstPair(0);
    panel.scoresPlot()->replot();
    panel.marginPlot()->replot();
    return panel.grab().save(path);
}

}  // namespace rlhf::ui
