// Reward-model scoring for the Reward inspector (issue 6 item 6): the job that runs `rlhf score`
// as a child process (like Engine::startTraining runs `rlhf train`: LibTorch stays out of the GUI
// process), the parsed pair lines, and RewardStats — the plain statistics the panel shows
// (histogram binning, accuracy overall and per slice, the worst pairs), kept apart from widgets
// so they are unit-tested against hand-computed values.
#pragma once
#include <QString>
#include <QStringList>
#include <QVector>

#include <functional>
#include <optional>

namespace rlhf::store {
class Project;
}

namespace rlhf::ui {

class Engine;

// One line of `rlhf score`: a preference pair with both scores.
struct ScoredPair {
    qint64 id = 0;              // record id (dataset) or comparison id (comparisons)
    QString dataset;            // dataset name, or "comparisons"
    QString annotator;          // "" for dataset records
    QString split;              // "train" | "eval" (held out) when the model's run trained on this set, else ""
    QString prompt, chosen, rejected;
    int chosenTokens = 0;       // response tokens including EOS (before any cut to max_length)
    int rejectedTokens = 0;
    double scoreChosen = 0;
    double scoreRejected = 0;

    double margin() const { return scoreChosen - scoreRejected; }
    // As RmTask::accuracy counts: strictly higher for chosen; a tie is wrong.
    bool correct() const { return scoreChosen > scoreRejected; }
};

// Parses one pair line; nullopt for progress/summary lines and anything that is not a pair.
std::optional<ScoredPair> parseScoredPair(const QByteArray& line);

// Equal-width bins over [lo, lo + width * counts.size()); the maximum value falls in the last bin.
struct Histogram {
    double lo = 0;
    double width = 1;
    QVector<int> counts;
    double edge(int i) const { return lo + width * i; }
    double center(int i) const { return lo + width * (i + 0.5); }
};

// `bins` equal bins spanning [lo, hi]; a value v goes to floor((v - lo) / width), clamped into
// [0, bins-1] (so hi itself lands in the last bin). hi <= lo is widened to [lo - 0.5, lo + 0.5].
Histogram makeHistogram(const QVector<double>& values, int bins, double lo, double hi);

// Accuracy over one slice value, e.g. {"length", "64–127 tokens", 12, 9}.
struct SliceAccuracy {
    QString slice;   // "all" | "dataset" | "split" | "length" | "annotator"
    QString value;   // the slice value ("" for "all")
    int pairs = 0;
    int correct = 0;
    double accuracy() const { return pairs > 0 ? double(correct) / pairs : 0.0; }
};

class RewardStats {
public:
    // Length buckets by the longer response of a pair (tokens): [0,32), [32,64), [64,128),
    // [128,256), [256,512), [512,∞). Long responses are where reward models learn length bias.
    static constexpr int kLengthEdges[] = {32, 64, 128, 256, 512};
    static QString lengthBucket(int tokens);
    static int lengthBucketIndex(int tokens);

    void clear() { pairs_.clear(); }
    void add(const ScoredPair& pair) { pairs_.push_back(pair); }
    void add(const QVector<ScoredPair>& pairs) { pairs_ += pairs; }
    const QVector<ScoredPair>& pairs() const { return pairs_; }
    int count() const { return int(pairs_.size()); }

    double accuracy() const;     // fraction correct; 0 with no pairs
    double meanMargin() const;   // mean of score_chosen - score_rejected

    // Chosen and rejected scores binned on the SAME bins (over the min..max of both), so the two
    // overlaid histograms compare bar for bar.
    struct ScoreHistograms {
        Histogram chosen, rejected;
    };
    ScoreHistograms scoreHistograms(int bins) const;
    Histogram marginHistogram(int bins) const;  // over min..max of the margins

    // "all" first, then each dataset (by name), each training split ("eval" then "train"; pairs
    // without one are in none), each length bucket (short to long), each annotator (by name; pairs
    // without an annotator are not an annotator slice). Held-out accuracy far below train accuracy
    // says the reward model memorised its pairs.
    QVector<SliceAccuracy> slices() const;

    // Indices into pairs() of the `n` lowest margins (most wrong first); equal margins keep input order.
    QVector<int> worstPairs(int n) const;

private:
    QVector<ScoredPair> pairs_;
};

// What to score: a reward model folder and a preference set of a project.
struct ScoreRequest {
    QString modelDir;      // HF SequenceClassification folder (e.g. <project>/runs/<id>/final)
    QString projectDir;
    QString dataset;       // a dataset name, or "" with comparisons = true
    bool comparisons = false;  // the project's human-labelled comparisons instead of a dataset
    QString split;         // "" / "all" | "train" | "eval": which side of the run's training split (datasets only)
    int limit = 0;         // 0 = every pair
    int batch = 8;         // pairs per forward (2 * batch rows)
};

// The `rlhf score` arguments for a request.
QStringList scoreArguments(const ScoreRequest& request);

// Reward models offered by the inspector: the `final` folders of the project's reward-model runs.
struct RewardModelChoice {
    QString label;    // "<run name> #<id> (<status>)"
    QString dir;
    QString dataset;  // the dataset the run trained on (its config's data.dataset), "" if unknown
};
QVector<RewardModelChoice> rewardModelChoices(store::Project& project);

// Starts `rlhf score` (Engine::cliPath()) on a worker job of `engine`. Parsed pairs reach
// `onPairs` on the GUI thread in batches (at most ~10 a second); progress goes through the job's
// jobProgress; a failing CLI ends the job with its last stderr line; cancel terminates the child.
// `onPairs` must guard its own lifetime (capture a QPointer).
int startScoring(Engine* engine, const ScoreRequest& request, std::function<void(QVector<ScoredPair>)> onPairs);

}  // namespace rlhf::ui
