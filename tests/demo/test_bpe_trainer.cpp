// The demo's byte-level BPE trainer. The merge sequence below is counted by hand.
#include <QtTest>

#include <QTemporaryDir>

#include <nlohmann/json.hpp>

#include "core/demo/bpe_trainer.h"
#include "core/io/atomic_file.h"

using namespace rlhf::demo;

class BpeTrainerTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void alphabetIsGpt2s() {
        const auto& a = byte_level_alphabet();
        QCOMPARE(a[' '], std::string("\xC4\xA0"));   // U+0120 'Ġ' (256 + 32: the 33rd non-printable)
        QCOMPARE(a['\n'], std::string("\xC4\x8A"));  // U+010A 'Ċ' (256 + 10)
        QCOMPARE(a['A'], std::string("A"));
        QCOMPARE(a[0xAD], std::string("\xC5\x83"));  // soft hyphen is not printable: U+0143 (256 + 67)
    }

    void handCountedMerges() {
        // Words: "aaab", " aaab", " ab" (pre-split keeps the leading space on a word).
        // Pair counts: aa = 2 + 2 = 4, ab = 1 + 1 + 1 = 3, " a" = 1 + 1 = 2  -> merge (a, a)
        // Then: (aa, a) = 2, (a, b) = 3, (" ", aa) = 1, (" ", a) = 1         -> merge (a, b)
        // Then: (aa, ab) = 2, (" ", aa) = 1, (" ", ab) = 1                   -> merge (aa, ab)
        BpeTrainOptions o;
        o.vocab_size = 256 + 3 + 1;
        o.min_pair_count = 1;
        BpeModel m = train_byte_level_bpe({"aaab aaab ab"}, o);
        QCOMPARE(m.merges.size(), size_t(3));
        QCOMPARE(m.merges[0], std::make_pair(std::string("a"), std::string("a")));
        QCOMPARE(m.merges[1], std::make_pair(std::string("a"), std::string("b")));
        QCOMPARE(m.merges[2], std::make_pair(std::string("aa"), std::string("ab")));
        QCOMPARE(m.vocab.back(), std::string("aaab"));
        QCOMPARE(m.eos_id, size_t(259));
    }

    void stopsWhenPairsAreRare() {
        BpeTrainOptions o;
        o.vocab_size = 4096;
        o.min_pair_count = 2;
        BpeModel m = train_byte_level_bpe({"xyz"}, o);  // every pair occurs once
        QCOMPARE(m.merges.size(), size_t(0));
    }

    void savesTokenizerJson() {
        QTemporaryDir dir;
        BpeTrainOptions o;
        o.vocab_size = 300;
        BpeModel m = train_byte_level_bpe({"the lamp is great. the lamp is awful. the kettle is great."}, o);
        std::string path = save_bpe_tokenizer(m, dir.path().toStdString());
        auto j = nlohmann::json::parse(rlhf::io::read_file(path));
        QCOMPARE(j["model"]["type"].get<std::string>(), std::string("BPE"));
        QCOMPARE(j["model"]["vocab"].size(), m.vocab.size());
        QCOMPARE(j["model"]["merges"].size(), m.merges.size());
        QCOMPARE(j["added_tokens"][0]["id"].get<size_t>(), m.eos_id);
        // every merge's parts and result are in the vocabulary
        for (const auto& mg : j["model"]["merges"]) {
            std::string s = mg.get<std::string>();
            auto sp = s.find(' ');
            QVERIFY(j["model"]["vocab"].contains(s.substr(0, sp)));
            QVERIFY(j["model"]["vocab"].contains(s.substr(0, sp) + s.substr(sp + 1)));
        }
    }
};

QTEST_APPLESS_MAIN(BpeTrainerTest)
#include "test_bpe_trainer.moc"
