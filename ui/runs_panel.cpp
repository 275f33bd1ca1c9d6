#include "ui/runs_panel.h"

#include <QDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QPointer>
#include <QSplitter>
#include <QTableWidget>
#include <QTimer>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "core/store/project.h"
#include "ui/engine.h"
#include "ui/live_plot.h"
#include "ui/rollout_view.h"

namespace rlhf::ui {

namespace {
enum RunColumn { RunName, RunKind, RunStatus, RunUpdated };
// Shown by default: the headline metric of each algorithm (DESIGN.md §5).
const QSet<QString> kDefaultMetrics = {QStringLiteral("loss"), QStringLiteral("objective/scores"),
                                       QStringLiteral("reward"), QStringLiteral("accuracy")};
}  // namespace

RunsPanel::RunsPanel(Engine* engine, QWidget* parent) : QWidget(parent), engine_(engine) {
    setObjectName(QStringLiteral("runsPanel"));
    runs_ = new QTreeWidget(this);
    runs_->setObjectName(QStringLiteral("runList"));
    runs_->setHeaderLabels({tr("Run"), tr("Kind"), tr("Status"), tr("Updated")});
    runs_->setRootIsDecorated(false);
    runs_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    runs_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    metrics_ = new QListWidget(this);
    metrics_->setObjectName(QStringLiteral("metricList"));
    auto* left = new QSplitter(Qt::Vertical, this);
    auto* runsBox = new QWidget(left);
    auto* rv = new QVBoxLayout(runsBox);
    rv->setContentsMargins(0, 0, 0, 0);
    rv->addWidget(new QLabel(tr("Runs (select several to overlay)"), runsBox));
    rv->addWidget(runs_);
    auto* metricsBox = new QWidget(left);
    auto* mv = new QVBoxLayout(metricsBox);
    mv->setContentsMargins(0, 0, 0, 0);
    mv->addWidget(new QLabel(tr("Metrics"), metricsBox));
    mv->addWidget(metrics_);
    left->addWidget(runsBox);
    left->addWidget(metricsBox);

    plot_ = new LivePlot(this);
    samples_ = new QTableWidget(0, 4, this);
    samples_->setObjectName(QStringLiteral("samplesTable"));
    samples_->setHorizontalHeaderLabels({tr("Step"), tr("Reward"), tr("Prompt"), tr("Response")});
    samples_->horizontalHeader()->setStretchLastSection(true);
    samples_->verticalHeader()->hide();
    samples_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    auto* right = new QSplitter(Qt::Vertical, this);
    right->addWidget(plot_);
    auto* samplesBox = new QWidget(right);
    auto* sv = new QVBoxLayout(samplesBox);
    sv->setContentsMargins(0, 0, 0, 0);
    sv->addWidget(new QLabel(tr("Samples (click a point for its step)"), samplesBox));
    sv->addWidget(samples_);
    right->addWidget(samplesBox);
    right->setStretchFactor(0, 3);
    right->setStretchFactor(1, 1);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(right);
    split->setStretchFactor(1, 1);
    split->setSizes({320, 900});
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);

    pollTimer_ = new QTimer(this);
    pollTimer_->setInterval(kPollMs);
    connect(pollTimer_, &QTimer::timeout, this, &RunsPanel::poll);
    pollTimer_->start();
    connect(runs_, &QTreeWidget::itemSelectionChanged, this, &RunsPanel::onSelectionChanged);
    connect(metrics_, &QListWidget::itemChanged, this, [this] { applyMetricVisibility(); });
    connect(engine_, &Engine::projectDataChanged, this, &RunsPanel::refreshRuns);
    connect(engine_, &Engine::projectOpened, this, [this] {
        watched_.clear();
        plot_->clear();
        metrics_->clear();
        metricNames_.clear();
        runs_->clear();
    });
    connect(plot_, &LivePlot::pointClicked, this, [this](const QString& series, qint64 step) {
        for (auto it = watched_.constBegin(); it != watched_.constEnd(); ++it) {
            if (series.startsWith(it->name + QLatin1Char('/'))) {
                showSamples(it.key(), step);
                openRollouts(it.key(), step);
                return;  // one run per click, even if another run's name is a prefix of it
            }
        }
    });
    // Double-clicking a sample opens the rollouts of its step too.
    connect(samples_, &QTableWidget::cellDoubleClicked, this, [this](int row) {
        const QTableWidgetItem* item = samples_->item(row, 0);
        if (item) openRollouts(item->data(Qt::UserRole).toLongLong(), item->text().toLongLong());
    });
}

