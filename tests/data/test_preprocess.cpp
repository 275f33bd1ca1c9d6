// Preprocessing (HTML strip, whitespace), the UTF-8 check, and the ImportOptions that act on
// whole records: identical-pair dropping, the token-length filter, progress and cancellation.
// Expected strings are written by hand from the rules documented in core/data/preprocess.h.
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>

#include "core/data/preprocess.h"
#include "core/data/record_error.h"
#include "core/io/error.h"
#include "data/data_test_util.h"

using namespace data_test;

class DataPreprocessTest : public QObject {
    Q_OBJECT
  private:
    QTemporaryDir dir_;
    std::string write(const char* name, const QByteArray& bytes) {
        std::string p = dir_.filePath(QString::fromLatin1(name)).toStdString();
        write_bytes(p, bytes);
        return p;
    }

  private Q_SLOTS:
    void stripHtml_data() {
        QTest::addColumn<QByteArray>("in");
        QTest::addColumn<QByteArray>("out");
        QTest::newRow("tags") << QByteArray("<b>bold</b> and <i class=\"x\">it</i>")
                              << QByteArray("bold and it");
        QTest::newRow("entities") << QByteArray("a &amp; b &lt;c&gt; &quot;q&quot; it&#39;s&nbsp;x")
                                  << QByteArray("a & b <c> \"q\" it's x");
        QTest::newRow("numeric entities") << QByteArray("&#233;t&#xE9; &#x1F600;")
                                          << QByteArray("\xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80");
        QTest::newRow("escaped tag stays text")
            << QByteArray("&lt;b&gt;not a tag&lt;/b&gt;") << QByteArray("<b>not a tag</b>");
        QTest::newRow("less-than is text")
            << QByteArray("if a < b and c <= 3") << QByteArray("if a < b and c <= 3");
        QTest::newRow("block tags become newlines")
            << QByteArray("<p>one</p><p>two<br/>three</p>") << QByteArray("\none\n\ntwo\nthree\n");
        QTest::newRow("comment") << QByteArray("a<!-- hidden > still hidden -->b")
                                 << QByteArray("ab");
        QTest::newRow("unterminated tag is text")
            << QByteArray("x <b never closed") << QByteArray("x <b never closed");
        QTest::newRow("unknown entity kept")
            << QByteArray("&bogus; &#0; &#xD800;") << QByteArray("&bogus; &#0; &#xD800;");
    }
    void stripHtml() {
        QFETCH(QByteArray, in);
        QFETCH(QByteArray, out);
        QCOMPARE(QByteArray::fromStdString(rlhf::data::strip_html(in.toStdString())), out);
    }

    void normalizeWhitespace_data() {
        QTest::addColumn<QByteArray>("in");
        QTest::addColumn<QByteArray>("out");
        QTest::newRow("runs") << QByteArray("a  \t b") << QByteArray("a b");
        QTest::newRow("trim") << QByteArray("  \n a b \n ") << QByteArray("a b");
        QTest::newRow("crlf") << QByteArray("a\r\nb\rc") << QByteArray("a\nb\nc");
        QTest::newRow("line ends") << QByteArray("a   \n   b") << QByteArray("a\nb");
        QTest::newRow("blank lines") << QByteArray("a\n\n\n\n b") << QByteArray("a\n\nb");
        QTest::newRow("unchanged") << QByteArray("a b\n\nc") << QByteArray("a b\n\nc");
    }
    void normalizeWhitespace() {
        QFETCH(QByteArray, in);
        QFETCH(QByteArray, out);
        QCOMPARE(QByteArray::fromStdString(rlhf::data::normalize_whitespace(in.toStdString())),
                 out);
    }

