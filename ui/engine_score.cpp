// Reward-model scoring: `rlhf score` as a child-process job, its pair lines, and the statistics.
#include "ui/engine_score.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iterator>
#include <cmath>
#include <numeric>

#include "core/io/error.h"
#include "core/store/project.h"
#include "ui/engine.h"

namespace rlhf::ui {

// ---------------------------------------------------------------------------------------------
// Parsing

std::optional<ScoredPair> parseScoredPair(const QByteArray& line) {
    const QJsonObject o = QJsonDocument::fromJson(line).object();
    if (o.isEmpty() || o.contains(QStringLiteral("event"))) return std::nullopt;
    const QJsonValue sc = o.value(QStringLiteral("score_chosen"));
    const QJsonValue sr = o.value(QStringLiteral("score_rejected"));
    if (!sc.isDouble() || !sr.isDouble()) return std::nullopt;
    ScoredPair p;
    p.id = o.value(QStringLiteral("id")).toInteger();
    p.dataset = o.value(QStringLiteral("dataset")).toString();
    p.annotator = o.value(QStringLiteral("annotator")).toString();
    p.split = o.value(QStringLiteral("split")).toString();
    p.prompt = o.value(QStringLiteral("prompt")).toString();
    p.chosen = o.value(QStringLiteral("chosen")).toString();
    p.rejected = o.value(QStringLiteral("rejected")).toString();
    p.chosenTokens = o.value(QStringLiteral("chosen_tokens")).toInt();
    p.rejectedTokens = o.value(QStringLiteral("rejected_tokens")).toInt();
    p.scoreChosen = sc.toDouble();
    p.scoreRejected = sr.toDouble();
    return p;
}

// ---------------------------------------------------------------------------------------------
// Statistics

Histogram makeHistogram(const QVector<double>& values, int bins, double lo, double hi) {
    Histogram h;
    bins = std::max(1, bins);
    if (!(hi > lo)) {  // one distinct value (or none): a unit-wide range centred on it
        lo -= 0.5;
        hi = lo + 1.0;
    }
    h.lo = lo;
    h.width = (hi - lo) / bins;
    h.counts = QVector<int>(bins, 0);
    for (double v : values) {
        if (!std::isfinite(v)) continue;
        const int i = std::clamp(int(std::floor((v - lo) / h.width)), 0, bins - 1);
        ++h.counts[i];
    }
    return h;
}

int RewardStats::lengthBucketIndex(int tokens) {
    int i = 0;
    for (int edge : kLengthEdges) {
        if (tokens < edge) return i;
        ++i;
    }
    return i;
}

QString RewardStats::lengthBucket(int tokens) {
    const int i = lengthBucketIndex(tokens);
    const int n = int(std::size(kLengthEdges));
    if (i == 0) return QStringLiteral("< %1 tokens").arg(kLengthEdges[0]);
    if (i == n) return QStringLiteral("≥ %1 tokens").arg(kLengthEdges[n - 1]);
    return QStringLiteral("%1–%2 tokens").arg(kLengthEdges[i - 1]).arg(kLengthEdges[i] - 1);
}

double RewardStats::accuracy() const {
    if (pairs_.isEmpty()) return 0.0;
    const auto correct = std::count_if(pairs_.begin(), pairs_.end(), [](const ScoredPair& p) { return p.correct(); });
    return double(correct) / double(pairs_.size());
}

double RewardStats::meanMargin() const {
    if (pairs_.isEmpty()) return 0.0;
    double sum = 0;
    for (const ScoredPair& p : pairs_) sum += p.margin();
    return sum / double(pairs_.size());
}

RewardStats::ScoreHistograms RewardStats::scoreHistograms(int bins) const {
    QVector<double> chosen, rejected;
    for (const ScoredPair& p : pairs_) {
        chosen.push_back(p.scoreChosen);
        rejected.push_back(p.scoreRejected);
    }
    double lo = 0, hi = 0;
    if (!pairs_.isEmpty()) {
        lo = std::min(*std::min_element(chosen.begin(), chosen.end()), *std::min_element(rejected.begin(), rejected.end()));
        hi = std::max(*std::max_element(chosen.begin(), chosen.end()), *std::max_element(rejected.begin(), rejected.end()));
    }
    return {makeHistogram(chosen, bins, lo, hi), makeHistogram(rejected, bins, lo, hi)};
}

Histogram RewardStats::marginHistogram(int bins) const {
    QVector<double> margins;
    for (const ScoredPair& p : pairs_) margins.push_back(p.margin());
    if (margins.isEmpty()) return makeHistogram(margins, bins, 0, 0);
    return makeHistogram(margins, bins, *std::min_element(margins.begin(), margins.end()),
                         *std::max_element(margins.begin(), margins.end()));
}

QVector<SliceAccuracy> RewardStats::slices() const {
    SliceAccuracy all{QStringLiteral("all"), QString(), 0, 0};
    QMap<QString, SliceAccuracy> datasets, splits, annotators;  // QMap: sorted by name
    QMap<int, SliceAccuracy> lengths;                   // by bucket index: short to long
    auto count = [](SliceAccuracy& s, const ScoredPair& p) {
        ++s.pairs;
        if (p.correct()) ++s.correct;
    };
    for (const ScoredPair& p : pairs_) {
        count(all, p);
        auto d = datasets.find(p.dataset);
        if (d == datasets.end()) d = datasets.insert(p.dataset, SliceAccuracy{QStringLiteral("dataset"), p.dataset, 0, 0});
        count(*d, p);
        if (!p.split.isEmpty()) {
            auto s = splits.find(p.split);
            if (s == splits.end()) s = splits.insert(p.split, SliceAccuracy{QStringLiteral("split"), p.split, 0, 0});
            count(*s, p);
        }
        const int tokens = std::max(p.chosenTokens, p.rejectedTokens);
        const int bucket = lengthBucketIndex(tokens);
        auto l = lengths.find(bucket);
        if (l == lengths.end()) l = lengths.insert(bucket, SliceAccuracy{QStringLiteral("length"), lengthBucket(tokens), 0, 0});
        count(*l, p);
        if (!p.annotator.isEmpty()) {
            auto a = annotators.find(p.annotator);
            if (a == annotators.end()) a = annotators.insert(p.annotator, SliceAccuracy{QStringLiteral("annotator"), p.annotator, 0, 0});
            count(*a, p);
        }
    }
    QVector<SliceAccuracy> out{all};
    for (const auto& s : datasets) out.push_back(s);
    for (const auto& s : splits) out.push_back(s);
    for (const auto& s : lengths) out.push_back(s);
    for (const auto& s : annotators) out.push_back(s);
    return out;
}

QVector<int> RewardStats::worstPairs(int n) const {
    QVector<int> idx(pairs_.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [this](int a, int b) { return pairs_[a].margin() < pairs_[b].margin(); });
    if (n >= 0 && n < idx.size()) idx.resize(n);
    return idx;
}

// ---------------------------------------------------------------------------------------------
// Models and the job

QStringList scoreArguments(const ScoreRequest& r) {
    QStringList args{QStringLiteral("score"), QStringLiteral("--model"), r.modelDir, QStringLiteral("--project"), r.projectDir};
    if (r.comparisons) {
        args << QStringLiteral("--comparisons");
    } else {
        args << QStringLiteral("--dataset") << r.dataset;
    }
    if (!r.comparisons && !r.split.isEmpty() && r.split != QStringLiteral("all")) args << QStringLiteral("--split") << r.split;
    if (r.limit > 0) args << QStringLiteral("--limit") << QString::number(r.limit);
    if (r.batch > 0) args << QStringLiteral("--batch") << QString::number(r.batch);
    return args;
}

QVector<RewardModelChoice> rewardModelChoices(store::Project& project) {
    QVector<RewardModelChoice> out;
    const QDir runsDir(QString::fromStdString(project.runs_dir()));
    for (const store::RunInfo& run : project.runs()) {  // newest first
        if (run.kind != "rm") continue;
        const QString dir = runsDir.filePath(QStringLiteral("%1/final").arg(run.id));
        if (!QFileInfo::exists(QDir(dir).filePath(QStringLiteral("config.json")))) continue;  // not exported (yet)
        QString dataset;
        try {
            const YAML::Node root = YAML::Load(run.config_yaml);
            if (root["data"] && root["data"]["dataset"] && root["data"]["dataset"].IsScalar())
                dataset = QString::fromStdString(root["data"]["dataset"].as<std::string>());
        } catch (const YAML::Exception&) {
            // An unreadable config only means no default preference set for this model.
        }
        out.push_back({QStringLiteral("%1 #%2 (%3)").arg(QString::fromStdString(run.name)).arg(run.id)
                           .arg(QString::fromLatin1(store::run_status_name(run.status))),
                       dir, dataset});
    }
    return out;
}

namespace {
constexpr int kPairFlushMs = 100;  // pairs reach the GUI ≤ 10 times a second, in batches
}

int startScoring(Engine* engine, const ScoreRequest& request, std::function<void(QVector<ScoredPair>)> onPairs) {
    const QString cli = Engine::cliPath();
    const QStringList args = scoreArguments(request);
    const QString name = QStringLiteral("Score %1").arg(QFileInfo(request.modelDir).fileName() == QStringLiteral("final")
        ? QFileInfo(QFileInfo(request.modelDir).path()).fileName() : QFileInfo(request.modelDir).fileName());
    return engine->startJob(name, [=](JobContext& ctx) {
        QVector<ScoredPair> pending;
        QElapsedTimer sinceFlush;
        sinceFlush.start();
        auto flush = [&] {
            if (pending.isEmpty()) return;
            ctx.postToGui([onPairs, batch = std::move(pending)] { onPairs(batch); });
            pending = {};
            sinceFlush.restart();
        };
        CliChild spec;
        spec.cli = cli;
        spec.args = args;
        spec.what = "rlhf score";
        spec.onStdoutLine = [&](const QByteArray& line) {
            if (auto pair = parseScoredPair(line)) {
                pending.push_back(std::move(*pair));
                return;
            }
            const QJsonObject obj = QJsonDocument::fromJson(line).object();
            if (obj.value(QStringLiteral("event")).toString() == QStringLiteral("progress")) {
                ctx.progress(obj.value(QStringLiteral("done")).toInteger(), obj.value(QStringLiteral("total")).toInteger());
            } else if (obj.value(QStringLiteral("event")).toString() == QStringLiteral("summary")) {
                ctx.message(QStringLiteral("accuracy %1 over %2 pairs, mean margin %3")
                                .arg(obj.value(QStringLiteral("accuracy")).toDouble(), 0, 'f', 3)
                                .arg(obj.value(QStringLiteral("pairs")).toInteger())
                                .arg(obj.value(QStringLiteral("mean_margin")).toDouble(), 0, 'g', 4)
                                .toStdString());
            }
        };
        spec.afterRead = [&] {
            if (sinceFlush.elapsed() >= kPairFlushMs) flush();
        };
        spec.onEnd = flush;  // pairs scored before a cancel or failure still reach the panel
        runCliChild(ctx, spec);
    });
}

}  // namespace rlhf::ui