void RunsPanel::refreshRuns() {
    if (!engine_->hasProject() || runsInFlight_) return;
    runsInFlight_ = true;
    QPointer<RunsPanel> self(this);
    engine_->readAsync([self](store::Project& project) -> std::function<void()> {
        std::vector<store::RunInfo> runs = project.runs();
        return [self, runs = std::move(runs)] {
            if (!self) return;
            self->runsInFlight_ = false;
            QHash<qint64, QTreeWidgetItem*> items;
            for (int i = 0; i < self->runs_->topLevelItemCount(); ++i) {
                QTreeWidgetItem* item = self->runs_->topLevelItem(i);
                items.insert(item->data(RunName, Qt::UserRole).toLongLong(), item);
            }
            const bool first = items.isEmpty();
            for (const store::RunInfo& run : runs) {
                QTreeWidgetItem* item = items.value(run.id);
                if (!item) {
                    item = new QTreeWidgetItem;
                    item->setData(RunName, Qt::UserRole, QVariant::fromValue<qlonglong>(run.id));
                    self->runs_->insertTopLevelItem(0, item);  // newest first
                }
                item->setText(RunName, QStringLiteral("%1 #%2").arg(QString::fromStdString(run.name)).arg(run.id));
                item->setText(RunKind, QString::fromStdString(run.kind));
                item->setText(RunStatus, QString::fromLatin1(store::run_status_name(run.status)));
                item->setToolTip(RunStatus, QString::fromStdString(run.error));
                item->setText(RunUpdated, QString::fromStdString(run.updated_at).left(19).replace(QLatin1Char('T'), QLatin1Char(' ')));
            }
            self->runs_->sortItems(RunName, Qt::DescendingOrder);
            if (first && self->runs_->topLevelItemCount() > 0 && self->runs_->selectedItems().isEmpty()) {
                self->runs_->topLevelItem(0)->setSelected(true);
            }
        };
    });
}

void RunsPanel::selectRun(qint64 runId) {
    for (int i = 0; i < runs_->topLevelItemCount(); ++i) {
        QTreeWidgetItem* item = runs_->topLevelItem(i);
        item->setSelected(item->data(RunName, Qt::UserRole).toLongLong() == runId);
    }
}