    void utf8_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<int>("bad");  // offset of the first bad byte, -1 = valid
        QTest::newRow("ascii") << QByteArray("hello") << -1;
        QTest::newRow("2-4 byte forms") << QByteArray("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") << -1;
        QTest::newRow("max code point") << QByteArray("\xF4\x8F\xBF\xBF") << -1;
        QTest::newRow("lone continuation") << QByteArray("ab\x80") << 2;
        QTest::newRow("overlong 2-byte") << QByteArray("\xC1\xBF") << 0;
        QTest::newRow("overlong 3-byte") << QByteArray("x\xE0\x80\xAF") << 1;
        QTest::newRow("surrogate") << QByteArray("\xED\xA0\x80") << 0;
        QTest::newRow("past U+10FFFF") << QByteArray("\xF4\x90\x80\x80") << 0;
        QTest::newRow("truncated") << QByteArray("ok\xE2\x82") << 2;
        QTest::newRow("F5 lead") << QByteArray("\xF5\x80\x80\x80") << 0;
    }
    void utf8() {
        QFETCH(QByteArray, bytes);
        QFETCH(int, bad);
        size_t at = 999;
        bool ok = rlhf::data::is_valid_utf8(
            std::string_view(bytes.constData(), size_t(bytes.size())), &at);
        QCOMPARE(ok, bad < 0);
        if (bad >= 0) QCOMPARE(int(at), bad);
    }

    void importAppliesCleaning() {
        std::string p = write("html.jsonl",
                              "{\"prompt\": \"<p>Hi &amp; welcome</p>\", \"chosen\": \"  Yes  "
                              "\\r\\n  sir \", \"rejected\": \"No\"}\n");
        rlhf::data::ImportOptions o;
        o.strip_html = true;
        o.normalize_whitespace = true;
        Imported got = import_all(p, o);
        QCOMPARE(describe_all(got.records),
                 describe_all({pref({{"", "Hi & welcome"}}, {{"", "Yes\nsir"}}, {{"", "No"}})}));
        // Off by default: the text is kept as is.
        Imported raw = import_all(p);
        QCOMPARE(q(raw.records.at(0).pref.prompt.at(0).content),
                 QStringLiteral("<p>Hi &amp; welcome</p>"));
    }

    void identicalAfterCleaning() {
        // "a  b" and "a b" differ until whitespace is normalized; then the pair is identical.
        std::string p = write("same.jsonl",
                              "{\"chosen\": \"a  b\", \"rejected\": \"a b\"}\n{\"chosen\": \"x\", "
                              "\"rejected\": \"y\"}\n");
        rlhf::data::ImportOptions o;
        QCOMPARE(import_all(p, o).records.size(), size_t(2));
        o.normalize_whitespace = true;
        Imported got = import_all(p, o);
        QCOMPARE(issue_list(got.summary), QStringLiteral("1:identical pair"));
        o.drop_identical_pairs = false;
        QCOMPARE(import_all(p, o).records.size(), size_t(2));
    }

    void lengthFilter() {
        // Tokens counted as space-separated words. Preference length = prompt + longer response:
        // line 1: 1 + max(1, 1) = 2; line 2: 1 + max(5, 1) = 6; line 3: 3 + max(1, 2) = 5.
        std::string p = write(
            "len.jsonl",
            "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n"
            "{\"prompt\": \"p\", \"chosen\": \"one two three four five\", \"rejected\": \"r\"}\n"
            "{\"prompt\": \"p q r\", \"chosen\": \"c\", \"rejected\": \"r s\"}\n");
        rlhf::data::ImportOptions o;
        o.count_tokens = [](const std::string& s) {
            size_t n = 0;
            bool in_word = false;
            for (char c : s) {
                if (c != ' ' && !in_word) ++n;
                in_word = c != ' ';
            }
            return n;
        };
        o.min_tokens = 3;
        o.max_tokens = 5;
        Imported got = import_all(p, o);
        QCOMPARE(issue_list(got.summary), QStringLiteral("1:length filter;2:length filter"));
        QCOMPARE(got.records.size(), size_t(1));
        QCOMPARE(got.records[0].line, uint64_t(3));
    }

    void progressReachesTotal() {
        QByteArray bytes;
        for (int i = 0; i < 1000; ++i) bytes += "{\"text\": \"t" + QByteArray::number(i) + "\"}\n";
        std::string p = write("progress.jsonl", bytes);
        std::vector<std::pair<uint64_t, uint64_t>> calls;
        rlhf::data::ImportOptions o;
        o.progress = [&](uint64_t done, uint64_t total) { calls.push_back({done, total}); };
        import_all(p, o);
        QVERIFY(!calls.empty());
        QCOMPARE(calls.back().first, uint64_t(bytes.size()));
        QCOMPARE(calls.back().second, uint64_t(bytes.size()));
        for (size_t i = 1; i < calls.size(); ++i) QVERIFY(calls[i].first >= calls[i - 1].first);
    }

    void cancelStopsBetweenRecords() {
        QByteArray bytes;
        for (int i = 0; i < 100; ++i) bytes += "{\"text\": \"t\"}\n";
        std::string p = write("cancel.jsonl", bytes);
        std::atomic<bool> cancel{false};
        rlhf::data::ImportOptions o;
        o.cancel = &cancel;
        size_t seen = 0;
        bool cancelled = false;
        try {
            rlhf::data::import_file(p, o, [&](Record&&) {
                if (++seen == 10) cancel = true;
            });
        } catch (const rlhf::Cancelled&) {
            cancelled = true;
        }
        QVERIFY(cancelled);
        QCOMPARE(seen, size_t(10));
    }
};

QTEST_APPLESS_MAIN(DataPreprocessTest)
#include "test_preprocess.moc"
