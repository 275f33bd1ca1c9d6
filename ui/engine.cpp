#include "ui/engine.h"

#include <QDateTime>
#include <QMetaObject>
#include <QProcess>
#include <QThread>
#include <QtGlobal>

#include <cmath>
#include <exception>
#include <functional>
#include <random>

#include "core/io/error.h"
#include "core/store/project.h"

namespace rlhf::ui {

// ---- progress arithmetic

ProgressEstimate estimateProgress(int64_t done, int64_t total, double elapsedSeconds) {
    ProgressEstimate e;
    if (elapsedSeconds > 0 && done > 0) e.rate = double(done) / elapsedSeconds;
    if (total > 0 && e.rate > 0) e.etaSeconds = double(std::max<int64_t>(0, total - done)) / e.rate;
    return e;
}

static QString formatDuration(double seconds) {
    const qint64 s = qint64(std::llround(seconds));
    if (s >= 3600) {
        return QStringLiteral("%1:%2:%3").arg(s / 3600).arg((s / 60) % 60, 2, 10, QLatin1Char('0'))
            .arg(s % 60, 2, 10, QLatin1Char('0'));
    }
    return QStringLiteral("%1:%2").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
}

QString formatProgress(int64_t done, int64_t total, double rate, double etaSeconds) {
    QString text = total > 0 ? QStringLiteral("%1/%2").arg(done).arg(total) : QString::number(done);
    if (rate > 0) text += QStringLiteral(" · %1/s").arg(rate, 0, 'f', rate < 10 ? 2 : 1);
    if (total > 0 && etaSeconds >= 0) text += QStringLiteral(" · ETA %1").arg(formatDuration(etaSeconds));
    return text;
}

// ---- JobContext (worker thread side)

JobContext::JobContext(Engine* engine, int id, std::shared_ptr<std::atomic<bool>> cancel)
    : engine_(engine), id_(id), cancel_(std::move(cancel)) {
    clock_.start();
}

void JobContext::throwIfCancelled() const {
    if (cancelled()) throw rlhf::Cancelled();
}

void JobContext::progress(int64_t done, int64_t total) {
    const qint64 now = clock_.elapsed();
    if (now - lastProgressMs_ < Engine::kProgressIntervalMs && done != total) return;
    lastProgressMs_ = now;
    const ProgressEstimate e = estimateProgress(done, total, elapsedSeconds());
    QMetaObject::invokeMethod(engine_, [eng = engine_, id = id_, done, total, e] {
        Q_EMIT eng->jobProgress(id, done, total, e.rate, e.etaSeconds);
    }, Qt::QueuedConnection);
}

void JobContext::metric(const std::string& series, int64_t step, double value) {
    pendingMetrics_.push_back(MetricPoint{QString::fromStdString(series), step, elapsedSeconds(), value});
    if (clock_.elapsed() - lastFlushMs_ >= Engine::kMetricFlushMs) flushMetrics();
}

void JobContext::flushMetrics() {
    lastFlushMs_ = clock_.elapsed();
    if (pendingMetrics_.isEmpty()) return;
    QVector<MetricPoint> batch;
    batch.swap(pendingMetrics_);
    QMetaObject::invokeMethod(engine_, [eng = engine_, id = id_, batch = std::move(batch)] {
        Q_EMIT eng->jobMetrics(id, batch);
    }, Qt::QueuedConnection);
}

void JobContext::message(const std::string& text) {
    QMetaObject::invokeMethod(engine_, [eng = engine_, id = id_, t = QString::fromStdString(text)] {
        Q_EMIT eng->jobMessage(id, t);
    }, Qt::QueuedConnection);
}

void JobContext::postToGui(std::function<void()> fn) {
    QMetaObject::invokeMethod(engine_, std::move(fn), Qt::QueuedConnection);
}

// ---- Engine (GUI thread side)

Engine::Engine(QObject* parent) : QObject(parent) {
    qRegisterMetaType<MetricPoint>();
    qRegisterMetaType<QVector<MetricPoint>>();
    qRegisterMetaType<JobOutcome>();
    qRegisterMetaType<ImportResult>();
    // One long-lived reader thread with its own connection serves the paged views (readAsync).
    readerThread_ = new QThread(this);
    readerThread_->setObjectName(QStringLiteral("store-reader"));
    reader_ = new QObject;
    reader_->moveToThread(readerThread_);
    connect(readerThread_, &QThread::finished, reader_, &QObject::deleteLater);
    readerThread_->start();
}

Engine::~Engine() {
    readerThread_->quit();
    readerThread_->wait();
    cancelAll();
    std::map<int, std::shared_ptr<Job>> jobs;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        jobs.swap(jobs_);
    }
    for (auto& [id, job] : jobs) {
        job->thread->wait();
        delete job->thread;  // its finished() handler will never run: this object is going away
    }
}

