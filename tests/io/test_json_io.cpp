// JSON / JSONL readers. Gzip inputs are made here with zlib's own compressor (deflateInit2 with a
// gzip wrapper), so the reader is checked against an independent encoder, not against itself.
#include <QTemporaryDir>
#include <QtTest>

#include <zlib.h>

#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/io/error.h"
#include "core/io/json_io.h"

using namespace rlhf::io;

namespace {

std::string gzip_bytes(const std::string& plain) {
    z_stream zs{};
    // windowBits 15 + 16: write a gzip header and trailer (zlib.h, deflateInit2).
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
    std::string out(deflateBound(&zs, uLong(plain.size())) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
    zs.avail_in = uInt(plain.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = uInt(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? out : std::string();
}

struct Lines {
    std::vector<std::string> text;
    std::vector<uint64_t> number;
    std::vector<bool> too_long;
};

Lines read_all(const std::string& path, size_t max_line_bytes = 64u << 20) {
    LineReader r(path, max_line_bytes);
    Lines out;
    std::string line;
    while (r.next(line)) {
        out.text.push_back(line);
        out.number.push_back(r.line_number());
        out.too_long.push_back(r.line_too_long());
    }
    return out;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const rlhf::Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

class JsonIoTest : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;
    std::string write(const QString& name, const std::string& bytes) {
        const std::string path = dir_.filePath(name).toStdString();
        std::ofstream f(path, std::ios::binary);
        f.write(bytes.data(), std::streamsize(bytes.size()));
        return path;
    }

private Q_SLOTS:
    void plain_lines_and_numbers() {
        const std::string path = write(QStringLiteral("a.txt"), "one\ntwo\n\nfour");
        const Lines l = read_all(path);
        QCOMPARE(l.text, (std::vector<std::string>{"one", "two", "", "four"}));
        QCOMPARE(l.number, (std::vector<uint64_t>{1, 2, 3, 4}));
        LineReader r(path);
        QVERIFY(!r.is_gzip());
        QCOMPARE(r.file_size(), uint64_t(13));  // 3+1 + 3+1 + 1 + 4 bytes
        QCOMPARE(r.path(), path);
    }

    void trailing_newline_adds_no_line() {
        QCOMPARE(read_all(write(QStringLiteral("b.txt"), "x\n")).text, std::vector<std::string>{"x"});
        QCOMPARE(read_all(write(QStringLiteral("empty.txt"), "")).text.size(), size_t(0));
        QCOMPARE(read_all(write(QStringLiteral("nl.txt"), "\n")).text, std::vector<std::string>{""});
    }

    void crlf_and_bom() {
        // UTF-8 BOM EF BB BF at the start is dropped; "\r\n" endings lose both bytes; a lone "\r"
        // inside a line is content.
        const std::string path = write(QStringLiteral("c.txt"), "\xEF\xBB\xBFh\xC3\xA9\r\na\rb\r\nlast\r\n");
        QCOMPARE(read_all(path).text, (std::vector<std::string>{"h\xC3\xA9", "a\rb", "last"}));
        // A BOM that is only at the start: the same bytes later are content.
        const std::string path2 = write(QStringLiteral("c2.txt"), "x\n\xEF\xBB\xBFy\n");
        QCOMPARE(read_all(path2).text, (std::vector<std::string>{"x", "\xEF\xBB\xBFy"}));
        // A file starting with U+FF01 (EF BC 81) is not a BOM: nothing is dropped.
        const std::string path3 = write(QStringLiteral("c3.txt"), "\xEF\xBC\x81!\n");
        QCOMPARE(read_all(path3).text, (std::vector<std::string>{"\xEF\xBC\x81!"}));
        // Only a BOM: no lines. Only two of its bytes: they are the content.
        QCOMPARE(read_all(write(QStringLiteral("c4.txt"), "\xEF\xBB\xBF")).text.size(), size_t(0));
        QCOMPARE(read_all(write(QStringLiteral("c5.txt"), "\xEF\xBB")).text, (std::vector<std::string>{"\xEF\xBB"}));
    }

    void gzip_detected_by_magic_not_name() {
        std::string plain;
        for (int i = 1; i <= 5000; ++i) plain += "{\"i\":" + std::to_string(i) + "}\r\n";
        const std::string path = write(QStringLiteral("data.jsonl"), gzip_bytes("\xEF\xBB\xBF" + plain));
        LineReader r(path);
        QVERIFY(r.is_gzip());
        std::string line;
        uint64_t n = 0;
        while (r.next(line)) {
            ++n;
            QCOMPARE(line, "{\"i\":" + std::to_string(n) + "}");
            QCOMPARE(r.line_number(), n);
        }
        QCOMPARE(n, uint64_t(5000));
        QCOMPARE(r.compressed_bytes_read(), r.file_size());
        // And a plain file named .gz is read as plain.
        QCOMPARE(read_all(write(QStringLiteral("plain.gz"), "p\n")).text, std::vector<std::string>{"p"});
    }

    void gzip_larger_than_buffers() {
        // ~3 MB of inflated text with lines crossing every buffer boundary.
        std::string plain;
        std::vector<std::string> expected;
        for (int i = 0; i < 30000; ++i) {
            expected.push_back(std::string(size_t(i % 200), char('a' + i % 26)));
            plain += expected.back() + "\n";
        }
        const std::string path = write(QStringLiteral("big.gz"), gzip_bytes(plain));
        QCOMPARE(read_all(path).text, expected);
    }

    void concatenated_gzip_members() {
        // `cat a.gz b.gz` is a valid gzip file that gzip -d reads as a + b (RFC 1952 §2.2).
        const std::string path = write(QStringLiteral("two.gz"), gzip_bytes("a1\na2\n") + gzip_bytes("b1\n"));
        QCOMPARE(read_all(path).text, (std::vector<std::string>{"a1", "a2", "b1"}));
        // Empty members: gzip of "" holds no line, and does not end the stream early.
        QCOMPARE(read_all(write(QStringLiteral("empty.gz"), gzip_bytes(""))).text.size(), size_t(0));
        QCOMPARE(read_all(write(QStringLiteral("e2.gz"), gzip_bytes("") + gzip_bytes("x\n") + gzip_bytes(""))).text,
                 std::vector<std::string>{"x"});
        // A line split across two members is one line, as `gzip -dc` prints it.
        QCOMPARE(read_all(write(QStringLiteral("split.gz"), gzip_bytes("hel") + gzip_bytes("lo\n"))).text,
                 std::vector<std::string>{"hello"});
    }

    void truncated_gzip_names_file() {
        std::string plain;
        for (int i = 0; i < 2000; ++i) plain += "line " + std::to_string(i) + "\n";
        const std::string gz = gzip_bytes(plain);
        // Cut inside the deflate data, and cut inside the 8-byte trailer (CRC32 + ISIZE).
        for (size_t keep : {gz.size() / 2, gz.size() - 4}) {
            const std::string path = write(QStringLiteral("cut.gz"), gz.substr(0, keep));
            const std::string err = error_of([&] { read_all(path); });
            QVERIFY2(err.find(path) != std::string::npos, err.c_str());
            QVERIFY2(err.find("truncated gzip") != std::string::npos, err.c_str());
        }
    }

    void corrupt_gzip_names_file() {
        std::string gz = gzip_bytes(std::string(1000, 'x') + "\n");
        gz[gz.size() - 6] ^= 0x55;  // flip a CRC32 byte: zlib reports "incorrect data check"
        const std::string path = write(QStringLiteral("crc.gz"), gz);
        const std::string err = error_of([&] { read_all(path); });
        QVERIFY2(err.find(path) != std::string::npos && err.find("gzip") != std::string::npos, err.c_str());
        // Garbage after a complete member is an error, not silently ignored.
        const std::string path2 = write(QStringLiteral("tail.gz"), gzip_bytes("ok\n") + "garbage!");
        const std::string err2 = error_of([&] { read_all(path2); });
        QVERIFY2(err2.find(path2) != std::string::npos, err2.c_str());
    }

    // Damaged gzip files (byte flips, cuts) must end in lines or an rlhf::Error, never a crash or
    // another exception type.
    void mutated_gzip_only_throws_rlhf_error() {
        std::string plain;
        for (int i = 0; i < 300; ++i) plain += "{\"k\":" + std::to_string(i * 7919) + "}\n";
        const std::string gz = gzip_bytes(plain);
        std::mt19937 rng(7);
        int errors = 0;
        for (int iter = 0; iter < 300; ++iter) {
            std::string m = gz;
            if (iter % 3 == 0) {
                m.resize(rng() % m.size());
            } else {
                m[rng() % m.size()] ^= char(1 + rng() % 255);
            }
            const std::string path = write(QStringLiteral("mut.gz"), m);
            try {
                LineReader r(path, 64);
                std::string line;
                while (r.next(line)) QVERIFY(line.size() <= 64);
            } catch (const rlhf::Error& e) {
                ++errors;
                QVERIFY2(std::string(e.what()).find(path) != std::string::npos, e.what());
            }
        }
        QVERIFY(errors > 0);
    }

    void long_line_skipped_with_bounded_memory() {
        // Limit 100 bytes: a 100-byte line passes, 101 is too long; a 100-byte line ending in
        // "\r\n" passes (the "\r" is not content); a 5 MB line is dropped without being buffered.
        const std::string big(5u << 20, 'z');
        const std::string text = std::string(100, 'a') + "\n" + std::string(101, 'b') + "\n" +
                                 std::string(100, 'c') + "\r\n" + big + "\nafter\n" + big;
        for (bool gz : {false, true}) {
            const std::string path = write(gz ? QStringLiteral("long.gz") : QStringLiteral("long.txt"),
                                           gz ? gzip_bytes(text) : text);
            LineReader r(path, 100);
            std::string line;
            QVERIFY(r.next(line));
            QCOMPARE(line, std::string(100, 'a'));
            QVERIFY(!r.line_too_long());
            QVERIFY(r.next(line));
            QVERIFY(r.line_too_long());
            QVERIFY(line.empty());
            QCOMPARE(r.line_number(), uint64_t(2));
            QVERIFY(r.next(line));
            QCOMPARE(line, std::string(100, 'c'));
            QVERIFY(!r.line_too_long());
            QVERIFY(r.next(line));
            QVERIFY(r.line_too_long());
            // The caller's string never grew near the 5 MB line: only up to the limit was kept.
            QVERIFY2(line.capacity() < 4096, std::to_string(line.capacity()).c_str());
            QVERIFY(r.next(line));
            QCOMPARE(line, std::string("after"));
            QCOMPARE(r.line_number(), uint64_t(5));
            QVERIFY(r.next(line));  // the last line, without a newline, also too long
            QVERIFY(r.line_too_long());
            QCOMPARE(r.line_number(), uint64_t(6));
            QVERIFY(!r.next(line));
        }
    }

    void jsonl_records() {
        const std::string path = write(QStringLiteral("r.jsonl"),
                                       "{\"a\":1}\n\n   \n{\"a\":\n[1,2]\r\n" + std::string(200, ' ') + "\n");
        JsonlReader r(path);
        JsonlRecord rec;
        QVERIFY(r.next(rec));
        QCOMPARE(rec.line, uint64_t(1));
        QVERIFY(rec.error.empty());
        QCOMPARE(rec.value["a"].get<int>(), 1);
        QVERIFY(r.next(rec));  // blank lines 2 and 3 skipped
        QCOMPARE(rec.line, uint64_t(4));
        QVERIFY(rec.error.rfind(path + ":4: ", 0) == 0);
        QVERIFY(r.next(rec));
        QCOMPARE(rec.line, uint64_t(5));
        QVERIFY(rec.error.empty());
        QCOMPARE(rec.value, nlohmann::json::array({1, 2}));
        QVERIFY(!r.next(rec));  // a whitespace-only last line is blank too
    }

    void jsonl_gzip_and_too_long() {
        const std::string path = write(QStringLiteral("r.jsonl.gz"), gzip_bytes("{\"x\":\"y\"}\n[]\n"));
        JsonlReader r(path);
        JsonlRecord rec;
        QVERIFY(r.next(rec));
        QCOMPARE(rec.value["x"].get<std::string>(), std::string("y"));
        QVERIFY(r.next(rec));
        QVERIFY(rec.value.is_array());
        QVERIFY(!r.next(rec));
        QVERIFY(r.lines().is_gzip());
    }

    void json_file_errors_have_line_and_column() {
        // Line 3 is `  "b": ,`: the unexpected ',' is the 8th character of line 3.
        const std::string path = write(QStringLiteral("bad.json"), "{\n  \"a\": 1,\n  \"b\": ,\n}\n");
        const std::string err = error_of([&] { read_json_file(path); });
        QVERIFY2(err.rfind(path + ":3:8: ", 0) == 0, err.c_str());
        const std::string ok = write(QStringLiteral("ok.json"), "\xEF\xBB\xBF{\"k\": [1, 2.5, \"s\"]}");
        const nlohmann::json j = read_json_file(ok);
        QCOMPARE(j["k"][2].get<std::string>(), std::string("s"));
        const std::string missing = error_of([] { read_json_file("/nonexistent/x.json"); });
        QVERIFY(missing.find("/nonexistent/x.json") != std::string::npos);
        const std::string label_err = error_of([] { parse_json("[1, 2", "config.json"); });
        QVERIFY2(label_err.rfind("config.json:1:", 0) == 0, label_err.c_str());
    }

    void unique_keys() {
        // nlohmann keeps the last of two equal keys; parse_json_unique_keys refuses, at any depth,
        // while equal keys in sibling objects are fine.
        QCOMPARE(parse_json("{\"a\":1,\"a\":2}", "x")["a"].get<int>(), 2);
        const std::string err = error_of([] { parse_json_unique_keys("{\"m\":{\"k\":1,\"k\":2}}", "w.json"); });
        QVERIFY2(err == "w.json: duplicate key 'k'", err.c_str());
        const nlohmann::json ok = parse_json_unique_keys("{\"a\":{\"k\":1},\"b\":{\"k\":2},\"k\":[{\"k\":3}]}", "y");
        QCOMPARE(ok["k"][0]["k"].get<int>(), 3);
        const std::string syntax = error_of([] { parse_json_unique_keys("{\n\"a\" 1}", "z.json"); });
        QVERIFY2(syntax.rfind("z.json:2:5: ", 0) == 0, syntax.c_str());  // line 2 `"a" 1`: col 5 is the '1'
    }

    void missing_file_throws() {
        const std::string err = error_of([] { LineReader r("/nonexistent/l.jsonl"); });
        QVERIFY(err.find("/nonexistent/l.jsonl") != std::string::npos);
    }
};

QTEST_APPLESS_MAIN(JsonIoTest)
#include "test_json_io.moc"
