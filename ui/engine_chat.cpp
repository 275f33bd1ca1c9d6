// Engine, the chat half: model discovery, the `rlhf chat --json` client, chat feedback in the
// store and the demo-project job. See ui/engine_chat.h.
#include "ui/engine_chat.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMetaObject>
#include <QPointer>
#include <QProcess>
#include <QRegularExpression>
#include <QThread>

#include <algorithm>
#include <mutex>

#include "core/io/error.h"
#include "core/store/project.h"
#include "ui/engine.h"

namespace rlhf::ui {

// ---- model discovery

bool isModelFolder(const QString& dir) {
    const QDir d(dir);
    return QFileInfo(d.filePath(QStringLiteral("config.json"))).isFile() &&
           QFileInfo(d.filePath(QStringLiteral("tokenizer.json"))).isFile();
}

QString huggingFaceHubDir() {
    const QString hubCache = qEnvironmentVariable("HF_HUB_CACHE");
    if (!hubCache.isEmpty()) return hubCache;
    const QString home = qEnvironmentVariable("HF_HOME");
    if (!home.isEmpty()) return QDir(home).filePath(QStringLiteral("hub"));
    return QDir::home().filePath(QStringLiteral(".cache/huggingface/hub"));
}

namespace {

QStringList subdirs(const QString& dir) {
    QStringList out;
    for (const QString& name : QDir(dir).entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name))
        out << QDir(dir).filePath(name);
    return out;
}

}  // namespace

QVector<ChatModelEntry> findChatModels(const QString& projectDir, const QStringList& addedFolders,
                                       store::Project* project) {
    QVector<ChatModelEntry> out;
    auto add = [&](const QString& label, const QString& path, const QString& source) {
        const QString canonical = QFileInfo(path).absoluteFilePath();
        for (const ChatModelEntry& e : out)
            if (e.path == canonical) return;
        out.push_back({label, canonical, source});
    };
    if (!projectDir.isEmpty()) {
        // models/<name>: the demo's pre-trained model and anything the user copies there.
        for (const QString& dir : subdirs(QDir(projectDir).filePath(QStringLiteral("models"))))
            if (isModelFolder(dir)) add(QStringLiteral("models/%1").arg(QFileInfo(dir).fileName()), dir, QStringLiteral("project"));
        // runs/<id>/final: what `rlhf train` exports at the end of a run; newest run first.
        QStringList runDirs = subdirs(QDir(projectDir).filePath(QStringLiteral("runs")));
        std::sort(runDirs.begin(), runDirs.end(), [](const QString& a, const QString& b) {
            return QFileInfo(a).fileName().toLongLong() > QFileInfo(b).fileName().toLongLong();
        });
        for (const QString& runDir : runDirs) {
            const QString final = QDir(runDir).filePath(QStringLiteral("final"));
            if (!isModelFolder(final)) continue;
            // A reward model's export has the same layout but its head scores, it does not write:
            // the run's config copy says which algorithm made it.
            QString algo, name;
            QFile config(QDir(runDir).filePath(QStringLiteral("config.yaml")));
            if (config.open(QIODevice::ReadOnly)) {
                static const QRegularExpression keyRe(QStringLiteral("^(algo|name):\\s*([^#\\s]+)"),
                                                      QRegularExpression::MultilineOption);
                auto it = keyRe.globalMatch(QString::fromUtf8(config.read(64 * 1024)));
                while (it.hasNext()) {
                    const QRegularExpressionMatch m = it.next();
                    (m.captured(1) == QStringLiteral("algo") ? algo : name) = m.captured(2);
                }
            }
            if (algo == QStringLiteral("rm")) continue;
            bool isNumber = false;
            const qint64 runId = QFileInfo(runDir).fileName().toLongLong(&isNumber);
            if (project && isNumber && name.isEmpty()) {
                try {
                    if (auto run = project->run(runId)) name = QString::fromStdString(run->name);
                } catch (const std::exception&) {
                    // An unreadable store only loses the label's run name.
                }
            }
            QString label = QStringLiteral("run %1").arg(QFileInfo(runDir).fileName());
            if (!name.isEmpty()) label += QStringLiteral(" · %1").arg(name);
            if (!algo.isEmpty()) label += QStringLiteral(" (%1)").arg(algo);
            add(label, final, QStringLiteral("project"));
        }
    }
    // The HF hub cache: models--<org>--<name>/snapshots/<revision>/.
    for (const QString& repo : subdirs(huggingFaceHubDir())) {
        const QString base = QFileInfo(repo).fileName();
        if (!base.startsWith(QStringLiteral("models--"))) continue;
        const QString name = base.mid(8).replace(QStringLiteral("--"), QStringLiteral("/"));
        for (const QString& snap : subdirs(QDir(repo).filePath(QStringLiteral("snapshots"))))
            if (isModelFolder(snap))
                add(QStringLiteral("%1 @%2").arg(name, QFileInfo(snap).fileName().left(7)), snap, QStringLiteral("hf-cache"));
    }
    for (const QString& folder : addedFolders) {
        if (isModelFolder(folder)) {
            add(QDir::toNativeSeparators(folder), folder, QStringLiteral("added"));
            continue;
        }
        for (const QString& dir : subdirs(folder))
            if (isModelFolder(dir)) add(QDir::toNativeSeparators(dir), dir, QStringLiteral("added"));
    }
    return out;
}

