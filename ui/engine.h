// Engine — the one facade between the widgets and core/. It owns a worker QThread per long job
// (import, training, generation, a chat reply), turns core's plain C++ callbacks into queued
// signals, and cancels through a std::atomic<bool> that is deliberately NOT a slot: a slot would
// wait in the worker's event queue behind the very work it is meant to interrupt.
//
// A job is a function run on its own thread with a JobContext; it reports progress (count, rate,
// ETA), metric points and messages, and ends finished, failed (rlhf::Error/std::exception ->
// jobFailed(QString)) or cancelled (rlhf::Cancelled, or returning after the flag was raised).
#pragma once
#include <QElapsedTimer>
#include <QObject>
#include <QPair>
#include <QString>
#include <QStringList>
#include <QVector>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

class QThread;

namespace rlhf::store {
class Project;
}

namespace rlhf::ui {

// One metric sample as the plots want it. `series` is "<run>/<metric>" or just "<metric>".
struct MetricPoint {
    QString series;
    qint64 step = 0;
    double wallTime = 0;  // seconds since the job (or run) started
    double value = 0;
};

enum class JobOutcome { Running, Finished, Failed, Cancelled };

// What an import job reports back: core/data's ImportSummary plus the store's counts, in Qt types.
struct ImportResult {
    QString file, format, kind, dataset;
    qint64 recordsRead = 0, recordsOk = 0, recordsSkipped = 0;
    qint64 inserted = 0, duplicates = 0;                 // rows added / already held
    QVector<QPair<QString, qint64>> skippedByReason;     // reason category -> count
    QStringList issues;                                   // "<file>:<line>: <reason>", the first few
};

// Import choices from the dialog (a subset of data::ImportOptions, in Qt types).
struct ImportRequest {
    QString file;
    QString dataset;               // dataset name to add the records to (created if missing)
    QString format = QStringLiteral("auto");
    QString as;                    // "" = as the format says; "sft" | "preference" | "prompts"
    bool stripHtml = false;
    bool normalizeWhitespace = false;
};

// Progress arithmetic, kept apart from threads so it can be tested on its own: rate is items per
// second since start, ETA = remaining / rate (negative when unknown: no total or no rate yet).
struct ProgressEstimate {
    double rate = 0;
    double etaSeconds = -1;
};
ProgressEstimate estimateProgress(int64_t done, int64_t total, double elapsedSeconds);

// Formats "123/1000 · 45.2/s · ETA 0:20" for the status bar; total <= 0 leaves out the total/ETA.
QString formatProgress(int64_t done, int64_t total, double rate, double etaSeconds);

class Engine;
class JobContext;

// A run of the rlhf CLI as a child of a job's worker thread (training, scoring, pair generation,
// the demo build): LibTorch and a crash stay out of the window.
struct CliChild {
    QString cli;        // Engine::cliPath() or a stand-in
    QStringList args;
    std::string what;   // prefix of the error when the child fails, e.g. "rlhf score"
    std::function<void(const QByteArray&)> onStdoutLine;  // each stdout line, trimmed; null = drained
    std::function<void(const QString&)> onStderrLine;     // each non-empty stderr line, trimmed (optional)
    std::function<void()> afterRead;  // after each read of the pipes (optional), e.g. a batch flush
    std::function<void()> onEnd;      // once the child has ended or been cancelled, before the outcome
    // Cancel: SIGTERM with 5 s grace (a trainer may write a checkpoint on its way out), then
    // SIGKILL; false = SIGKILL at once (nothing to save).
    bool terminateFirst = true;
};
// Blocks the job's thread until the child ends. Cancelling the job stops the child and throws
// rlhf::Cancelled; a child that cannot start or fails throws rlhf::Error("<what>: <its last stderr
// line, or its exit status>").
void runCliChild(JobContext& ctx, const CliChild& child);

// Handed to a job's work function on the worker thread. Plain C++: core code can be given
// callbacks that capture it without knowing about Qt.
class JobContext {
public:
    bool cancelled() const { return cancel_->load(std::memory_order_relaxed); }
    const std::atomic<bool>* cancelFlag() const { return cancel_.get(); }
    void throwIfCancelled() const;  // throws rlhf::Cancelled
    // Progress: emitted at most every kProgressIntervalMs (and always for done == total).
    void progress(int64_t done, int64_t total);
    // Metric points are batched and flushed every kMetricFlushMs so a fast producer cannot flood
    // the GUI event queue with one event per point.
    void metric(const std::string& series, int64_t step, double value);
    void message(const std::string& text);
    // Runs `fn` on the GUI thread (queued), e.g. to hand a result to a panel.
    void postToGui(std::function<void()> fn);
    double elapsedSeconds() const { return clock_.nsecsElapsed() / 1e9; }
    int id() const { return id_; }

private:
    friend class Engine;
    JobContext(Engine* engine, int id, std::shared_ptr<std::atomic<bool>> cancel);
    void flushMetrics();

    Engine* engine_;
    int id_;
    std::shared_ptr<std::atomic<bool>> cancel_;
    QElapsedTimer clock_;
    qint64 lastProgressMs_ = -1000000;
    qint64 lastFlushMs_ = 0;
    QVector<MetricPoint> pendingMetrics_;
};

class Engine : public QObject {
    Q_OBJECT
public:
    static constexpr int kProgressIntervalMs = 100;  // ≤ 10 progress signals a second per job
    static constexpr int kMetricFlushMs = 50;        // metric batches ≤ 20 a second per job