int Engine::startJob(const QString& name, Work work) {
    auto job = std::make_shared<Job>();
    job->name = name;
    job->cancel = std::make_shared<std::atomic<bool>>(false);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        job->id = nextId_++;
        jobs_[job->id] = job;
    }
    const int id = job->id;
    // The worker owns the JobContext; the Job record outlives the thread (shared_ptr) so the
    // outcome it writes is still there when finished() is handled on the GUI thread.
    job->thread = QThread::create([this, job, work = std::move(work)] {
        JobContext ctx(this, job->id, job->cancel);
        try {
            work(ctx);
            job->outcome = ctx.cancelled() ? JobOutcome::Cancelled : JobOutcome::Finished;
        } catch (const rlhf::Cancelled&) {
            job->outcome = JobOutcome::Cancelled;
        } catch (const std::exception& e) {
            job->outcome = JobOutcome::Failed;
            job->error = QString::fromUtf8(e.what());
        } catch (...) {
            job->outcome = JobOutcome::Failed;
            job->error = QStringLiteral("unknown error");
        }
        ctx.flushMetrics();  // queued before finished(), so every point arrives before the end
    });
    job->thread->setObjectName(QStringLiteral("job-%1").arg(id));
    connect(job->thread, &QThread::finished, this, [this, id] { onThreadFinished(id); },
            Qt::QueuedConnection);
    Q_EMIT jobStarted(id, name);
    job->thread->start();
    return id;
}

void Engine::onThreadFinished(int id) {
    std::shared_ptr<Job> job;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = jobs_.find(id);
        if (it == jobs_.end()) return;
        job = it->second;
        jobs_.erase(it);
    }
    job->thread->wait();
    job->thread->deleteLater();
    switch (job->outcome) {
    case JobOutcome::Failed: Q_EMIT jobFailed(id, job->error); break;
    case JobOutcome::Cancelled: Q_EMIT jobCancelled(id); break;
    default: Q_EMIT jobFinished(id); break;
    }
    Q_EMIT jobEnded(id, job->outcome);
}

bool Engine::cancelJob(int id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return false;
    it->second->cancel->store(true);
    return true;
}

void Engine::cancelAll() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, job] : jobs_) job->cancel->store(true);
}

bool Engine::isRunning(int id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return jobs_.count(id) > 0;
}

int Engine::runningJobCount() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return int(jobs_.size());
}

QString Engine::jobName(int id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    return it == jobs_.end() ? QString() : it->second->name;
}

bool Engine::waitForJob(int id, int timeoutMs) {
    QThread* thread = nullptr;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = jobs_.find(id);
        if (it == jobs_.end()) return true;
        thread = it->second->thread;
    }
    return thread->wait(QDeadlineTimer(timeoutMs));
}

int Engine::startDemoJob(int steps, int intervalMs, const QString& series) {
    const std::string prefix = series.toStdString();
    const std::string dir = projectDir_.toStdString();
    return startJob(QStringLiteral("Synthetic plot run (%1 steps)").arg(steps), [=](JobContext& ctx) {
        // With a project open the demo is a real run in the store (its own connection: this is
        // another thread), so the Runs panel sees it exactly as it sees a training run.
        std::unique_ptr<store::Project> project;
        int64_t runId = 0;
        if (!dir.empty()) {
            project = std::make_unique<store::Project>(store::Project::open(dir));
            store::RunInfo run;
            run.kind = "synthetic";  // made-up curves: labelled so nobody mistakes it for training
            run.name = prefix;
            run.config_yaml = "kind: demo\nsteps: " + std::to_string(steps) + "\n";
            run.status = store::RunStatus::Running;
            runId = project->create_run(run);
            ctx.postToGui([this] { Q_EMIT projectDataChanged(); });
        }
        // Seeded by the series name: two demo runs differ, the same one repeats.
        std::mt19937 rng(uint32_t(std::hash<std::string>{}(prefix)));
        std::normal_distribution<double> noise(0.0, 0.05);
        const double t0 = double(QDateTime::currentMSecsSinceEpoch()) / 1000.0;
        try {
            for (int step = 1; step <= steps; ++step) {
                ctx.throwIfCancelled();
                // A loss that decays like a real fine-tune and a reward that saturates.
                const double loss = 2.0 * std::exp(-step / 60.0) + 0.3 + noise(rng);
                const double score = 1.0 - std::exp(-step / 80.0) + noise(rng);
                ctx.metric(prefix + "/loss", step, loss);
                ctx.metric(prefix + "/objective/scores", step, score);
                if (project) {
                    const double wall = t0 + ctx.elapsedSeconds();
                    project->append_metrics(runId, {{"loss", step, loss, wall}, {"objective/scores", step, score, wall}});
                    if (step % 50 == 0) {
                        store::Sample sample;
                        sample.run_id = runId;
                        sample.step = step;
                        sample.prompt = "Say something kind.";
                        sample.response = "Demo response at step " + std::to_string(step) + ".";
                        sample.reward = score;
                        project->add_samples(runId, {sample});
                    }
                }
                ctx.progress(step, steps);
                if (intervalMs > 0) QThread::msleep(unsigned(intervalMs));
            }
        } catch (const rlhf::Cancelled&) {
            if (project) project->set_run_status(runId, store::RunStatus::Cancelled);
            ctx.postToGui([this] { Q_EMIT projectDataChanged(); });
            throw;
        }
        if (project) project->set_run_status(runId, store::RunStatus::Completed);
        ctx.postToGui([this] { Q_EMIT projectDataChanged(); });
    });
}

