// The chat half of the engine: finding model folders, one `rlhf chat --json` child process per
// model driven from its own worker thread (ChatClient), storing chat feedback, exporting it as a
// preference dataset, and building the bundled demo project as a job.
//
// Why a child process: LibTorch stays out of the GUI process (ui/ never includes <torch/…>), a
// crash in a model cannot take the window down, and two models answer concurrently in two
// processes (the A|B mode). The protocol is documented in app/rlhf/torch_cmd_chat.cpp.
#pragma once
#include <QJsonObject>
#include <QObject>
#include <QPair>
#include <QString>
#include <QStringList>
#include <QVector>

#include <cstdint>
#include <optional>

class QThread;

namespace rlhf::store {
class Project;
}

namespace rlhf::ui {

class Engine;

// ---- model discovery

struct ChatModelEntry {
    QString label;   // what the combo box shows, e.g. "run 4 · demo-ppo (final)"
    QString path;    // the model folder (config.json + tokenizer.json inside)
    QString source;  // "project", "hf-cache" or "added"
};

// True when `dir` holds config.json and tokenizer.json (what `rlhf chat` loads).
bool isModelFolder(const QString& dir);
// The Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
QString huggingFaceHubDir();
// Model folders of the project (models/*, runs/<id>/final, named from the store's runs when
// `project` is given), of the HF cache (hub/models--org--name/snapshots/<rev>) and the folders
// the user added (each a model folder itself, or a folder whose direct children are).
QVector<ChatModelEntry> findChatModels(const QString& projectDir, const QStringList& addedFolders,
                                       store::Project* project = nullptr);

// ---- one chat child process

// Sampling settings of one request (the protocol's fields).
struct ChatSampling {
    double temperature = 0.7;  // 0 = greedy
    double topP = 0.95;        // nucleus mass kept (1 = off)
    int topK = 50;             // candidates kept (0 = off)
    int maxNewTokens = 64;     // reply length cap, tokens
    qint64 seed = 0;           // sampling seed: the same seed and settings repeat a reply
};

struct ChatTurn {
    QString role;  // "system" | "user" | "assistant"
    QString content;
};

// The request line the client writes: {"id", "messages" | "prompt", "system", sampling…}.
// completion = true sends the user's last message as a plain `prompt` (no chat template).
QJsonObject chatRequestJson(int id, const QVector<ChatTurn>& messages, const QString& system,
                            const ChatSampling& sampling, bool completion);

class ChatWorker;

// GUI-thread handle on one `rlhf chat --model DIR --json` process. The QProcess lives on a worker
// QThread and is used with asynchronous signals only, so neither thread ever blocks on it; the
// handle talks to it through queued calls and receives queued signals.
class ChatClient : public QObject {
    Q_OBJECT
public:
    // Starts the process at once (loading takes a moment; requests sent before `ready` queue up
    // in the child's stdin). `cli` = "" uses Engine::cliPath().
    explicit ChatClient(const QString& modelDir, QObject* parent = nullptr, const QString& cli = QString());
    ~ChatClient() override;  // returns at once; its thread cancels, closes stdin, waits, kills what is left

    QString modelDir() const { return modelDir_; }
    bool isReady() const { return ready_; }
    bool hasFailed() const { return failed_; }
    // Sends one request; returns its id. Its events arrive as token/done/requestFailed signals.
    int send(const QVector<ChatTurn>& messages, const QString& system, const ChatSampling& sampling,
             bool completion);
    void cancel(int id);  // asks the child to stop request `id` between two tokens

Q_SIGNALS:
    void ready();
    // Consecutive pieces read in one go are joined, so a fast model cannot flood the GUI queue.
    void token(int id, const QString& text);
    void done(int id, const QString& text, int tokens, double tokensPerSecond, const QString& finishReason);
    void requestFailed(int id, const QString& message);
    // The process could not start or ended unexpectedly; `message` includes its last stderr line.
    void processFailed(const QString& message);

private:
    friend class ChatWorker;
    void onEventForWorker(const QJsonObject& event);  // on the GUI thread, posted by the worker

    QString modelDir_;
    QThread* thread_;
    ChatWorker* worker_;  // lives on thread_
    int nextId_ = 1;
    int inFlight_ = 0;  // the newest request not yet answered (cancelled on shutdown)
    bool ready_ = false;
    bool failed_ = false;
};

// ---- feedback in the store (GUI-thread connection: each is one small transaction)

// Stores a preference between two replies to the same parent message ("A better").
int64_t storePreference(store::Project& project, int64_t chosenMessageId, int64_t rejectedMessageId);
// Stores a thumbs rating (+1 / -1) of one reply.
int64_t storeRating(store::Project& project, int64_t messageId, int rating);
// Adds Project::feedback_preference_pairs() as preference records to dataset `name` (created if
// missing); returns {pairs found, records newly inserted}. Re-exporting adds only new pairs.
QPair<qint64, qint64> exportFeedbackDataset(store::Project& project, const QString& name);

// ---- the demo project (issue 7)

// $RLHF_DEMO_PROJECT, else ~/rlhf-demo (the same folder installer/run-workbench.sh uses).
QString defaultDemoProjectDir();
// True when `dir` holds a built demo (its base model folder exists).
bool isDemoProjectBuilt(const QString& dir);
// Runs `rlhf demo --project DIR [extraArgs…]` as a job: its "pre-training step k/N" lines become
// progress; cancelling terminates the child. Ends with jobFinished/jobFailed/jobCancelled.
int startDemoBuild(Engine& engine, const QString& dir, const QStringList& extraArgs = {});

}  // namespace rlhf::ui
