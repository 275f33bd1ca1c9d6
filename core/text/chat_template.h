// ChatTemplate: turns a conversation into the exact prompt text a model was trained on, by
// rendering the model's Jinja chat_template the way transformers' apply_chat_template does
// (jinja2 sandbox with trim_blocks and lstrip_blocks, tojson without HTML escaping,
// raise_exception, strftime_now). The output is byte-identical to transformers for the Jinja
// subset real templates use; anything outside it is an rlhf::Error with line and column, found
// when the template is parsed (unknown tags, filters, tests) or rendered (bad operands).
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace rlhf::text {

namespace jinja {
struct Template;
}

class ChatTemplate {
public:
    // Parses now; unsupported syntax or a parse error throws rlhf::Error("<label>: line L, column C: <what>").
    explicit ChatTemplate(const std::string& source, std::string label = "chat_template");

    // path: a model folder, its tokenizer.json, or tokenizer_config.json. Reads tokenizer_config.json's
    // chat_template (a string, or a list of {name, template} of which "default" is used; a folder's
    // chat_template.jinja when the config has none), bos_token, eos_token, unk_token, pad_token
    // (each a string or {"content": ...}).
    static ChatTemplate from_tokenizer_config(const std::string& path);

    // messages: [{"role":…, "content":…}, …]. extra: more variables (tools, documents,
    // enable_thinking, date_string…); they override the defaults (tools=None, documents=None and
    // the special tokens). nlohmann::json sorts object keys, so `tojson` of a tool prints its keys
    // sorted; use render_ordered to keep the caller's key order as Python would.
    std::string render(const nlohmann::json& messages, bool add_generation_prompt,
                       const nlohmann::json& extra = nlohmann::json::object()) const;
    // Same, with objects in the order they were written (what transformers sees from Python dicts).
    std::string render_ordered(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                               const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

    // "" when the tokenizer config does not set them (the template then sees them undefined).
    const std::string& bos_token() const { return bos_token_; }
    const std::string& eos_token() const { return eos_token_; }
    const std::string& source() const { return source_; }
    const std::string& label() const { return label_; }

    // Special tokens the template sees as variables (from_tokenizer_config sets them).
    void set_special_token(const std::string& name, const std::string& value);

private:
    template <typename J>
    std::string render_impl(const J& messages, bool add_generation_prompt, const J& extra) const;

    std::string source_;
    std::string label_;
    std::shared_ptr<const jinja::Template> template_;
    std::string bos_token_, eos_token_;
    nlohmann::ordered_json special_tokens_ = nlohmann::ordered_json::object();  // name -> text
};

}  // namespace rlhf::text