void RunsPanel::onSelectionChanged() {
    QHash<qint64, QString> selected;
    for (QTreeWidgetItem* item : runs_->selectedItems()) {
        selected.insert(item->data(RunName, Qt::UserRole).toLongLong(), item->text(RunName));
    }
    // Drop runs no longer selected; new ones start from step -1 (the whole history).
    for (auto it = watched_.begin(); it != watched_.end();) {
        if (!selected.contains(it.key())) {
            plot_->removeSeriesWithPrefix(it->name + QLatin1Char('/'));
            it = watched_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = selected.constBegin(); it != selected.constEnd(); ++it) {
        if (!watched_.contains(it.key())) watched_.insert(it.key(), Watched{it.value(), -1, false, -1.0, nextToken_++});
    }
    poll();
}

void RunsPanel::poll() {
    if (!engine_->hasProject()) return;
    refreshRuns();  // statuses change while runs go
    QPointer<RunsPanel> self(this);
    for (auto it = watched_.begin(); it != watched_.end(); ++it) {
        if (it->inFlight) continue;  // one query per run at a time: no duplicate points
        it->inFlight = true;
        const qint64 runId = it.key();
        const qint64 after = it->lastStep;
        const quint64 token = it->token;
        engine_->readAsync([self, runId, after, token](store::Project& project) -> std::function<void()> {
            std::vector<store::MetricPoint> points = project.metrics(runId, after);
            return [self, runId, token, points = std::move(points)] {
                if (!self) return;
                auto w = self->watched_.find(runId);
                // Deselected meanwhile, or deselected and selected again (a new watch from step -1).
                if (w == self->watched_.end() || w->token != token) return;
                w->inFlight = false;
                // Wall time on the x axis reads as seconds since the run's first point.
                if (w->t0 < 0 && !points.empty()) w->t0 = points.front().wall_time;
                const double t0 = std::max(0.0, w->t0);
                for (const store::MetricPoint& p : points) {
                    const QString metric = QString::fromStdString(p.name);
                    self->addMetricName(metric);
                    const QString series = w->name + QLatin1Char('/') + metric;
                    self->plot_->appendPoint(series, double(p.step), p.wall_time - t0, p.value);
                    w->lastStep = std::max<qint64>(w->lastStep, p.step);
                }
                self->applyMetricVisibility();
            };
        });
    }
}

void RunsPanel::addMetricName(const QString& metric) {
    if (metricNames_.contains(metric)) return;
    metricNames_.insert(metric);
    auto* item = new QListWidgetItem(metric, metrics_);
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    // Check the headline metric by default, or the first metric when none of them is logged.
    const bool check = kDefaultMetrics.contains(metric) || metricNames_.size() == 1;
    item->setCheckState(check ? Qt::Checked : Qt::Unchecked);
    metrics_->sortItems();
}

bool RunsPanel::metricChecked(const QString& metric) const {
    for (int i = 0; i < metrics_->count(); ++i) {
        if (metrics_->item(i)->text() == metric) return metrics_->item(i)->checkState() == Qt::Checked;
    }
    return false;
}

void RunsPanel::applyMetricVisibility() {
    for (const QString& series : plot_->seriesNames()) {
        for (auto it = watched_.constBegin(); it != watched_.constEnd(); ++it) {
            const QString prefix = it->name + QLatin1Char('/');
            if (series.startsWith(prefix)) plot_->setSeriesVisible(series, metricChecked(series.mid(prefix.size())));
        }
    }
}

void RunsPanel::showSamples(qint64 runId, qint64 step) {
    QPointer<RunsPanel> self(this);
    engine_->readAsync([self, runId, step](store::Project& project) -> std::function<void()> {
        std::vector<store::Sample> samples = project.samples(runId, step - 1, 50);
        return [self, runId, step, samples = std::move(samples)] {
            if (!self) return;
            self->samples_->setRowCount(0);
            // The samples of the clicked step, or of the next step that logged any.
            const qint64 shown = samples.empty() ? step : samples.front().step;
            for (const store::Sample& s : samples) {
                if (s.step != shown) continue;
                const int row = self->samples_->rowCount();
                self->samples_->insertRow(row);
                auto* stepItem = new QTableWidgetItem(QString::number(s.step));
                stepItem->setData(Qt::UserRole, QVariant::fromValue<qlonglong>(runId));
                self->samples_->setItem(row, 0, stepItem);
                self->samples_->setItem(row, 1, new QTableWidgetItem(s.reward ? QString::number(*s.reward, 'g', 4) : QString()));
                self->samples_->setItem(row, 2, new QTableWidgetItem(QString::fromStdString(s.prompt)));
                self->samples_->setItem(row, 3, new QTableWidgetItem(QString::fromStdString(s.response)));
            }
        };
    });
}

void RunsPanel::openRollouts(qint64 runId, qint64 step) {
    if (!engine_->hasProject()) return;
    if (!rolloutWindow_) {
        rolloutWindow_ = new QDialog(this, Qt::Window);
        rolloutWindow_->setObjectName(QStringLiteral("rolloutWindow"));
        rolloutWindow_->setWindowTitle(tr("Rollouts"));
        rolloutView_ = new RolloutView(rolloutWindow_);
        auto* layout = new QVBoxLayout(rolloutWindow_);
        layout->setContentsMargins(4, 4, 4, 4);
        layout->addWidget(rolloutView_);
        rolloutWindow_->resize(900, 700);
    }
    QString runName = QStringLiteral("run #%1").arg(runId);
    if (watched_.contains(runId)) runName = watched_.value(runId).name;
    QPointer<RunsPanel> self(this);
    engine_->readAsync([self, runId, step, runName](store::Project& project) -> std::function<void()> {
        // A step's rollouts: PPO/GRPO log at most a batch per step, so 1000 covers one step.
        std::vector<store::Sample> samples = project.samples(runId, step - 1, 1000);
        QVector<RolloutSample> rollouts;
        const qint64 shown = samples.empty() ? step : samples.front().step;
        for (const store::Sample& s : samples) {
            if (s.step == shown) rollouts.push_back(rolloutFromSample(s));
        }
        return [self, runName, shown, rollouts = std::move(rollouts)] {
            if (!self || !self->rolloutWindow_) return;
            self->rolloutView_->setSamples(runName, shown, rollouts);
            self->rolloutWindow_->setWindowTitle(tr("Rollouts — %1, step %2").arg(runName).arg(shown));
            self->rolloutWindow_->show();
            self->rolloutWindow_->raise();
        };
    });
}

}  // namespace rlhf::ui