// ---- the request line

QJsonObject chatRequestJson(int id, const QVector<ChatTurn>& messages, const QString& system,
                            const ChatSampling& sampling, bool completion) {
    QJsonObject o{{QStringLiteral("id"), id},
                  {QStringLiteral("max_new_tokens"), sampling.maxNewTokens},
                  {QStringLiteral("temperature"), sampling.temperature},
                  {QStringLiteral("top_p"), sampling.topP},
                  {QStringLiteral("top_k"), sampling.topK},
                  {QStringLiteral("seed"), sampling.seed}};
    if (completion) {
        // A plain completion continues the user's last message (the demo models write reviews).
        QString prompt;
        for (const ChatTurn& t : messages)
            if (t.role == QStringLiteral("user")) prompt = t.content;
        o.insert(QStringLiteral("prompt"), prompt);
        return o;
    }
    QJsonArray arr;
    for (const ChatTurn& t : messages)
        arr.append(QJsonObject{{QStringLiteral("role"), t.role}, {QStringLiteral("content"), t.content}});
    o.insert(QStringLiteral("messages"), arr);
    if (!system.isEmpty()) o.insert(QStringLiteral("system"), system);
    return o;
}

// ---- ChatWorker: the QProcess, on its own thread

// Lives on ChatClient's worker thread; every member runs there. No Q_OBJECT: it has no signals of
// its own, it posts to the client with queued functors.
class ChatWorker : public QObject {
public:
    ChatWorker(QString cli, QStringList args, ChatClient* client)
        : cli_(std::move(cli)), args_(std::move(args)), client_(client) {}

    // Called on the GUI thread by ~ChatClient: after it returns no event is posted to the client
    // any more (post() holds the same mutex), so the client may go while this worker winds down.
    void detach() {
        std::lock_guard<std::mutex> lock(clientMutex_);
        client_ = nullptr;
    }

    void start() {
        process_ = new QProcess(this);
        connect(process_, &QProcess::readyReadStandardOutput, this, &ChatWorker::readOut);
        connect(process_, &QProcess::readyReadStandardError, this, [this] {
            const QByteArray err = process_->readAllStandardError().trimmed();
            if (!err.isEmpty()) lastError_ = QString::fromUtf8(err.split('\n').last());
        });
        connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
            if (e == QProcess::FailedToStart) post(failure(QStringLiteral("cannot start %1: %2").arg(cli_, process_->errorString())));
        });
        connect(process_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
            readOut();
            if (stopping_) return;
            const QString how = status == QProcess::CrashExit ? QStringLiteral("crashed")
                                                              : QStringLiteral("exited with status %1").arg(code);
            post(failure(QStringLiteral("rlhf chat %1%2").arg(how, lastError_.isEmpty() ? QString() : QStringLiteral(": ") + lastError_)));
        });
        process_->start(cli_, args_);
    }

    void write(const QByteArray& line) {
        if (process_ && process_->state() != QProcess::NotRunning) process_->write(line + '\n');
    }

    // Ends the child: end of input lets it finish and exit; a reply in flight is cancelled first.
    void shutdown(const QByteArray& cancelLine) {
        stopping_ = true;
        if (!process_) return;
        if (process_->state() != QProcess::NotRunning) {
            if (!cancelLine.isEmpty()) process_->write(cancelLine + '\n');
            process_->closeWriteChannel();
            if (!process_->waitForFinished(2000)) {
                process_->kill();
                process_->waitForFinished(2000);
            }
        }
        delete process_;
        process_ = nullptr;
    }

