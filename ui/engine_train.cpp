// Engine, the training half: config validation and the training job around the `rlhf train` CLI.
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSaveFile>
#include <QStandardPaths>

#include <yaml-cpp/yaml.h>

#include "core/io/error.h"
#include "ui/engine.h"
#ifdef RLHF_UI_HAVE_TRAIN_CONFIG
#include "core/train/config.h"
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
        QProcess child;  // created on this worker thread; used only with blocking waits here
        child.start(cli, args);
        if (!child.waitForStarted(10000)) {
            throw rlhf::Error(cli.toStdString() + ": cannot start: " + child.errorString().toStdString());
        }
        QByteArray lastError;
        auto readLines = [&] {
            while (child.canReadLine()) {
                const QByteArray line = child.readLine().trimmed();
                const QJsonObject obj = QJsonDocument::fromJson(line).object();
                if (obj.isEmpty() || !obj.contains(QStringLiteral("step"))) continue;
                const qint64 step = obj.value(QStringLiteral("step")).toInteger();
                for (auto it = obj.constBegin(); it != obj.constEnd(); ++it) {
                    if (it.key() == QStringLiteral("step") || !it.value().isDouble()) continue;
                    ctx.metric((runName + QLatin1Char('/') + it.key()).toStdString(), step, it.value().toDouble());
                }
                ctx.progress(step, maxSteps);
            }
            const QByteArray err = child.readAllStandardError().trimmed();
            if (!err.isEmpty()) lastError = err.split('\n').last();
        };
        while (child.state() != QProcess::NotRunning) {
            if (ctx.cancelled()) {
                child.terminate();  // SIGTERM: the trainer may write a checkpoint on its way out
                if (!child.waitForFinished(5000)) {
                    child.kill();
                    child.waitForFinished(5000);
                }
                throw rlhf::Cancelled();
            }
            child.waitForReadyRead(100);
            readLines();
        }
        readLines();
        if (child.exitStatus() != QProcess::NormalExit || child.exitCode() != 0) {
            const std::string why = lastError.isEmpty()
                ? "exited with status " + std::to_string(child.exitCode()) : lastError.toStdString();
            throw rlhf::Error("rlhf train " + configPath.toStdString() + ": " + why);
        }
    });
}

}  // namespace rlhf::ui
