// data::sha256_hex_fast (SHA-NI when the CPU has it) against the portable io::Sha256 and the FIPS
// 180-2 appendix B examples: every length 0..300 (all padding cases: rest 0..63, the length field
// in the same or the next block) and large random buffers; content_hash of a record is unchanged.
#include <QtTest>

#include <random>
#include <string>

#include "core/data/records.h"
#include "core/data/sha256_hw.h"
#include "core/io/sha256.h"

using namespace rlhf;

class Sha256HwTest : public QObject {
    Q_OBJECT
  private Q_SLOTS:
    void fipsExamples() {
        // FIPS 180-2 appendix B.1 and B.2.
        QCOMPARE(data::sha256_hex_fast("abc"),
                 std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        QCOMPARE(data::sha256_hex_fast("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                 std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
        QCOMPARE(data::sha256_hex_fast(""),
                 std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        if (data::sha256_hw_available())
            QCOMPARE(
                data::sha256_hex_hw("abc"),
                std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    }

    void matchesPortableCodeAtEveryLength() {
        qInfo("SHA instructions %s",
              data::sha256_hw_available() ? "used" : "not available: portable path");
        std::mt19937 rng(7);
        std::string buf;
        for (size_t n = 0; n <= 300; ++n) {
            buf.resize(n);
            for (char& c : buf) c = static_cast<char>(rng());
            std::string want = io::sha256_hex(buf);
            QCOMPARE(data::sha256_hex_fast(buf), want);
            if (data::sha256_hw_available()) QCOMPARE(data::sha256_hex_hw(buf), want);
        }
        for (size_t n : {4095u, 4096u, 65537u, 1000003u}) {
            buf.resize(n);
            for (char& c : buf) c = static_cast<char>(rng());
            QCOMPARE(data::sha256_hex_fast(buf), io::sha256_hex(buf));
        }
    }

    // content_hash is the portable hash of the canonical JSON, whichever path computed it (stored
    // hashes of older projects keep matching, so re-imports stay idempotent).
    void contentHashUnchanged() {
        data::Record r;
        r.kind = data::RecordKind::Preference;
        r.pref.prompt = {{"user", "What is 2+2?"}};
        r.pref.chosen = {{"assistant", "4"}};
        r.pref.rejected = {{"assistant", "5"}};
        QCOMPARE(data::content_hash(r), io::sha256_hex(data::canonical_content_json(r)));
    }
};

QTEST_APPLESS_MAIN(Sha256HwTest)
#include "test_sha256_hw.moc"
