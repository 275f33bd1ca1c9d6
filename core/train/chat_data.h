// Conversational training records -> the prompt and response text a model is trained on.
//
// With the model's chat template (tokenizer_config.json's chat_template, core/text ChatTemplate)
// a prompt is rendered with add_generation_prompt=true, and a response is the assistant
// continuation: the text the template adds after the generation prompt when the response turns
// are appended, cut after the end-of-turn token that closes the last response turn (the
// tokenizer config's eos_token or a known one: "<|im_end|>", "<|eot_id|>", "<end_of_turn>"...;
// without one, after the last non-whitespace character). The caller tokenizes prompt and response separately, so the
// boundary never merges into one token and SFT can mask exactly the prompt's tokens.
// Without a template turns are joined one per line as "role: content". Role-less (TRL standard)
// text is rendered only when asked to (data.chat_template: model): "auto" keeps it plain, as TRL
// does, so the demo's GPT-2 (whose minimal template is for `rlhf chat`) still continues its
// review openings as it was pre-trained.
//
// TrainEncoder (end of file) turns records into the token ids a run trains on; `rlhf train` and
// `rlhf score` both use it, so a reward model is scored on exactly the tokens it was trained on.
//
// Header-only on purpose: only the users that render chats (the rlhf CLI, tests) pay for core/text.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data/records.h"
#include "core/io/error.h"
#include "core/text/chat_template.h"
#include "core/text/tokenizer.h"
#include "core/train/config.h"

namespace rlhf::train {

// Role-less (TRL standard) text is used as is; conversational turns are joined one per line.
inline std::string join_messages(const data::Messages& m) {
    std::string out;
    for (const auto& msg : m) {
        if (!out.empty()) out += "\n";
        out += msg.role.empty() ? msg.content : msg.role + ": " + msg.content;
    }
    return out;
}

class ChatFormatter {
public:
    // chat_template null: the plain join. role_less_too: render role-less text too (as a user
    // prompt and an assistant response); otherwise only examples with roles use the template.
    explicit ChatFormatter(std::shared_ptr<const text::ChatTemplate> chat_template = nullptr, bool role_less_too = true)
        : template_(std::move(chat_template)), role_less_too_(role_less_too) {}

    bool templated() const { return template_ != nullptr; }

    // Whether the example (prompt, and its response when given) is rendered with the template.
    bool uses_template(const data::Messages& prompt, const data::Messages& response = {}) const {
        if (!template_) return false;
        if (role_less_too_) return true;
        for (const auto* list : {&prompt, &response})
            for (const auto& m : *list)
                if (!m.role.empty()) return true;
        return false;
    }

    // Prompt text; with a template, followed by the generation prompt (e.g. "<|im_start|>assistant\n").
    // response: the example's response, when there is one (it takes part in uses_template).
    std::string prompt(const data::Messages& prompt, const data::Messages& response = {}) const {
        if (!uses_template(prompt, response)) return join_messages(prompt);
        if (prompt.empty()) return "";
        return template_->render(to_json(prompt, "user"), /*add_generation_prompt=*/true);
    }

    // Response text after `prompt`; with a template, the assistant continuation ending with the
    // end-of-turn token. Throws rlhf::Error when the template does not render the conversation
    // as the prompt's rendering followed by more text (data.chat_template: none avoids it).
    std::string response(const data::Messages& prompt, const data::Messages& response) const {
        if (!uses_template(prompt, response)) return join_messages(response);
        auto all = to_json(prompt, "user");
        for (const auto& m : to_json(response, "assistant")) all.push_back(m);
        const std::string full = template_->render(all, /*add_generation_prompt=*/false);
        const std::string head = this->prompt(prompt, response);
        if (full.compare(0, head.size(), head) != 0)
            throw Error(template_->label() +
                        ": the rendered conversation does not start with the rendered prompt, so the response "
                        "cannot be cut out of it (set data.chat_template: none)");
        std::string tail = full.substr(head.size());
        // Cut after the first end-of-turn marker that follows the last response turn's content.
        // Searching after the content matters: some templates (Llama 3's) append a generation
        // prompt even when asked not to, and the content itself may mention a marker.
        size_t from = 0;
        for (const auto& m : response) {  // each turn's content, in order
            const std::string content = trim(m.content);
            const size_t at = content.empty() ? std::string::npos : tail.find(content, from);
            if (at != std::string::npos) from = at + content.size();
        }
        size_t cut = std::string::npos;
        for (const std::string& marker : end_of_turn_markers()) {
            const size_t at = marker.empty() ? std::string::npos : tail.find(marker, from);
            if (at != std::string::npos && (cut == std::string::npos || at + marker.size() < cut)) cut = at + marker.size();
        }
        if (cut == std::string::npos) {
            const size_t last = tail.find_last_not_of(" \t\r\n");
            cut = last == std::string::npos ? 0 : last + 1;
        }
        tail.resize(cut);
        return tail;
    }

private:
    // The tokenizer config's eos_token and the end-of-turn tokens of the template families we
    // load (ChatML/Qwen, Llama 3, Gemma, Phi-3, Llama 2/Mistral).
    std::vector<std::string> end_of_turn_markers() const {
        return {template_->eos_token(), "<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "</s>"};
    }
    static std::string trim(const std::string& s) {
        const size_t a = s.find_first_not_of(" \t\r\n");
        if (a == std::string::npos) return "";
        return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
    }

    // Role-less text takes the role it plays here (a TRL standard prompt is the user's turn).
    static nlohmann::json to_json(const data::Messages& m, const char* default_role) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& msg : m)
            out.push_back({{"role", msg.role.empty() ? std::string(default_role) : msg.role}, {"content", msg.content}});
        return out;
    }

