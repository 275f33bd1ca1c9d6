// PairGenerator: `rlhf pairs` as a child process on an Engine job, its JSON lines as signals.
#include "ui/engine_pairs.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>

#include "core/io/error.h"
#include "ui/engine.h"

namespace rlhf::ui {

QStringList pairsArguments(const QString& projectDir, const PairsRequest& r) {
    QStringList args{QStringLiteral("pairs"), QStringLiteral("--project"), projectDir, QStringLiteral("--prompts"),
                     r.prompts, QStringLiteral("--model-a"), r.modelA, QStringLiteral("--n"),
                     QString::number(r.count), QStringLiteral("--seed"), QString::number(r.seed)};
    if (!r.modelB.isEmpty()) args << QStringLiteral("--model-b") << r.modelB;
    if (r.maxNewTokens > 0) args << QStringLiteral("--max-new-tokens") << QString::number(r.maxNewTokens);
    if (r.temperature >= 0) args << QStringLiteral("--temperature") << QString::number(r.temperature, 'g', 17);
    if (r.topP >= 0) args << QStringLiteral("--top-p") << QString::number(r.topP, 'g', 17);
    if (!r.prelabel.isEmpty()) args << QStringLiteral("--prelabel") << r.prelabel;
    return args;
}

bool parsePairsLine(const QByteArray& line, GeneratedPair* out) {
    const QJsonObject o = QJsonDocument::fromJson(line).object();
    if (!o.contains(QStringLiteral("comparison"))) return false;
    GeneratedPair p;
    p.comparisonId = o.value(QStringLiteral("comparison")).toInteger();
    p.promptId = o.value(QStringLiteral("prompt_id")).toInteger();
    p.aOnLeft = o.value(QStringLiteral("a_on_left")).toBool(true);
    p.modelA = o.value(QStringLiteral("model_a")).toString();
    p.modelB = o.value(QStringLiteral("model_b")).toString();
    p.prelabel = o.value(QStringLiteral("prelabel")).toString();  // null -> ""
    p.prelabelAnnotator = o.value(QStringLiteral("prelabel_annotator")).toString();
    p.done = o.value(QStringLiteral("done")).toInt();
    p.total = o.value(QStringLiteral("total")).toInt();
    if (p.comparisonId <= 0) return false;
    *out = p;
    return true;
}

PairGenerator::PairGenerator(Engine* engine, QObject* parent) : QObject(parent), engine_(engine) {
    qRegisterMetaType<GeneratedPair>();
    connect(engine_, &Engine::jobFailed, this, [this](int id, const QString& error) {
        if (id == jobId_) batchError_ = error;
    });
    connect(engine_, &Engine::jobEnded, this, [this](int id, JobOutcome outcome) {
        if (id != jobId_) return;
        jobId_ = 0;
        if (outcome == JobOutcome::Failed) active_ = false;  // no automatic retry of a failing request
        if (outcome == JobOutcome::Finished && batchStored_ == 0) exhausted_ = true;
        Q_EMIT batchEnded(batchStored_, batchError_);
        Q_EMIT engine_->projectDataChanged();  // other panels (datasets, counts) see the new rows
    });
}

PairGenerator::~PairGenerator() {
    if (jobId_ != 0) engine_->cancelJob(jobId_);
}

int PairGenerator::start(const PairsRequest& request) {
    if (jobId_ != 0 || !engine_->hasProject()) return 0;
    request_ = request;
    active_ = true;
    exhausted_ = false;
    return launch();
}

void PairGenerator::stop() {
    active_ = false;
    if (jobId_ != 0) engine_->cancelJob(jobId_);
}

void PairGenerator::reportUnlabeled(qint64 remaining) {
    if (active_ && !exhausted_ && jobId_ == 0 && lowWater_ > 0 && remaining < lowWater_) launch();
}

int PairGenerator::launch() {
    const QString cli = Engine::cliPath();
    const QStringList args = pairsArguments(engine_->projectDir(), request_);
    batchStored_ = 0;
    batchError_.clear();
    ++batches_;
    QPointer<PairGenerator> self(this);
    jobId_ = engine_->startJob(tr("Generate %1 pairs from %2").arg(request_.count).arg(request_.prompts),
                               [cli, args, self](JobContext& ctx) {
        CliChild spec;
        spec.cli = cli;
        spec.args = args;
        spec.what = "rlhf pairs";
        spec.onStdoutLine = [&](const QByteArray& line) {
            GeneratedPair pair;
            if (!parsePairsLine(line, &pair)) return;
            ctx.progress(pair.done, pair.total);
            // Queued to the GUI thread: the comparison is already committed by the child.
            ctx.postToGui([self, pair] {
                if (!self) return;
                ++self->batchStored_;
                ++self->stored_;
                Q_EMIT self->pairStored(pair);
            });
        };
        runCliChild(ctx, spec);  // on cancel what the child stored stays: each pair is its own commit
    });
    Q_EMIT batchStarted(jobId_);
    return jobId_;
}

}  // namespace rlhf::ui