QString Engine::backendInfo() {
    QString info = QStringLiteral("Qt %1 (built with %2)").arg(QString::fromLatin1(qVersion()),
                                                               QStringLiteral(QT_VERSION_STR));
    // LibTorch (and CUDA) live in the training/generation process, not in the GUI: ask the CLI
    // this workbench runs jobs with. Quick (no model is loaded); bounded by a 2 s timeout.
    QProcess cli;
    cli.start(cliPath(), {QStringLiteral("version")});
    if (cli.waitForFinished(2000) && cli.exitCode() == 0) {
        info += QStringLiteral("\n") + QString::fromUtf8(cli.readAllStandardOutput()).trimmed();
    } else {
        cli.kill();
        cli.waitForFinished(1000);
        info += QStringLiteral("\nrlhf CLI not found (%1): LibTorch/CUDA unknown").arg(cliPath());
    }
    return info;
}

void runCliChild(JobContext& ctx, const CliChild& spec) {
    QProcess child;  // created on this worker thread; used only with blocking waits here
    child.start(spec.cli, spec.args);
    if (!child.waitForStarted(10000))
        throw rlhf::Error(spec.cli.toStdString() + ": cannot start: " + child.errorString().toStdString());
    QByteArray stderrPending;
    QString lastError;
    auto readPipes = [&] {
        child.setReadChannel(QProcess::StandardOutput);
        if (spec.onStdoutLine) {
            while (child.canReadLine()) spec.onStdoutLine(child.readLine().trimmed());
        } else {
            child.readAllStandardOutput();
        }
        stderrPending += child.readAllStandardError();
        qsizetype nl;
        while ((nl = stderrPending.indexOf('\n')) >= 0) {
            const QString line = QString::fromUtf8(stderrPending.left(nl)).trimmed();
            stderrPending.remove(0, nl + 1);
            if (line.isEmpty()) continue;
            lastError = line;
            if (spec.onStderrLine) spec.onStderrLine(line);
        }
        if (spec.afterRead) spec.afterRead();
    };
    while (child.state() != QProcess::NotRunning) {
        if (ctx.cancelled()) {
            if (spec.terminateFirst) {
                child.terminate();
                if (!child.waitForFinished(5000)) child.kill();
            } else {
                child.kill();
            }
            child.waitForFinished(5000);
            if (spec.onEnd) spec.onEnd();
            throw rlhf::Cancelled();
        }
        child.waitForReadyRead(100);
        readPipes();
    }
    readPipes();
    if (const QString rest = QString::fromUtf8(stderrPending).trimmed(); !rest.isEmpty()) {
        lastError = rest;  // a last line without its newline
        if (spec.onStderrLine) spec.onStderrLine(rest);
    }
    if (spec.onEnd) spec.onEnd();
    if (child.exitStatus() != QProcess::NormalExit || child.exitCode() != 0) {
        const std::string why = lastError.isEmpty() ? "exited with status " + std::to_string(child.exitCode())
                                                    : lastError.toStdString();
        throw rlhf::Error(spec.what + ": " + why);
    }
}

}  // namespace rlhf::ui
