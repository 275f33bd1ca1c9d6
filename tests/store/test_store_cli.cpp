// rlhf import / export / project, end to end through the real binary (RLHF_CLI_PATH):
//  - round trip per format: import a core/data fixture -> export TRL JSONL -> import the export;
//    both datasets hold the same records (content hashes, in order), and re-importing the
//    original inserts nothing;
//  - the JSON summary of a file with bad lines (counts, "file:line: reason");
//  - human labels out as TRL pairs (ties only with --keep-ties) and CSV, and back in as a dataset;
//  - online backup; exit codes 2 (usage) and 1 (failure naming the file).
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/io/atomic_file.h"
#include "core/store/project.h"
#include "store/store_test_util.h"

using namespace rlhf;
using namespace rlhf::store;

namespace {

struct CliResult {
    int code = -1;
    std::string out, err;
};

CliResult rlhf_cli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(RLHF_CLI_PATH), args);
    CliResult r;
    if (!p.waitForFinished(60000)) return r;
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput().toStdString();
    r.err = p.readAllStandardError().toStdString();
    return r;
}

QString qs(const std::string& s) { return QString::fromStdString(s); }

std::string fixture(const char* name) { return std::string(RLHF_FIXTURES_DIR) + "/data/" + name; }

std::vector<std::string> hashes(Project& p, const std::string& dataset) {
    std::vector<std::string> out;
    auto d = p.find_dataset(dataset);
    if (!d) return out;
    p.for_each_record(d->id, [&](StoredRecord&& r) { out.push_back(r.content_hash); });
    return out;
}

bool all_roleless(Project& p, const std::string& dataset) {
    bool roleless = true;
    p.for_each_record(p.find_dataset(dataset)->id, [&](StoredRecord&& s) {
        const data::Record& r = s.record;
        for (const data::Messages* ms : {&r.pref.prompt, &r.pref.chosen, &r.pref.rejected, &r.sft.messages,
                                         &r.prompt.prompt})
            for (const auto& m : *ms) roleless = roleless && m.role.empty();
    });
    return roleless;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
    std::ifstream in(path);
    std::vector<nlohmann::json> out;
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
}

}  // namespace

class StoreCliTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void roundTrip_data() {
        QTest::addColumn<QString>("file");
        for (const char* f : {"trl-preference.jsonl", "trl-preference-conversational.jsonl", "trl-preference.csv.gz",
                              "hh-rlhf.jsonl", "ultrafeedback.jsonl", "shp.csv", "alpaca.json", "sharegpt.json",
                              "messages.jsonl", "prompt-completion.jsonl", "text.jsonl", "prompts.jsonl"})
            QTest::newRow(f) << QString::fromLatin1(f);
    }
    void roundTrip() {
        QFETCH(QString, file);
        std::string path = fixture(file.toLatin1().constData());
        QVERIFY2(std::filesystem::exists(path), path.c_str());
        QTemporaryDir tmp;
        QString dir = tmp.path() + QStringLiteral("/proj");

        CliResult imp = rlhf_cli({QStringLiteral("import"), qs(path), QStringLiteral("--project"), dir,
                                  QStringLiteral("--dataset"), QStringLiteral("orig")});
        QVERIFY2(imp.code == 0, imp.err.c_str());
        nlohmann::json summary = nlohmann::json::parse(imp.out);
        uint64_t n = summary["inserted"];
        QVERIFY(n > 0);
        QCOMPARE(summary["records_ok"].get<uint64_t>(), n);

        // Re-import: nothing new, everything a duplicate.
        CliResult again = rlhf_cli({QStringLiteral("import"), qs(path), QStringLiteral("--project"), dir,
                                    QStringLiteral("--dataset"), QStringLiteral("orig")});
        QVERIFY2(again.code == 0, again.err.c_str());
        nlohmann::json s2 = nlohmann::json::parse(again.out);
        QCOMPARE(s2["inserted"].get<uint64_t>(), uint64_t(0));
        QCOMPARE(s2["duplicates"].get<uint64_t>(), n);

        std::vector<QString> styles = {QStringLiteral("trl-jsonl-conversational")};
        {
            Project p = Project::open(dir.toStdString());
            if (all_roleless(p, "orig")) styles.push_back(QStringLiteral("trl-jsonl"));
        }
        for (const QString& style : styles) {
            QString out = tmp.path() + QStringLiteral("/out-") + style + QStringLiteral(".jsonl");
            QString back = QStringLiteral("back-") + style;
            CliResult exp = rlhf_cli({QStringLiteral("export"), QStringLiteral("--project"), dir,
                                      QStringLiteral("--dataset"), QStringLiteral("orig"), QStringLiteral("--format"),
                                      style, out});
            QVERIFY2(exp.code == 0, exp.err.c_str());
            QCOMPARE(nlohmann::json::parse(exp.out)["rows"].get<uint64_t>(), n);
            CliResult re = rlhf_cli({QStringLiteral("import"), out, QStringLiteral("--project"), dir,
                                     QStringLiteral("--dataset"), back});
            QVERIFY2(re.code == 0, re.err.c_str());
            Project p = Project::open(dir.toStdString());
            QCOMPARE(hashes(p, "orig").size(), size_t(n));
            QCOMPARE(hashes(p, back.toStdString()), hashes(p, "orig"));
        }
    }

    // Lines 2 (not JSON) and 4 (no 'rejected') are skipped and reported as file:line: reason.
    void summaryReportsBadLines() {
        QTemporaryDir tmp;
        std::string file = tmp.path().toStdString() + "/pairs.jsonl";
        io::write_file_atomic(file,
                              "{\"prompt\":\"a\",\"chosen\":\"b\",\"rejected\":\"c\"}\n"
                              "{not json\n"
                              "{\"prompt\":\"d\",\"chosen\":\"e\",\"rejected\":\"f\"}\n"
                              "{\"prompt\":\"g\",\"chosen\":\"h\"}\n"
                              "{\"prompt\":\"i\",\"chosen\":\"j\",\"rejected\":\"k\"}\n");
        QString dir = tmp.path() + QStringLiteral("/proj");
        CliResult r = rlhf_cli({QStringLiteral("import"), qs(file), QStringLiteral("--project"), dir});
        QVERIFY2(r.code == 0, r.err.c_str());
        nlohmann::json s = nlohmann::json::parse(r.out);
        QCOMPARE(s["dataset"].get<std::string>(), std::string("pairs"));
        QCOMPARE(s["records_read"].get<int>(), 5);
        QCOMPARE(s["records_ok"].get<int>(), 3);
        QCOMPARE(s["inserted"].get<int>(), 3);
        QCOMPARE(s["skipped"].get<int>(), 2);
        QCOMPARE(s["errors"].size(), size_t(2));
        QVERIFY2(s["errors"][0].get<std::string>().rfind(file + ":2: ", 0) == 0, s.dump().c_str());
        QVERIFY2(s["errors"][1].get<std::string>().rfind(file + ":4: ", 0) == 0, s.dump().c_str());
        int by_reason = 0;
        for (auto& [k, v] : s["skipped_by_reason"].items()) by_reason += v.get<int>();
        QCOMPARE(by_reason, 2);
    }

    void labelsExport() {
        QTemporaryDir tmp;
        std::string dir = tmp.path().toStdString() + "/proj";
        {
            Project p = Project::open(dir);
            int64_t ds = p.dataset("prompts");
            p.add_records(ds, {store_test::prompt_record("P1"), store_test::prompt_record("P2"),
                               store_test::prompt_record("P3"), store_test::prompt_record("P4")});
            RowQuery q;
            q.dataset_id = ds;
            int64_t ann = p.annotator("ann");
            const Choice kChoices[] = {Choice::A, Choice::B, Choice::Tie, Choice::Skip};
            int i = 0;
            for (const auto& row : p.rows(q).rows) {
                Completion a, b;
                a.prompt_id = b.prompt_id = row.id;
                a.text = "a" + std::to_string(i);
                b.text = "b" + std::to_string(i);
                int64_t c = p.create_comparison(row.id, p.add_completion(a), p.add_completion(b), i % 2 == 0);
                if (i == 0) {  // a label that is undone must not be exported
                    p.add_label({c, ann, Choice::B, "oops", 0.25});
                    p.undo_last_label(ann);
                }
                p.add_label({c, ann, kChoices[i], "why " + std::to_string(i), 1.5});
                ++i;
            }
        }
        QString qdir = qs(dir);
        QString pairs = tmp.path() + QStringLiteral("/pairs.jsonl");
        CliResult r = rlhf_cli({QStringLiteral("export"), QStringLiteral("--project"), qdir, QStringLiteral("--labels"),
                                QStringLiteral("--format"), QStringLiteral("trl-jsonl"), pairs});
        QVERIFY2(r.code == 0, r.err.c_str());
        auto rows = read_jsonl(pairs.toStdString());
        QCOMPARE(rows.size(), size_t(2));  // A and B; the tie and the skip are left out
        QCOMPARE(rows[0]["prompt"].get<std::string>(), std::string("P1"));
        QCOMPARE(rows[0]["chosen"].get<std::string>(), std::string("a0"));    // choice A
        QCOMPARE(rows[0]["rejected"].get<std::string>(), std::string("b0"));
        QCOMPARE(rows[1]["chosen"].get<std::string>(), std::string("b1"));    // choice B
        QCOMPARE(rows[1]["rejected"].get<std::string>(), std::string("a1"));
        QCOMPARE(rows[1]["annotator"].get<std::string>(), std::string("ann"));

        QString with_ties = tmp.path() + QStringLiteral("/ties.jsonl");
        r = rlhf_cli({QStringLiteral("export"), QStringLiteral("--project"), qdir, QStringLiteral("--labels"),
                      QStringLiteral("--format"), QStringLiteral("trl-jsonl-conversational"),
                      QStringLiteral("--keep-ties"), with_ties});
        QVERIFY2(r.code == 0, r.err.c_str());
        rows = read_jsonl(with_ties.toStdString());
        QCOMPARE(rows.size(), size_t(3));
        QCOMPARE(rows[2]["label"].get<std::string>(), std::string("tie"));
        QCOMPARE(rows[0]["chosen"][0]["role"].get<std::string>(), std::string("assistant"));

        QString csv = tmp.path() + QStringLiteral("/labels.csv");
        r = rlhf_cli({QStringLiteral("export"), QStringLiteral("--project"), qdir, QStringLiteral("--labels"),
                      QStringLiteral("--format"), QStringLiteral("csv"), csv});
        QVERIFY2(r.code == 0, r.err.c_str());
        std::ifstream in(csv.toStdString());
        std::vector<std::string> lines;
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        QCOMPARE(lines.size(), size_t(5));  // header + A, B, tie, skip
        QVERIFY(lines[0].rfind("label_id,comparison_id,annotator,choice,seconds", 0) == 0);
        QVERIFY2(lines[4].find(",\"ann\",skip,1.500,") != std::string::npos, lines[4].c_str());

        // The exported pairs are a TRL preference file: they import as a dataset again.
        r = rlhf_cli({QStringLiteral("import"), pairs, QStringLiteral("--project"), qdir, QStringLiteral("--dataset"),
                      QStringLiteral("human")});
        QVERIFY2(r.code == 0, r.err.c_str());
        nlohmann::json s = nlohmann::json::parse(r.out);
        QCOMPARE(s["kind"].get<std::string>(), std::string("preference"));
        QCOMPARE(s["inserted"].get<int>(), 2);
    }

    void backupAndCheck() {
        QTemporaryDir tmp;
        QString dir = tmp.path() + QStringLiteral("/proj");
        CliResult r = rlhf_cli({QStringLiteral("import"), qs(fixture("hh-rlhf.jsonl")), QStringLiteral("--project"), dir});
        QVERIFY2(r.code == 0, r.err.c_str());
        std::string copy_dir = tmp.path().toStdString() + "/copy";
        std::filesystem::create_directories(copy_dir);
        r = rlhf_cli({QStringLiteral("project"), QStringLiteral("backup"), QStringLiteral("--project"), dir,
                      qs(copy_dir + "/project.sqlite")});
        QVERIFY2(r.code == 0, r.err.c_str());
        r = rlhf_cli({QStringLiteral("project"), QStringLiteral("check"), QStringLiteral("--project"), qs(copy_dir)});
        QCOMPARE(r.code, 0);
        QCOMPARE(r.out, std::string("ok\n"));
        Project a = Project::open(dir.toStdString()), b = Project::open(copy_dir);
        QCOMPARE(hashes(b, "hh-rlhf"), hashes(a, "hh-rlhf"));
        QCOMPARE(hashes(b, "hh-rlhf").size(), size_t(2));
    }

    void exitCodes() {
        QTemporaryDir tmp;
        QString dir = tmp.path() + QStringLiteral("/proj");
        QString hh = qs(fixture("hh-rlhf.jsonl"));
        // Usage errors: 2.
        QCOMPARE(rlhf_cli({QStringLiteral("import"), hh}).code, 2);  // no --project
        QCOMPARE(rlhf_cli({QStringLiteral("import"), hh, QStringLiteral("--project"), dir, QStringLiteral("--as"),
                           QStringLiteral("nonsense")}).code, 2);
        QCOMPARE(rlhf_cli({QStringLiteral("import"), hh, QStringLiteral("--project"), dir, QStringLiteral("--format"),
                           QStringLiteral("nonsense")}).code, 2);
        QCOMPARE(rlhf_cli({QStringLiteral("export"), QStringLiteral("--project"), dir, QStringLiteral("--format"),
                           QStringLiteral("trl-jsonl"), QStringLiteral("out.jsonl")}).code, 2);  // neither --dataset nor --labels
        QCOMPARE(rlhf_cli({QStringLiteral("project"), QStringLiteral("frobnicate"), QStringLiteral("--project"), dir}).code, 2);
        // Failures: 1, one line naming the file.
        QString missing = tmp.path() + QStringLiteral("/missing.jsonl");
        CliResult r = rlhf_cli({QStringLiteral("import"), missing, QStringLiteral("--project"), dir});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.find(missing.toStdString()) != std::string::npos, r.err.c_str());
        {
            Project p = Project::open(dir.toStdString());
            QVERIFY(p.datasets().empty());  // a file that could not be read leaves no dataset behind
        }
        r = rlhf_cli({QStringLiteral("export"), QStringLiteral("--project"), dir, QStringLiteral("--dataset"),
                      QStringLiteral("nope"), QStringLiteral("--format"), QStringLiteral("trl-jsonl"),
                      tmp.path() + QStringLiteral("/x.jsonl")});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.find("nope") != std::string::npos, r.err.c_str());
        r = rlhf_cli({QStringLiteral("project"), QStringLiteral("info"), QStringLiteral("--project"),
                      tmp.path() + QStringLiteral("/not-a-project")});
        QCOMPARE(r.code, 1);
        QVERIFY(!std::filesystem::exists(tmp.path().toStdString() + "/not-a-project"));
    }
};

QTEST_GUILESS_MAIN(StoreCliTest)
#include "test_store_cli.moc"
