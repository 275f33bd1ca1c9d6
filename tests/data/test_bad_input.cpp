// Malformed input: each case is a small file written by the test. The truth is the file itself:
// which of its lines are broken and why is known from how it was written, so each row lists the
// expected "line:category" issues and how many good records around them must still import.
#include <QTemporaryDir>
#include <QtTest>

#include <zlib.h>

#include "core/data/record_error.h"
#include "core/io/error.h"
#include "data/bad_input_cases.h"
#include "data/data_test_util.h"

using namespace data_test;

class DataBadInputTest : public QObject {
    Q_OBJECT
  private:
    QTemporaryDir dir_;
    std::string path(const QString& name) { return dir_.filePath(name).toStdString(); }

  private Q_SLOTS:
    // Per-record problems: the file imports, the broken records are reported and skipped.
    void perRecord_data() {
        QTest::addColumn<int>("index");
        auto cases = per_record_cases();
        for (size_t i = 0; i < cases.size(); ++i) QTest::newRow(cases[i].tag) << int(i);
    }
    void perRecord() {
        QFETCH(int, index);
        const PerRecordCase c = per_record_cases()[size_t(index)];
        const QString name = QString::fromUtf8(c.name), format = QString::fromUtf8(c.format),
                      issues = QString::fromUtf8(c.issues);
        const QByteArray& bytes = c.bytes;
        const int ok = c.ok;
        std::string p = path(name);
        write_bytes(p, bytes);
        Imported got = import_all(p);
        QCOMPARE(q(got.summary.format), format);
        QCOMPARE(issue_list(got.summary), issues);
        QCOMPARE(int(got.records.size()), ok);
        QCOMPARE(got.summary.records_ok, uint64_t(ok));
        QCOMPARE(got.summary.records_skipped, uint64_t(got.summary.issues.size()));
        QCOMPARE(got.summary.records_read, got.summary.records_ok + got.summary.records_skipped);
        uint64_t counted = 0;
        for (const auto& kv : got.summary.skipped_by_reason) counted += kv.second;
        QCOMPARE(counted, got.summary.records_skipped);
        // Every issue reads "<file>:<line>: <reason>".
        for (const auto& i : got.summary.issues)
            QVERIFY(i.to_string(p).rfind(p + ":" + std::to_string(i.line) + ": ", 0) == 0);
    }

    // Whole-file problems: rlhf::Error naming the file.
    void wholeFile_data() {
        QTest::addColumn<int>("index");
        auto cases = whole_file_cases();
        for (size_t i = 0; i < cases.size(); ++i) QTest::newRow(cases[i].tag) << int(i);
    }
    void wholeFile() {
        QFETCH(int, index);
        const WholeFileCase c = whole_file_cases()[size_t(index)];
        const QString name = QString::fromUtf8(c.name), message = QString::fromUtf8(c.message);
        const QByteArray& bytes = c.bytes;
        std::string p = path(name);
        write_bytes(p, bytes);
        try {
            import_all(p);
            QFAIL("expected rlhf::Error");
        } catch (const rlhf::UsageError&) {
            QFAIL("a bad file is not a usage error");
        } catch (const rlhf::Error& e) {
            QVERIFY2(q(e.what()).contains(message), e.what());
            QVERIFY2(q(e.what()).startsWith(q(p)), e.what());
        }
    }

    void missingFile() {
        QVERIFY_THROWS_EXCEPTION(rlhf::Error,
                                 import_all(path(QStringLiteral("does-not-exist.jsonl"))));
    }

    void unknownFormatIsUsageError() {
        std::string p = path(QStringLiteral("u.jsonl"));
        write_bytes(p, lines({kPref}));
        rlhf::data::ImportOptions o;
        o.format = "parquet";
        QVERIFY_THROWS_EXCEPTION(rlhf::UsageError, import_all(p, o));
    }

