// SHA-256 against the FIPS 180-4 example vectors (NIST CSRC "Examples with Intermediate Values",
// SHA256.pdf and SHA2_Additional), plus the invariant that splitting the input never changes it.
#include <QCryptographicHash>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <random>
#include <string>

#include "core/io/error.h"
#include "core/io/sha256.h"

using rlhf::io::Sha256;
using rlhf::io::sha256_file_hex;
using rlhf::io::sha256_hex;

class Sha256Test : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void nist_vectors_data() {
        QTest::addColumn<QByteArray>("message");
        QTest::addColumn<QByteArray>("digest");
        QTest::newRow("empty") << QByteArray()
                               << QByteArray("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        QTest::newRow("abc") << QByteArray("abc")
                             << QByteArray("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        // 448 bits: the padding no longer fits in the first block, so two blocks are compressed.
        QTest::newRow("448-bit") << QByteArray("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                                 << QByteArray("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        QTest::newRow("896-bit")
            << QByteArray("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                          "mnopqrstnopqrstu")
            << QByteArray("cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
        QTest::newRow("million a") << QByteArray(1000000, 'a')
                                   << QByteArray("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
    void nist_vectors() {
        QFETCH(QByteArray, message);
        QFETCH(QByteArray, digest);
        const std::string expected = digest.toStdString();
        QCOMPARE(sha256_hex(std::string_view(message.constData(), size_t(message.size()))), expected);
    }

    // Feeding the million 'a' in uneven pieces exercises every path of update(): partial buffer,
    // buffer completion, whole blocks straight from the input.
    void incremental_matches_one_shot() {
        const std::string expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
        const std::string a(1000000, 'a');
        Sha256 h;
        size_t pos = 0, step = 1;
        while (pos < a.size()) {
            const size_t n = std::min(step, a.size() - pos);
            h.update(a.data() + pos, n);
            pos += n;
            step = step * 7 % 193 + 1;  // 1..193: below, at and above the 64-byte block size
        }
        QCOMPARE(h.hex_digest(), expected);
    }

    // Every split point of the 896-bit vector gives the same digest (boundaries 55/56/64 included).
    void every_split_point() {
        const std::string m =
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
            "mnopqrstnopqrstu";
        for (size_t cut = 0; cut <= m.size(); ++cut) {
            Sha256 h;
            h.update(std::string_view(m).substr(0, cut));
            h.update(std::string_view(m).substr(cut));
            QCOMPARE(h.hex_digest(), std::string("cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));
        }
    }

    // Qt's own SHA-256 (QCryptographicHash) as a second, independent implementation: every
    // length from 0 to 300 bytes (all padding cases) and a few large random inputs.
    void matches_qt_cryptographic_hash() {
        std::mt19937 rng(42);
        auto check = [&](size_t n) {
            QByteArray data(qsizetype(n), Qt::Uninitialized);
            for (char& c : data) c = char(rng());
            const QByteArray qt = QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex();
            QCOMPARE(sha256_hex(std::string_view(data.constData(), n)), qt.toStdString());
        };
        for (size_t n = 0; n <= 300; ++n) check(n);
        for (size_t n : {size_t(4095), size_t(65536), size_t(1) << 20, (size_t(3) << 20) + 17}) check(n);
    }

    void raw_digest_bytes() {
        Sha256 h;
        h.update("abc");
        const std::array<uint8_t, 32> d = h.finish();
        QCOMPARE(int(d[0]), 0xba);
        QCOMPARE(int(d[31]), 0xad);
    }

    void file_digest() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.filePath(QStringLiteral("abc.txt")).toStdString();
        {
            std::ofstream f(path, std::ios::binary);
            f << "abc";
        }
        QCOMPARE(sha256_file_hex(path), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        // A file larger than the 1 MiB read buffer: the million 'a' plus one more.
        const std::string big = dir.filePath(QStringLiteral("big.txt")).toStdString();
        {
            std::ofstream f(big, std::ios::binary);
            f << std::string((1u << 20) + 1, 'a');
        }
        Sha256 h;
        h.update(std::string((1u << 20) + 1, 'a'));
        QCOMPARE(sha256_file_hex(big), h.hex_digest());
    }

    void missing_file_names_path() {
        try {
            sha256_file_hex("/nonexistent/dir/x.bin");
            QFAIL("expected rlhf::Error");
        } catch (const rlhf::Error& e) {
            QVERIFY(std::string(e.what()).find("/nonexistent/dir/x.bin") != std::string::npos);
        }
    }
};

QTEST_APPLESS_MAIN(Sha256Test)
#include "test_sha256.moc"
