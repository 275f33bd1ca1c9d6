// PairGenerator — the generation side of preference labeling (issue 6 item 3): runs
// `rlhf pairs` (app/rlhf/torch_cmd_pairs.cpp) as a child process on an Engine job, turns each JSON
// line it prints into a pairStored signal the moment that comparison is durable in the store, and
// keeps the annotator's queue topped up: when fewer than `lowWater` unlabelled comparisons remain
// (the panel reports the count) it starts another batch by itself, until the prompt set has no
// unused prompt left. A child process keeps LibTorch out of the GUI (DESIGN.md §3) and a crash of
// generation out of the window; cancelling terminates the child, keeping what it already stored.
#pragma once
#include <QObject>
#include <QString>
#include <QStringList>

namespace rlhf::ui {

class Engine;

// What to generate; the defaults of unset sampling fields come from each model's folder.
struct PairsRequest {
    QString prompts;                // dataset whose records give the prompts
    QString modelA;                 // model folder
    QString modelB;                 // "" = two samples of model A with different seeds
    int count = 8;                  // comparisons per batch (rlhf pairs --n)
    qint64 seed = 0;                // base seed (completions use seed + 2*prompt_id + side)
    int maxNewTokens = 0;           // 0 = the model's generation_config
    double temperature = -1;        // < 0 = the model's; 0 = greedy (needs a model B)
    double topP = -1;               // < 0 = the model's
    QString prelabel;               // "" | "rule" | "rm:DIR" (machine labels, never human ones)
};

// `rlhf pairs` arguments for a request on a project.
QStringList pairsArguments(const QString& projectDir, const PairsRequest& request);

// One comparison `rlhf pairs` stored (its JSON line, in Qt types).
struct GeneratedPair {
    qint64 comparisonId = 0;
    qint64 promptId = 0;
    bool aOnLeft = true;
    QString modelA, modelB;
    QString prelabel;               // "A" | "B" | "tie" | "" (none asked for)
    QString prelabelAnnotator;      // "simulated:..." when prelabel is set
    int done = 0, total = 0;        // within the batch
};

// Parses one stdout line of `rlhf pairs`; false for anything that is not a comparison line.
bool parsePairsLine(const QByteArray& line, GeneratedPair* out);

class PairGenerator : public QObject {
    Q_OBJECT
public:
    explicit PairGenerator(Engine* engine, QObject* parent = nullptr);
    ~PairGenerator() override;

    // Starts a batch now (returns the job id, 0 when one is already running or no project is open)
    // and remembers the request for the automatic batches that follow.
    int start(const PairsRequest& request);
    // Cancels the running batch and stops refilling.
    void stop();
    bool isRunning() const { return jobId_ != 0; }
    int jobId() const { return jobId_; }
    // Low-water mark: a new batch starts when the unlabelled count reported falls below it; 0 = off.
    void setLowWater(int k) { lowWater_ = k; }
    int lowWater() const { return lowWater_; }
    // The panel reports how many comparisons its annotator has left; may start a batch.
    void reportUnlabeled(qint64 remaining);
    // True after a batch stored nothing: the prompt set has no unused prompt for these models.
    bool exhausted() const { return exhausted_; }
    int batchesStarted() const { return batches_; }
    qint64 storedTotal() const { return stored_; }

Q_SIGNALS:
    void pairStored(const rlhf::ui::GeneratedPair& pair);
    void batchStarted(int jobId);
    // stored = comparisons the batch added; error is empty unless it failed.
    void batchEnded(int stored, const QString& error);

private:
    int launch();

    Engine* engine_;
    PairsRequest request_;
    bool active_ = false;      // a request was started and not stopped: refilling allowed
    bool exhausted_ = false;
    int jobId_ = 0;
    int lowWater_ = 0;
    int batches_ = 0;
    int batchStored_ = 0;
    qint64 stored_ = 0;
    QString batchError_;
};

}  // namespace rlhf::ui

Q_DECLARE_METATYPE(rlhf::ui::GeneratedPair)
