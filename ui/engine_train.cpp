// Engine, the training half: config validation and the training job around the `rlhf train` CLI.
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <QStandardPaths>

#include <optional>

#include <yaml-cpp/yaml.h>

#include "core/io/error.h"
#include "ui/engine.h"
#ifdef RLHF_UI_HAVE_TRAIN_CONFIG
#include "core/train/config.h"
#include "core/train/memory_estimate.h"
#include "core/store/project.h"
#endif

namespace rlhf::ui {

QString Engine::validateTrainConfig(const QString& yaml) {
    try {
        const YAML::Node root = YAML::Load(yaml.toStdString());
        if (!root.IsMap()) return QStringLiteral("line 1: a run config is a mapping of keys");
        if (!root["algo"]) return QStringLiteral("missing key 'algo'");
    } catch (const YAML::Exception& e) {
        return QStringLiteral("line %1: %2").arg(e.mark.line + 1).arg(QString::fromStdString(e.msg));
    }
#ifdef RLHF_UI_HAVE_TRAIN_CONFIG
    try {
        train::parse_train_config(yaml.toStdString(), "config.yaml");
    } catch (const std::exception& e) {
        return QString::fromUtf8(e.what());
    }
#endif
    return QString();
}

Engine::MemoryCheck Engine::estimateTrainMemory(const QString& yaml) {
    MemoryCheck check;
#ifdef RLHF_UI_HAVE_TRAIN_CONFIG
    try {
        const train::TrainConfig c = train::parse_train_config(yaml.toStdString(), "config.yaml");
        const std::string project = projectDir_.toStdString();
        auto resolve = [&](std::string ref, const char* field) -> std::string {
            if (ref.empty()) return ref;
            if (ref.rfind("run:", 0) == 0) {
                if (!project_) throw rlhf::Error(std::string(field) + ": " + ref + " needs an open project");
                const std::string wanted = ref.substr(4);
                for (const store::RunInfo& r : project_->runs())  // newest first, as `rlhf train` picks
                    if (r.name == wanted && r.status == store::RunStatus::Completed)
                        return project_->runs_dir() + "/" + std::to_string(r.id) + "/final";
                throw rlhf::Error(std::string(field) + ": no completed run named '" + wanted + "' yet");
            }
            const std::string marker = "${PROJECT}";
            if (const size_t at = ref.find(marker); at != std::string::npos) ref.replace(at, marker.size(), project);
            if (!project.empty() && QDir::isRelativePath(QString::fromStdString(ref)) &&
                QFileInfo::exists(QDir(projectDir_).filePath(QString::fromStdString(ref))))
                return QDir(projectDir_).filePath(QString::fromStdString(ref)).toStdString();
            return ref;
        };
        const train::ModelFootprint policy = train::read_model_footprint(resolve(c.model.policy, "model.policy"));
        std::optional<train::ModelFootprint> reference, reward;
        if (!c.model.reference.empty())
            reference = train::read_model_footprint(resolve(c.model.reference, "model.reference"));
        if (!c.model.reward.empty() && (c.algo == train::Algo::Ppo || c.algo == train::Algo::Grpo))
            reward = train::read_model_footprint(resolve(c.model.reward, "model.reward"));
        const train::MemoryEstimate e = train::estimate_training_memory(
            c, policy, reference ? &*reference : nullptr, reward ? &*reward : nullptr);
        check.known = true;
        const bool cuda = c.device.rfind("cuda", 0) == 0;
        const int64_t available = cuda ? -1 : train::available_host_memory();
        check.fits = available < 0 || e.total <= available;
        check.text = tr("Estimated memory %1 (%2 parameters)").arg(QString::fromStdString(train::format_bytes(e.total)))
                         .arg(policy.params);
        if (available >= 0)
            check.text += tr(" of %1 available").arg(QString::fromStdString(train::format_bytes(available)));
        else if (cuda)
            check.text += tr(" on %1 — compare with its free memory (nvidia-smi)").arg(QString::fromStdString(c.device));
        QStringList lines;
        for (const train::MemoryItem& item : e.items)
            lines << QStringLiteral("%1: %2").arg(QString::fromStdString(item.what),
                                                  QString::fromStdString(train::format_bytes(item.bytes)));
        check.details = lines.join(QLatin1Char('\n'));
    } catch (const std::exception& e) {
        check.text = tr("Memory not estimated: %1").arg(QString::fromUtf8(e.what()));
    }
#else
    (void)yaml;
    check.text = tr("Memory not estimated (this build has no core/train).");
#endif
    return check;
}

QString Engine::cliPath() {
    const QString env = qEnvironmentVariable("RLHF_CLI");
    if (!env.isEmpty()) return env;
    const QDir here(QCoreApplication::applicationDirPath());
    for (const QString& candidate : {here.filePath(QStringLiteral("rlhf")), here.filePath(QStringLiteral("../rlhf/rlhf"))}) {
        if (QFileInfo(candidate).isExecutable()) return QFileInfo(candidate).canonicalFilePath();
    }
    const QString onPath = QStandardPaths::findExecutable(QStringLiteral("rlhf"));
    return onPath.isEmpty() ? QStringLiteral("rlhf") : onPath;
}

int Engine::startTraining(const QString& yaml, bool resume) {
    QString runName = QStringLiteral("run");
    qint64 maxSteps = 0;
    try {
        const YAML::Node root = YAML::Load(yaml.toStdString());
        if (root["name"] && root["name"].IsScalar()) runName = QString::fromStdString(root["name"].as<std::string>());
        if (root["max_steps"] && root["max_steps"].IsScalar()) maxSteps = root["max_steps"].as<qint64>();
    } catch (const YAML::Exception&) {
        // The job itself reports the bad config through the CLI's message.
    }
    const QString project = projectDir_;
    const QString cli = cliPath();
    return startJob(QStringLiteral("Train %1").arg(runName), [=](JobContext& ctx) {
        // The config the run starts from is kept next to the runs (or in temp without a project).
        const QString dir = project.isEmpty() ? QDir::tempPath()
                                              : QDir(project).filePath(QStringLiteral("runs/launcher"));
        QDir().mkpath(dir);
        const QString configPath = QDir(dir).filePath(QStringLiteral("%1-%2.yaml").arg(runName)
            .arg(QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd-HHmmss"))));
        QSaveFile file(configPath);
        if (!file.open(QIODevice::WriteOnly) || file.write(yaml.toUtf8()) < 0 || !file.commit()) {
            throw rlhf::Error(configPath.toStdString() + ": cannot write the run config");
        }
        QStringList args{QStringLiteral("train"), configPath};
        if (!project.isEmpty()) args << QStringLiteral("--project") << project;
        if (resume) args << QStringLiteral("--resume");
        CliChild spec;
        spec.cli = cli;
        spec.args = args;
        spec.what = "rlhf train " + configPath.toStdString();
        spec.onStdoutLine = [&](const QByteArray& line) {
            const QJsonObject obj = QJsonDocument::fromJson(line).object();
            if (obj.isEmpty() || !obj.contains(QStringLiteral("step"))) return;
            const qint64 step = obj.value(QStringLiteral("step")).toInteger();
            for (auto it = obj.constBegin(); it != obj.constEnd(); ++it) {
                if (it.key() == QStringLiteral("step") || !it.value().isDouble()) continue;
                ctx.metric((runName + QLatin1Char('/') + it.key()).toStdString(), step, it.value().toDouble());
            }
            ctx.progress(step, maxSteps);
        };
        runCliChild(ctx, spec);  // SIGTERM on cancel: the trainer may write a checkpoint on its way out
    });
}

}  // namespace rlhf::ui