private:
    static QJsonObject failure(const QString& message) {
        return QJsonObject{{QStringLiteral("event"), QStringLiteral("process_failed")}, {QStringLiteral("message"), message}};
    }

    void post(const QJsonObject& event) {
        std::lock_guard<std::mutex> lock(clientMutex_);
        ChatClient* client = client_;
        if (!client) return;
        QMetaObject::invokeMethod(client, [client, event] { client->onEventForWorker(event); }, Qt::QueuedConnection);
    }

    void readOut() {
        buffer_ += process_->readAllStandardOutput();
        // Consecutive token pieces of one request in this read are joined into one event.
        QJsonObject pending;
        QString pendingText;
        auto flush = [&] {
            if (pending.isEmpty()) return;
            pending.insert(QStringLiteral("text"), pendingText);
            post(pending);
            pending = QJsonObject();
            pendingText.clear();
        };
        qsizetype nl;
        while ((nl = buffer_.indexOf('\n')) >= 0) {
            const QByteArray line = buffer_.left(nl);
            buffer_.remove(0, nl + 1);
            const QJsonObject ev = QJsonDocument::fromJson(line).object();
            if (ev.isEmpty()) continue;
            if (ev.value(QStringLiteral("event")).toString() == QStringLiteral("token")) {
                if (!pending.isEmpty() && pending.value(QStringLiteral("id")) != ev.value(QStringLiteral("id"))) flush();
                if (pending.isEmpty()) pending = ev;
                pendingText += ev.value(QStringLiteral("text")).toString();
                continue;
            }
            flush();
            post(ev);
        }
        flush();
    }

    QString cli_;
    QStringList args_;
    std::mutex clientMutex_;  // guards client_ (read here, cleared by detach() on the GUI thread)
    ChatClient* client_;      // null once the client is gone
    QProcess* process_ = nullptr;
    QByteArray buffer_;
    QString lastError_;
    bool stopping_ = false;
};

// ---- ChatClient

ChatClient::ChatClient(const QString& modelDir, QObject* parent, const QString& cli)
    : QObject(parent), modelDir_(modelDir), thread_(new QThread) {
    const QString program = cli.isEmpty() ? Engine::cliPath() : cli;
    worker_ = new ChatWorker(program, {QStringLiteral("chat"), QStringLiteral("--model"), modelDir, QStringLiteral("--json")}, this);
    worker_->moveToThread(thread_);
    thread_->setObjectName(QStringLiteral("chat-client"));
    thread_->start();
    QMetaObject::invokeMethod(worker_, [w = worker_] { w->start(); }, Qt::QueuedConnection);
}

ChatClient::~ChatClient() {
    // Never blocks the GUI thread (switching a model mid-reply must not freeze the window): the
    // worker is detached from this client, then cancels the reply, closes the child's input and
    // waits for it (≤ 4 s) on its own thread, which then ends and deletes itself and the worker.
    QByteArray cancelLine;
    if (inFlight_ > 0)
        cancelLine = QJsonDocument(QJsonObject{{QStringLiteral("cancel"), inFlight_}}).toJson(QJsonDocument::Compact);
    worker_->detach();
    QThread* thread = thread_;
    connect(thread, &QThread::finished, worker_, &QObject::deleteLater);
    connect(thread, &QThread::finished, thread, &QObject::deleteLater);
    QMetaObject::invokeMethod(worker_, [w = worker_, thread, cancelLine] {
        w->shutdown(cancelLine);
        thread->quit();
    }, Qt::QueuedConnection);
}

int ChatClient::send(const QVector<ChatTurn>& messages, const QString& system, const ChatSampling& sampling,
                     bool completion) {
    const int id = nextId_++;
    inFlight_ = id;
    const QByteArray line =
        QJsonDocument(chatRequestJson(id, messages, system, sampling, completion)).toJson(QJsonDocument::Compact);
    QMetaObject::invokeMethod(worker_, [w = worker_, line] { w->write(line); }, Qt::QueuedConnection);
    return id;
}

void ChatClient::cancel(int id) {
    const QByteArray line = QJsonDocument(QJsonObject{{QStringLiteral("cancel"), id}}).toJson(QJsonDocument::Compact);
    QMetaObject::invokeMethod(worker_, [w = worker_, line] { w->write(line); }, Qt::QueuedConnection);
}

