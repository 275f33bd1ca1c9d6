// The whole demo loop, shortened, through the real CLI: `rlhf demo` (smaller corpus, fewer
// pre-training steps, 200 judged pairs), `rlhf train` of the shipped reward-model and PPO configs,
// then `rlhf demo_eval` on the SFT model and on the PPO model. The truth is the lexicon judge,
// which is independent of the reward model PPO optimises: PPO must raise the fraction of positive
// continuations of held-out prompts, and keep the mean per-token KL to the SFT model bounded.
#include <QtTest>

#include <QProcess>
#include <QTemporaryDir>

#include <nlohmann/json.hpp>

namespace {
struct Run {
    int code = -1;
    QByteArray out, err;
};

Run rlhf(const QStringList& args, int timeout_ms = 600000) {
    QProcess p;
    p.start(QStringLiteral(RLHF_CLI_PATH), args);
    Run r;
    if (!p.waitForFinished(timeout_ms)) {
        p.kill();
        p.waitForFinished();
    }
    r.code = p.exitCode();
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

nlohmann::json last_json_line(const QByteArray& out) {
    const auto lines = out.trimmed().split('\n');
    return nlohmann::json::parse(lines.last().toStdString());
}
}  // namespace

class DemoPipelineTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void ppoMakesReviewsPositive() {
        QTemporaryDir dir;
        const QString project = dir.path() + QStringLiteral("/demo");
        Run demo = rlhf({QStringLiteral("demo"), QStringLiteral("--project"), project, QStringLiteral("--reviews"),
                         QStringLiteral("6000"), QStringLiteral("--sft-steps"), QStringLiteral("250"),
                         QStringLiteral("--pairs"), QStringLiteral("300")});
        QVERIFY2(demo.code == 0, demo.err.constData());
        auto summary = last_json_line(demo.out);
        qInfo("demo: %s", summary.dump().c_str());

        Run rm = rlhf({QStringLiteral("train"), project + QStringLiteral("/configs/rm.yaml"), QStringLiteral("--project"), project});
        QVERIFY2(rm.code == 0, rm.err.constData());
        auto rm_last = last_json_line(rm.out);
        // The judged pairs are separable by sentiment words: the held-out accuracy is high.
        QVERIFY2(rm_last.value("accuracy", 0.0) >= 0.9, rm_last.dump().c_str());

        Run ppo = rlhf({QStringLiteral("train"), project + QStringLiteral("/configs/ppo.yaml"), QStringLiteral("--project"), project});
        QVERIFY2(ppo.code == 0, ppo.err.constData());
        // Mean per-token KL over the last 10 steps: objective/kl is per sequence (summed over
        // its tokens), response_length the mean number of tokens.
        const auto lines = ppo.out.trimmed().split('\n');
        QVERIFY(lines.size() >= 10);
        double kl = 0, len = 0;
        for (int i = lines.size() - 10; i < lines.size(); ++i) {
            auto j = nlohmann::json::parse(lines[i].toStdString());
            kl += j.at("objective/kl").get<double>();
            len += j.at("response_length").get<double>();
        }
        const double kl_per_token = kl / len;
        qInfo("PPO mean per-token KL over the last 10 steps: %.3f nats", kl_per_token);
        QVERIFY2(kl_per_token < 1.5, QByteArray::number(kl_per_token).constData());

        Run before = rlhf({QStringLiteral("demo_eval"), QStringLiteral("--model"), project + QStringLiteral("/models/sft")});
        QVERIFY2(before.code == 0, before.err.constData());
        Run after = rlhf({QStringLiteral("demo_eval"), QStringLiteral("--model"), project + QStringLiteral("/runs/2/final")});
        QVERIFY2(after.code == 0, after.err.constData());
        const double p0 = last_json_line(before.out).at("positive_fraction").get<double>();
        const double p1 = last_json_line(after.out).at("positive_fraction").get<double>();
        qInfo("positive fraction on held-out prompts: SFT %.3f -> PPO %.3f", p0, p1);
        QVERIFY2(p1 >= 0.85, QByteArray::number(p1).constData());
        QVERIFY2(p1 - p0 >= 0.2, QByteArray::number(p1 - p0).constData());
    }
};

QTEST_GUILESS_MAIN(DemoPipelineTest)
#include "test_demo_pipeline.moc"
