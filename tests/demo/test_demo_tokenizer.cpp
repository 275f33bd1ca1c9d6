// The demo's tokenizer, trained by our BPE trainer on the seeded review corpus, against Hugging
// Face tokenizers: tests/fixtures/demo/hf_ids.jsonl holds the ids that tokenizers 0.22 (through
// its Node binding, tests/tools/demo/hf_ids.js) gives for the committed tokenizer.json.
#include <QtTest>

#include <QTemporaryDir>

#include <nlohmann/json.hpp>

#include "core/demo/bpe_trainer.h"
#include "core/demo/reviews.h"
#include "core/io/atomic_file.h"
#include "core/io/json_io.h"
#include "core/text/tokenizer.h"

using namespace rlhf;

namespace {
const std::string kFixtures = std::string(RLHF_FIXTURES_DIR) + "/demo";

// The recipe the committed fixture was made with (also what `rlhf demo` uses, at a larger size).
demo::BpeModel train_fixture_tokenizer() {
    demo::CorpusOptions corpus;
    corpus.seed = 1234;
    corpus.reviews = 2000;
    std::vector<std::string> texts;
    for (auto& r : demo::generate_reviews(corpus)) texts.push_back(r.text);
    demo::BpeTrainOptions o;
    o.vocab_size = 512;
    return demo::train_byte_level_bpe(texts, o);
}
}  // namespace

class DemoTokenizerTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void trainingIsDeterministic() {
        QTemporaryDir dir;
        std::string path = demo::save_bpe_tokenizer(train_fixture_tokenizer(), dir.path().toStdString());
        std::string config = dir.path().toStdString() + "/tokenizer_config.json";
        if (qEnvironmentVariableIsSet("RLHF_WRITE_FIXTURES")) {
            io::write_file_atomic(kFixtures + "/tokenizer.json", io::read_file(path));
            io::write_file_atomic(kFixtures + "/tokenizer_config.json", io::read_file(config));
        }
        QCOMPARE(io::read_file(path), io::read_file(kFixtures + "/tokenizer.json"));
        QCOMPARE(io::read_file(config), io::read_file(kFixtures + "/tokenizer_config.json"));
    }

    void idsMatchHuggingFace() {
        auto tok = text::Tokenizer::from_file(kFixtures + "/tokenizer.json");
        io::JsonlReader reader(kFixtures + "/hf_ids.jsonl");
        io::JsonlRecord rec;
        int n = 0;
        while (reader.next(rec)) {
            QVERIFY2(rec.error.empty(), rec.error.c_str());
            std::string text = rec.value["text"];
            auto ids = tok->encode(text, false);
            std::vector<int32_t> expected = rec.value["ids"];
            QVERIFY2(ids == expected, text.c_str());
            std::vector<int32_t> expected_special = rec.value["ids_special"];
            QVERIFY2(tok->encode(text, true) == expected_special, text.c_str());
            QCOMPARE(expected_special.front(), tok->eos_id());  // BOS = <|endoftext|>
            QCOMPARE(tok->decode(ids), rec.value["decoded"].get<std::string>());
            ++n;
        }
        QVERIFY(n >= 20);
    }
};

QTEST_APPLESS_MAIN(DemoTokenizerTest)
#include "test_demo_tokenizer.moc"