void ChatClient::onEventForWorker(const QJsonObject& ev) {
    const QString kind = ev.value(QStringLiteral("event")).toString();
    const int id = ev.value(QStringLiteral("id")).toInt();
    if (kind == QStringLiteral("token")) {
        Q_EMIT token(id, ev.value(QStringLiteral("text")).toString());
    } else if (kind == QStringLiteral("done")) {
        if (id == inFlight_) inFlight_ = 0;
        Q_EMIT done(id, ev.value(QStringLiteral("text")).toString(), ev.value(QStringLiteral("tokens")).toInt(),
                    ev.value(QStringLiteral("tokens_per_second")).toDouble(),
                    ev.value(QStringLiteral("finish_reason")).toString());
    } else if (kind == QStringLiteral("error")) {
        if (id == inFlight_) inFlight_ = 0;
        Q_EMIT requestFailed(id, ev.value(QStringLiteral("message")).toString());
    } else if (kind == QStringLiteral("ready")) {
        ready_ = true;
        Q_EMIT ready();
    } else if (kind == QStringLiteral("process_failed")) {
        failed_ = true;
        inFlight_ = 0;
        Q_EMIT processFailed(ev.value(QStringLiteral("message")).toString());
    }
}

// ---- feedback

int64_t storePreference(store::Project& project, int64_t chosenMessageId, int64_t rejectedMessageId) {
    store::Feedback f;
    f.message_id = chosenMessageId;
    f.rejected_message_id = rejectedMessageId;
    f.comment = "chat A|B";
    return project.add_feedback(f);
}

int64_t storeRating(store::Project& project, int64_t messageId, int rating) {
    store::Feedback f;
    f.message_id = messageId;
    f.rating = rating;
    return project.add_feedback(f);
}

QPair<qint64, qint64> exportFeedbackDataset(store::Project& project, const QString& name) {
    const std::vector<data::PreferencePair> pairs = project.feedback_preference_pairs();
    std::vector<data::Record> records;
    records.reserve(pairs.size());
    for (size_t i = 0; i < pairs.size(); ++i) {
        data::Record r;
        r.kind = data::RecordKind::Preference;
        r.pref = pairs[i];
        r.format = "chat-feedback";
        r.line = i + 1;
        records.push_back(std::move(r));
    }
    const int64_t dataset = project.dataset(name.toStdString(), "chat feedback (Chat panel: A|B preferences)");
    const store::ImportCounts counts = project.add_records(dataset, records);
    return {qint64(pairs.size()), qint64(counts.inserted)};
}

// ---- the demo project

QString defaultDemoProjectDir() {
    const QString env = qEnvironmentVariable("RLHF_DEMO_PROJECT");
    return env.isEmpty() ? QDir::home().filePath(QStringLiteral("rlhf-demo")) : env;
}

bool isDemoProjectBuilt(const QString& dir) {
    return isModelFolder(QDir(dir).filePath(QStringLiteral("models/sft")));
}

int startDemoBuild(Engine& engine, const QString& dir, const QStringList& extraArgs) {
    const QString cli = Engine::cliPath();
    QStringList args{QStringLiteral("demo"), QStringLiteral("--project"), dir};
    args << extraArgs;
    return engine.startJob(QStringLiteral("Build demo project"), [cli, args, dir](JobContext& ctx) {
        // `rlhf demo` narrates on stderr ("demo: pre-training step 50/600 …"); the pre-training is
        // most of its time, so its step count is the progress. Its stdout (a JSON summary) is not needed.
        static const QRegularExpression stepRe(QStringLiteral("pre-training step (\\d+)/(\\d+)"));
        CliChild spec;
        spec.cli = cli;
        spec.args = args;
        spec.what = "rlhf demo --project " + dir.toStdString();
        spec.onStderrLine = [&](const QString& line) {
            const QRegularExpressionMatch m = stepRe.match(line);
            if (m.hasMatch()) ctx.progress(m.captured(1).toLongLong(), m.captured(2).toLongLong());
            else ctx.message(line.toStdString());
        };
        spec.terminateFirst = false;  // the demo is rebuilt with --force next time; nothing to save
        runCliChild(ctx, spec);
    });
}

}  // namespace rlhf::ui
