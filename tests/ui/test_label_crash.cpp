// A label acknowledged on screen survives the workbench being killed -9 straight after.
// The workbench runs as a child in its test mode (--script-stdin): it reads key names from stdin,
// sends them to the labeling panel, and prints "ack label <label id> <comparison id> <choice>" once
// the panel has stored the label. The test SIGKILLs it the moment it reads the last ack, then
// reopens the store and finds every acknowledged label, with the choice the key meant.
#include <QProcess>
#include <QProcessEnvironment>
#include <QTemporaryDir>
#include <QTest>

#include <QElapsedTimer>

#include <csignal>
#include <map>
#include <random>

#include "core/store/project.h"

namespace store = rlhf::store;

class LabelCrashTest : public QObject {
    Q_OBJECT
private:
    // Reads one line from the child, waiting up to `ms`.
    static QByteArray readLine(QProcess& p, int ms) {
        QElapsedTimer t;
        t.start();
        while (!p.canReadLine()) {
            if (t.elapsed() > ms || !p.waitForReadyRead(int(ms - t.elapsed()))) {
                if (!p.canReadLine()) return {};
            }
        }
        return p.readLine().trimmed();
    }

private Q_SLOTS:
    void acknowledgedLabelsSurviveSigkill() {
        QTemporaryDir temp;
        const QString dir = temp.filePath(QStringLiteral("project"));
        std::map<int64_t, bool> aOnLeft;
        {
            // Six comparisons over six preference records, sides by a seeded coin.
            store::Project project = store::Project::open(dir.toStdString());
            const int64_t ds = project.dataset("pairs");
            std::vector<rlhf::data::Record> records(6);
            for (size_t i = 0; i < records.size(); ++i) {
                records[i].kind = rlhf::data::RecordKind::Preference;
                records[i].format = "trl-preference";
                records[i].pref.prompt = {{"", "question " + std::to_string(i)}};
                records[i].pref.chosen = {{"", "good answer " + std::to_string(i)}};
                records[i].pref.rejected = {{"", "bad answer " + std::to_string(i)}};
            }
            QCOMPARE(project.add_records(ds, records).inserted, uint64_t(6));
            store::RowQuery q;
            q.dataset_id = ds;
            std::mt19937_64 rng(5);
            for (const auto& row : project.rows(q).rows) {
                store::Completion a, b;
                a.prompt_id = b.prompt_id = row.id;
                a.text = row.record.pref.chosen[0].content;
                b.text = row.record.pref.rejected[0].content;
                a.model = "m1";
                b.model = "m2";
                const int64_t cid = project.create_comparison(row.id, project.add_completion(a), project.add_completion(b), rng);
                aOnLeft[cid] = project.comparison(cid)->a_on_left;
            }
        }

        QProcess child;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), temp.filePath(QStringLiteral("config")));  // own QSettings
        env.insert(QStringLiteral("USER"), QStringLiteral("crash-tester"));
        child.setProcessEnvironment(env);
        child.setProcessChannelMode(QProcess::SeparateChannels);
        child.start(QStringLiteral(RLHF_WORKBENCH_PATH), {QStringLiteral("--script-stdin"), dir});
        QVERIFY2(child.waitForStarted(10000), qPrintable(child.errorString()));
        const QByteArray ready = readLine(child, 30000);
        QVERIFY2(ready.startsWith("ready "), ready.constData());

        // Keys and what each means for the comparison on screen: left, right, tie, left.
        const char* keys[] = {"1", "right", "3", "left"};
        struct Ack { int64_t labelId, comparisonId; QByteArray choice; };
        std::vector<Ack> acks;
        for (const char* key : keys) {
            child.write(QByteArray(key) + '\n');
            child.waitForBytesWritten(5000);
            const QByteArray line = readLine(child, 30000);
            const QList<QByteArray> f = line.split(' ');
            QVERIFY2(f.size() == 5 && f[0] == "ack" && f[1] == "label", line.constData());
            acks.push_back({f[2].toLongLong(), f[3].toLongLong(), f[4]});
        }
        // Straight after the last acknowledgement: no chance to flush or exit cleanly.
        ::kill(pid_t(child.processId()), SIGKILL);
        QVERIFY(child.waitForFinished(10000));
        QCOMPARE(child.exitStatus(), QProcess::CrashExit);

        store::Project reopened = store::Project::open(dir.toStdString());
        std::map<int64_t, store::LabelRow> inForce;
        for (const auto& row : reopened.labels_in_force()) inForce[row.comparison_id] = row;
        QCOMPARE(inForce.size(), acks.size());
        for (size_t i = 0; i < acks.size(); ++i) {
            const Ack& ack = acks[i];
            QVERIFY2(inForce.count(ack.comparisonId), qPrintable(QStringLiteral("acked comparison %1 lost").arg(ack.comparisonId)));
            const store::LabelRow& row = inForce[ack.comparisonId];
            QCOMPARE(row.label_id, ack.labelId);
            QCOMPARE(QByteArray(store::choice_name(row.choice)), ack.choice);
            // The key named a screen side; the store holds the comparison's A/B.
            const bool left = aOnLeft.at(ack.comparisonId);
            const QByteArray key(keys[i]);
            store::Choice want = store::Choice::Tie;
            if (key == "1" || key == "left") want = left ? store::Choice::A : store::Choice::B;
            if (key == "2" || key == "right") want = left ? store::Choice::B : store::Choice::A;
            QCOMPARE(int(row.choice), int(want));
        }
        QCOMPARE(reopened.integrity_check(), std::string("ok"));
    }
};

QTEST_GUILESS_MAIN(LabelCrashTest)
#include "test_label_crash.moc"