    void sftAsPreferenceIsWholeFileError() {
        std::string p = path(QStringLiteral("a.jsonl"));
        write_bytes(p, lines({kAlpaca}));
        rlhf::data::ImportOptions o;
        o.as = RecordKind::Preference;
        QVERIFY_THROWS_EXCEPTION(rlhf::Error, import_all(p, o));
    }

    void implicitPromptAsPromptsIsPerRecord() {
        std::string p = path(QStringLiteral("imp.jsonl"));
        write_bytes(p, lines({"{\"chosen\": \"a\", \"rejected\": \"b\"}", kPref}));
        rlhf::data::ImportOptions o;
        o.as = RecordKind::Prompt;
        Imported got = import_all(p, o);
        QCOMPARE(issue_list(got.summary), QStringLiteral("1:bad value"));
        QCOMPARE(describe_all(got.records), describe_all({prompts({{"", "p"}})}));
    }

    // A gzip stream cut in the middle: the records before the cut import, the cut is an issue.
    void truncatedGzip() {
        QByteArray plain;
        for (int i = 0; i < 20000; ++i)
            plain += "{\"prompt\": \"p" + QByteArray::number(i) +
                     "\", \"chosen\": \"c\", \"rejected\": \"r\"}" + "\n";
        QByteArray gz = gzip_bytes(plain);
        std::string p = path(QStringLiteral("cut.jsonl.gz"));
        write_bytes(p, gz.left(gz.size() / 2));
        Imported got = import_all(p);
        QVERIFY(got.records.size() > 1000);
        QVERIFY(got.records.size() < 20000);
        QCOMPARE(got.summary.skipped_by_reason[rlhf::data::kIssueTruncated], uint64_t(1));
        QCOMPARE(got.summary.issues.size(), size_t(1));
        QVERIFY(q(got.summary.issues[0].reason).contains(QStringLiteral("truncated")));
        // The records that did import are the first ones, in order.
        for (size_t i = 0; i < got.records.size(); ++i)
            QCOMPARE(q(got.records[i].pref.prompt[0].content), QStringLiteral("p%1").arg(i));
        // The same cut in a JSON array (read by the byte stream, not LineReader).
        QByteArray arr = "[" + plain;
        arr.replace("}\n", "},\n");
        QByteArray gz2 = gzip_bytes(arr);
        std::string p2 = path(QStringLiteral("cut.json.gz"));
        write_bytes(p2, gz2.left(gz2.size() / 2));
        Imported got2 = import_all(p2);
        QVERIFY(got2.records.size() > 1000);
        QCOMPARE(got2.summary.skipped_by_reason[rlhf::data::kIssueTruncated], uint64_t(1));
    }

    // A 100 MB single line between two good ones: reported as too long, not buffered, and the
    // neighbours import. Generated here, never committed.
    void hugeLine() {
        std::string p = path(QStringLiteral("huge.jsonl"));
        {
            std::ofstream f(p, std::ios::binary);
            f << kPref.constData() << "\n"
              << "{\"prompt\": \"";
            std::string chunk(1 << 20, 'x');
            for (int i = 0; i < 100; ++i) f << chunk;
            f << "\", \"chosen\": \"c\", \"rejected\": \"r\"}"
              << "\n"
              << kPref.constData() << "\n";
        }
        Imported got = import_all(p);
        QCOMPARE(issue_list(got.summary), QStringLiteral("2:line too long"));
        QCOMPARE(got.records.size(), size_t(2));
        QCOMPARE(got.records[1].line, uint64_t(3));
        // The same in a JSON array element.
        std::string pj = path(QStringLiteral("huge.json"));
        {
            std::ofstream f(pj, std::ios::binary);
            f << "[" << kPref.constData() << ",\n"
              << "{\"prompt\": \"";
            std::string chunk(1 << 20, 'x');
            for (int i = 0; i < 100; ++i) f << chunk;
            f << "\", \"chosen\": \"c\", \"rejected\": \"r\"}"
              << ",\n"
              << kPref.constData() << "]";
        }
        Imported gj = import_all(pj);
        QCOMPARE(issue_list(gj.summary), QStringLiteral("2:line too long"));
        QCOMPARE(gj.records.size(), size_t(2));
        QFile::remove(q(p));
        QFile::remove(q(pj));
    }

