#include "ui/jobs_widget.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QTimer>
#include <QToolButton>

#include "ui/engine.h"

namespace rlhf::ui {

JobsWidget::JobsWidget(Engine* engine, QWidget* parent) : QWidget(parent), engine_(engine) {
    setObjectName(QStringLiteral("jobsWidget"));
    layout_ = new QHBoxLayout(this);
    layout_->setContentsMargins(0, 0, 0, 0);
    layout_->setSpacing(12);
    connect(engine_, &Engine::jobStarted, this, &JobsWidget::addRow);
    connect(engine_, &Engine::jobProgress, this,
            [this](int id, qint64 done, qint64 total, double rate, double eta) {
                auto it = rows_.find(id);
                if (it == rows_.end()) return;
                if (total > 0) {
                    // QProgressBar is int-ranged; scale to per-mille for totals past 2^31.
                    it->bar->setRange(0, 1000);
                    it->bar->setValue(int(1000.0 * double(done) / double(total)));
                } else {
                    it->bar->setRange(0, 0);  // busy indicator
                }
                it->text->setText(formatProgress(done, total, rate, eta));
            });
    connect(engine_, &Engine::jobFailed, this,
            [this](int id, const QString& error) { endRow(id, JobOutcome::Failed, error); });
    connect(engine_, &Engine::jobFinished, this,
            [this](int id) { endRow(id, JobOutcome::Finished, QString()); });
    connect(engine_, &Engine::jobCancelled, this,
            [this](int id) { endRow(id, JobOutcome::Cancelled, QString()); });
}

void JobsWidget::addRow(int id, const QString& name) {
    Row row;
    row.box = new QWidget(this);
    row.box->setObjectName(QStringLiteral("job-%1").arg(id));
    auto* h = new QHBoxLayout(row.box);
    h->setContentsMargins(0, 0, 0, 0);
    row.name = new QLabel(name, row.box);
    row.bar = new QProgressBar(row.box);
    row.bar->setRange(0, 0);
    row.bar->setMaximumWidth(120);
    row.bar->setMaximumHeight(14);
    row.bar->setTextVisible(false);
    row.text = new QLabel(tr("starting…"), row.box);
    row.cancel = new QToolButton(row.box);
    row.cancel->setObjectName(QStringLiteral("cancelJob"));
    row.cancel->setText(tr("Cancel"));
    row.cancel->setToolTip(tr("Cancel %1").arg(name));
    h->addWidget(row.name);
    h->addWidget(row.bar);
    h->addWidget(row.text);
    h->addWidget(row.cancel);
    connect(row.cancel, &QToolButton::clicked, this, [this, id] {
        engine_->cancelJob(id);
        auto it = rows_.find(id);
        if (it != rows_.end()) it->text->setText(tr("cancelling…"));
    });
    layout_->addWidget(row.box);
    rows_.insert(id, row);
}

void JobsWidget::endRow(int id, JobOutcome outcome, const QString& error) {
    auto it = rows_.find(id);
    if (it == rows_.end()) return;
    it->bar->setRange(0, 1000);
    if (outcome == JobOutcome::Finished) it->bar->setValue(1000);
    disconnect(it->cancel, nullptr, this, nullptr);
    if (outcome == JobOutcome::Failed) {
        it->text->setText(tr("failed: %1").arg(error));
        it->text->setToolTip(error);
        it->text->setStyleSheet(QStringLiteral("color: #c0392b"));
        it->cancel->setText(tr("Dismiss"));
        connect(it->cancel, &QToolButton::clicked, this, [this, id] { removeRow(id); });
        return;
    }
    it->text->setText(outcome == JobOutcome::Cancelled ? tr("cancelled") : tr("done"));
    it->cancel->setEnabled(false);
    QTimer::singleShot(kLingerMs, this, [this, id] { removeRow(id); });
}

void JobsWidget::removeRow(int id) {
    auto it = rows_.find(id);
    if (it == rows_.end()) return;
    it->box->deleteLater();
    rows_.erase(it);
}

QString JobsWidget::rowText(int jobId) const {
    auto it = rows_.constFind(jobId);
    return it == rows_.constEnd() ? QString() : it->text->text();
}

}  // namespace rlhf::ui