    std::shared_ptr<const text::ChatTemplate> template_;
    bool role_less_too_ = true;
};

// Whether a model folder (or the folder of a tokenizer file) ships a chat template
// (chat_template.jinja, or a non-null tokenizer_config.json "chat_template").
inline bool has_chat_template(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
    if (fs::exists(dir / "chat_template.jinja")) return true;
    const fs::path config = dir / "tokenizer_config.json";
    if (!fs::exists(config)) return false;
    std::ifstream in(config, std::ios::binary);
    auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    return j.is_object() && j.contains("chat_template") && !j["chat_template"].is_null();
}

// The formatter of data.chat_template: none -> plain join; auto -> the template for conversational
// records when the tokenizer folder has one (role-less text stays plain); model -> the template
// for every record. `where` prefixes errors (e.g. "run.yaml: data.chat_template").
inline ChatFormatter make_chat_formatter(ChatTemplateMode mode, const std::string& tokenizer_path, const std::string& where) {
    if (mode == ChatTemplateMode::None) return ChatFormatter();
    if (mode == ChatTemplateMode::Auto && !has_chat_template(tokenizer_path)) return ChatFormatter();
    try {
        return ChatFormatter(std::make_shared<const text::ChatTemplate>(text::ChatTemplate::from_tokenizer_config(tokenizer_path)),
                             /*role_less_too=*/mode == ChatTemplateMode::Model);
    } catch (const Error& e) {
        throw Error(where + ": " + e.what());
    }
}

// Records -> token ids, as every algorithm trains on them:
//   prompt:   the formatter's prompt text; plain text with the tokenizer's special tokens (BOS),
//             templated text without (a rendered template already holds them, as
//             apply_chat_template(tokenize=True) encodes); cut from the left to max_prompt tokens
//             (the end of a long prompt is what the response follows).
//   response: tokenized separately (no token spans the boundary), without special tokens; a plain
//             response gets EOS appended, a templated one already ends with the end-of-turn token.
// Sequences are cut to data.max_length later, by collate_sequences.
struct TrainEncoder {
    std::shared_ptr<const text::Tokenizer> tok;
    int64_t max_prompt = 256;  // data.max_prompt_length
    ChatFormatter chat;        // the model's chat template, or the plain "role: content" join

    // response: the example's response when it has one (it decides whether the template is used).
    std::vector<int64_t> prompt(const data::Messages& m, const data::Messages& response = {}) const {
        auto ids = tok->encode(chat.prompt(m, response), /*add_special_tokens=*/!chat.uses_template(m, response));
        std::vector<int64_t> out(ids.begin(), ids.end());
        if (static_cast<int64_t>(out.size()) > max_prompt) out.erase(out.begin(), out.end() - max_prompt);
        return out;
    }
    std::vector<int64_t> response(const data::Messages& prompt, const data::Messages& m) const {
        auto ids = tok->encode(chat.response(prompt, m), /*add_special_tokens=*/false);
        std::vector<int64_t> out(ids.begin(), ids.end());
        if (!chat.uses_template(prompt, m) && tok->eos_id() >= 0) out.push_back(tok->eos_id());
        return out;
    }
    // A preference pair as RM and DPO train on it (the prompt rendered in the chosen response's
    // context, each response after it).
    struct Pair {
        std::vector<int64_t> prompt, chosen, rejected;
    };
    Pair pair(const data::Messages& prompt, const data::Messages& chosen, const data::Messages& rejected) const {
        return {this->prompt(prompt, chosen), response(prompt, chosen), response(prompt, rejected)};
    }
    int64_t pad_id() const {
        if (tok->pad_id() >= 0) return tok->pad_id();
        return tok->eos_id() >= 0 ? tok->eos_id() : 0;
    }
};

// The encoder of a run: tokenizer and chat template from tokenizer_path (a model folder or a
// tokenizer.json), data.max_prompt_length and data.chat_template from the config.
inline TrainEncoder make_train_encoder(const DataConfig& data, const std::string& tokenizer_path, const std::string& config_path) {
    return TrainEncoder{text::Tokenizer::from_file(tokenizer_path), data.max_prompt_length,
                        make_chat_formatter(data.chat_template, tokenizer_path, config_path + ": data.chat_template")};
}

}  // namespace rlhf::train