    void issuesKeptAreBounded() {
        QByteArray bytes = lines({kPref});
        for (int i = 0; i < 500; ++i) bytes += "{bad\n";
        std::string p = path(QStringLiteral("many.jsonl"));
        write_bytes(p, bytes);
        rlhf::data::ImportOptions o;
        o.max_issues_kept = 10;
        Imported got = import_all(p, o);
        QCOMPARE(got.summary.issues.size(), size_t(10));
        QCOMPARE(got.summary.records_skipped, uint64_t(500));
        QCOMPARE(got.summary.skipped_by_reason[rlhf::data::kIssueInvalidJson], uint64_t(500));
        QCOMPARE(got.summary.issues[9].line, uint64_t(11));
    }

    // Seeded mutations of every fixture (byte flips, cuts, inserted quotes, brackets, newlines,
    // invalid bytes): each import either throws rlhf::Error or returns a summary whose counts
    // add up. Run under ASan/UBSan this is the "no crash, no UB on garbage" check.
    void mutatedFixturesNeverCrash() {
        QDir fixtures(QStringLiteral(RLHF_FIXTURES_DIR "/data"));
        const QStringList files = fixtures.entryList(QDir::Files);
        QVERIFY(files.size() >= 10);
        uint64_t state = 0x9E3779B97F4A7C15ull;  // xorshift64, fixed seed: reproducible
        auto rnd = [&](uint64_t n) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            return n ? state % n : 0;
        };
        const char kNasty[] = {'"', '\\', '[', ']', '{', '}', ',', '\n', '\r', '\t', '\0', '\xFF', '\xC3'};
        int imports = 0, whole_file_errors = 0;
        for (const QString& name : files) {
            QFile f(fixtures.filePath(name));
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QByteArray original = f.readAll();
            for (int m = 0; m < 30; ++m) {
                QByteArray b = original;
                const int edits = 1 + int(rnd(4));
                for (int e = 0; e < edits && !b.isEmpty(); ++e) {
                    const int at = int(rnd(uint64_t(b.size())));
                    switch (rnd(4)) {
                        case 0: b[at] = char(rnd(256)); break;
                        case 1: b.truncate(at); break;
                        case 2: b.insert(at, kNasty[rnd(sizeof kNasty)]); break;
                        default: b.remove(at, 1 + int(rnd(8))); break;
                    }
                }
                std::string p = path(QStringLiteral("fuzz-") + name);
                write_bytes(p, b);
                try {
                    Imported got = import_all(p);
                    QCOMPARE(got.summary.records_read, got.summary.records_ok + got.summary.records_skipped);
                    QCOMPARE(uint64_t(got.records.size()), got.summary.records_ok);
                } catch (const rlhf::Error&) {
                    ++whole_file_errors;
                }
                ++imports;
            }
        }
        qInfo("%d mutated imports, %d rejected as whole files", imports, whole_file_errors);
    }

    void jsonIssueNamesPhysicalLine() {
        // Element 2 starts on line 3 of the file.
        std::string p = path(QStringLiteral("lines.json"));
        write_bytes(
            p, "[\n" + kPref + ",\n{\"prompt\": 1,\n \"chosen\": \"c\", \"rejected\": \"r\"}\n]");
        Imported got = import_all(p);
        QCOMPARE(issue_list(got.summary), QStringLiteral("2:wrong type"));
        QCOMPARE(got.summary.issues[0].file_line, uint64_t(3));
    }
};

QTEST_APPLESS_MAIN(DataBadInputTest)
#include "test_bad_input.moc"