    using Work = std::function<void(JobContext&)>;

    explicit Engine(QObject* parent = nullptr);
    ~Engine() override;  // cancels every job and waits for its thread

    // Starts `work` on a new worker thread; returns the job id (> 0).
    int startJob(const QString& name, Work work);
    // Raises the job's cancel flag. Not a slot on purpose (see the file comment); callable from any
    // thread. Returns false for an unknown or already-ended job.
    bool cancelJob(int id);
    void cancelAll();
    bool isRunning(int id) const;
    int runningJobCount() const;
    QString jobName(int id) const;
    // Blocks (processing no events) until the job's thread ends; for shutdown and tests.
    bool waitForJob(int id, int timeoutMs);

    // A synthetic job that emits `steps` points of a noisy decaying loss and a rising reward,
    // sleeping `intervalMs` between steps: exercises the whole job → plot path without LibTorch.
    int startDemoJob(int steps, int intervalMs, const QString& series = QStringLiteral("demo"));

    // ---- project (engine_store.cpp)
    // The GUI thread's own connection to the project. Panels may use it directly for the quick
    // calls a user waits on anyway (add_label commits durably before the next pair is shown,
    // next_unlabeled, datasets(), small metric polls); anything slower goes through readAsync or
    // a job, each with its own connection (SQLite connections are per thread).
    bool openProject(const QString& dir, QString* error = nullptr);
    bool hasProject() const { return bool(project_); }
    QString projectDir() const { return projectDir_; }
    store::Project& project();  // requires hasProject()

    // Runs `work` on the reader thread with that thread's connection; the function it returns is
    // then run on the GUI thread. Requests run one at a time, in order.
    using ReadWork = std::function<std::function<void()>(store::Project&)>;
    void readAsync(ReadWork work);

    // Names core/data accepts as an import format (besides "auto").
    static QStringList importFormatNames();
    // Import a file into a dataset on a worker (progress in bytes); ends with importFinished.
    int startImport(const ImportRequest& request);
    // For the labeling panel: one comparison (chosen vs rejected, sides by a seeded coin) for each
    // of the first `limit` preference records of the dataset that has none yet.
    int startComparisonsFromDataset(qint64 datasetId, int limit, quint64 seed = 42);

    // ---- training (engine_train.cpp)
    // "" when the YAML is a valid run config, else "line N: what" (core/train's parser when this
    // build has it, YAML syntax otherwise).
    static QString validateTrainConfig(const QString& yaml);
    // Runs `rlhf train CONFIG [--project DIR] [--resume]` as a child process on a worker: its JSON
    // line per step becomes progress and metric points ("<run name>/<metric>"); cancelling
    // terminates the child. A child process keeps LibTorch out of the GUI and a crash of a run
    // out of the window. The CLI is $RLHF_CLI, else `rlhf` next to this binary or on PATH.
    int startTraining(const QString& yaml, bool resume);
    // The memory the run would need (core/train/memory_estimate.h: weights, gradients, optimizer,
    // reference, reward model, activations, KV cache) against the machine's available memory.
    // Reads config.json and safetensors headers only (milliseconds). Model paths: ${PROJECT},
    // relative to the open project, or run:NAME (the newest completed run of that name).
    struct MemoryCheck {
        bool known = false;  // false: a model folder could not be sized (text says why)
        bool fits = true;    // estimate <= available (true when available is unknown)
        QString text;        // one line for the status area
        QString details;     // one line per item, for a tooltip
    };
    MemoryCheck estimateTrainMemory(const QString& yaml);
    static QString cliPath();

    // Build information for the About dialog: Qt version plus what core reports (LibTorch, CUDA).
    static QString backendInfo();

Q_SIGNALS:
    void jobStarted(int id, const QString& name);
    void jobProgress(int id, qint64 done, qint64 total, double rate, double etaSeconds);
    void jobMetrics(int id, const QVector<rlhf::ui::MetricPoint>& points);
    void jobMessage(int id, const QString& text);
    void jobFinished(int id);
    void jobFailed(int id, const QString& error);
    void jobCancelled(int id);
    // Any end (finished, failed or cancelled), after the specific signal.
    void jobEnded(int id, rlhf::ui::JobOutcome outcome);
    void projectOpened(const QString& dir);
    void importFinished(int id, const rlhf::ui::ImportResult& result);
    // The store changed in a way panels showing it should reload (import, new comparisons, runs).
    void projectDataChanged();

private:
    friend class JobContext;
    struct Job {
        int id = 0;
        QString name;
        std::shared_ptr<std::atomic<bool>> cancel;
        QThread* thread = nullptr;
        JobOutcome outcome = JobOutcome::Running;  // written by the worker before its thread ends
        QString error;
    };
    void onThreadFinished(int id);

    std::unique_ptr<store::Project> project_;  // GUI thread connection
    QString projectDir_;
    QThread* readerThread_ = nullptr;
    QObject* reader_ = nullptr;                  // lives on readerThread_
    std::shared_ptr<store::Project> readerProject_;  // touched only on readerThread_
    QString readerProjectDir_;                        // likewise

    mutable std::mutex mutex_;  // guards jobs_ (cancelJob may come from any thread)
    std::map<int, std::shared_ptr<Job>> jobs_;
    int nextId_ = 1;
};

}  // namespace rlhf::ui

Q_DECLARE_METATYPE(rlhf::ui::MetricPoint)
Q_DECLARE_METATYPE(rlhf::ui::JobOutcome)
Q_DECLARE_METATYPE(rlhf::ui::ImportResult)
