// io::append_utf8 (core/io/utf8.h), the one code point -> UTF-8 encoder. Expected bytes are
// hand-encoded from RFC 3629's table (the bit layout is written beside each row), and every
// output is checked to decode back with Qt's independent UTF-8 codec.
#include <QtTest>

#include <string>

#include "core/data/preprocess.h"
#include "core/io/utf8.h"

class Utf8EncodeTest : public QObject {
    Q_OBJECT
  private Q_SLOTS:
    void encode_data() {
        QTest::addColumn<uint>("cp");
        QTest::addColumn<QByteArray>("bytes");
        // 1 byte, 0xxxxxxx
        QTest::newRow("U+0000") << 0x0u << QByteArray("\x00", 1);
        QTest::newRow("U+0041 A") << 0x41u << QByteArray("\x41");
        QTest::newRow("U+007F") << 0x7Fu << QByteArray("\x7F");
        // 2 bytes, 110xxxxx 10xxxxxx: U+0080 = 000 1000 0000 -> C2 80
        QTest::newRow("U+0080") << 0x80u << QByteArray("\xC2\x80");
        // U+00E9 = 000 1110 1001 -> 110 00011, 10 101001 = C3 A9
        QTest::newRow("U+00E9 e-acute") << 0xE9u << QByteArray("\xC3\xA9");
        // U+07FF = 111 1111 1111 -> DF BF
        QTest::newRow("U+07FF") << 0x7FFu << QByteArray("\xDF\xBF");
        // 3 bytes, 1110xxxx 10xxxxxx 10xxxxxx: U+0800 -> E0 A0 80
        QTest::newRow("U+0800") << 0x800u << QByteArray("\xE0\xA0\x80");
        // U+20AC = 0010 000010 101100 -> E2 82 AC
        QTest::newRow("U+20AC euro") << 0x20ACu << QByteArray("\xE2\x82\xAC");
        // U+D7FF = 1101 011111 111111 -> ED 9F BF (last before the surrogates)
        QTest::newRow("U+D7FF") << 0xD7FFu << QByteArray("\xED\x9F\xBF");
        // U+E000 = 1110 000000 000000 -> EE 80 80 (first after them)
        QTest::newRow("U+E000") << 0xE000u << QByteArray("\xEE\x80\x80");
        QTest::newRow("U+FFFF") << 0xFFFFu << QByteArray("\xEF\xBF\xBF");
        // 4 bytes, 11110xxx 10xxxxxx 10xxxxxx 10xxxxxx: U+10000 -> F0 90 80 80
        QTest::newRow("U+10000") << 0x10000u << QByteArray("\xF0\x90\x80\x80");
        // U+1F600 = 000 011111 011000 000000 -> F0 9F 98 80
        QTest::newRow("U+1F600 emoji") << 0x1F600u << QByteArray("\xF0\x9F\x98\x80");
        // U+10FFFF = 100 001111 111111 111111 -> F4 8F BF BF
        QTest::newRow("U+10FFFF") << 0x10FFFFu << QByteArray("\xF4\x8F\xBF\xBF");
        // Not scalar values: U+FFFD = EF BF BD.
        QTest::newRow("surrogate D800") << 0xD800u << QByteArray("\xEF\xBF\xBD");
        QTest::newRow("surrogate DBFF") << 0xDBFFu << QByteArray("\xEF\xBF\xBD");
        QTest::newRow("surrogate DFFF") << 0xDFFFu << QByteArray("\xEF\xBF\xBD");
        QTest::newRow("0x110000") << 0x110000u << QByteArray("\xEF\xBF\xBD");
        QTest::newRow("0x7FFFFFFF") << 0x7FFFFFFFu << QByteArray("\xEF\xBF\xBD");
        QTest::newRow("0xFFFFFFFF") << 0xFFFFFFFFu << QByteArray("\xEF\xBF\xBD");
    }
    void encode() {
        QFETCH(uint, cp);
        QFETCH(QByteArray, bytes);
        std::string out = "x";  // appends, never replaces
        rlhf::io::append_utf8(out, static_cast<char32_t>(cp));
        QCOMPARE(QByteArray::fromStdString(out), QByteArray("x") + bytes);
        // Independent checks: the project's validator and Qt's decoder agree the bytes are one
        // well-formed code point, the expected one (or U+FFFD).
        QVERIFY(rlhf::data::is_valid_utf8(out));
        QList<uint> decoded = QString::fromUtf8(out.data(), static_cast<qsizetype>(out.size())).toUcs4();
        QCOMPARE(decoded.size(), qsizetype(2));
        bool scalar = cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        QCOMPARE(decoded[1], scalar ? cp : 0xFFFDu);
    }
    // Every scalar value round-trips through Qt's decoder (1.1M code points, a fraction of a second).
    void allScalarValuesRoundTrip() {
        std::string out;
        for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
            if (cp >= 0xD800 && cp <= 0xDFFF) continue;
            out.clear();
            rlhf::io::append_utf8(out, cp);
            // After an 'x': QString::fromUtf8 drops a leading U+FEFF as a byte order mark.
            std::string decodable = "x" + out;
            QList<uint> u = QString::fromUtf8(decodable.data(), static_cast<qsizetype>(decodable.size())).toUcs4();
            if (u.size() != 2 || u[1] != cp)
                QFAIL(qPrintable(QStringLiteral("U+%1 does not round-trip").arg(uint(cp), 4, 16, QLatin1Char('0'))));
            size_t expected_len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (out.size() != expected_len) QFAIL("wrong encoded length");
        }
    }
};

QTEST_APPLESS_MAIN(Utf8EncodeTest)
#include "test_utf8.moc"
