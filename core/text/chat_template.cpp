// ChatTemplate: loading from tokenizer_config.json and the render call of apply_chat_template.
#include "core/text/chat_template.h"

#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "core/io/error.h"
#include "core/text/jinja_ast.h"
#include "core/text/jinja_builtins.h"
#include "core/text/jinja_eval.h"
#include "core/text/jinja_lexer.h"

namespace rlhf::text {
namespace {

std::string position_message(const std::string& label, const jinja::TemplateError& e) {
    return label + ": line " + std::to_string(e.line) + ", column " + std::to_string(e.column) + ": " + e.what();
}

bool is_directory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string parent_dir(const std::string& path) {
    size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// A special token is a string or an AddedToken object {"content": "...", ...}; null means unset.
bool token_text(const nlohmann::json& config, const std::string& key, const std::string& file, std::string& out) {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) return false;
    if (it->is_string()) {
        out = it->get<std::string>();
        return true;
    }
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
        out = (*it)["content"].get<std::string>();
        return true;
    }
    throw Error(file + ": field '" + key + "': expected a string or {\"content\": string}");
}

}  // namespace

ChatTemplate::ChatTemplate(const std::string& source, std::string label) : source_(source), label_(std::move(label)) {
    try {
        template_ = std::make_shared<jinja::Template>(jinja::parse_template(source_));
    } catch (const jinja::TemplateError& e) {
        throw Error(position_message(label_, e));
    }
}

ChatTemplate ChatTemplate::from_tokenizer_config(const std::string& path) {
    std::string dir, config_path;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw Error(path + ": no such file or folder");
    if (is_directory(path)) {
        dir = path;
        config_path = path + "/tokenizer_config.json";
    } else {
        dir = parent_dir(path);
        size_t slash = path.find_last_of('/');
        std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
        config_path = name == "tokenizer_config.json" ? path : dir + "/tokenizer_config.json";
    }
    if (!is_file(config_path)) throw Error(config_path + ": not found (needed for the chat template)");
    nlohmann::json config;
    try {
        config = nlohmann::json::parse(read_file(config_path));
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(config_path + ": invalid JSON: " + e.what());
    }
    if (!config.is_object()) throw Error(config_path + ": expected a JSON object");

    std::string source;
    std::string label = config_path + ": chat_template";
    auto tmpl = config.find("chat_template");
    if (tmpl != config.end() && tmpl->is_string()) {
        source = tmpl->get<std::string>();
    } else if (tmpl != config.end() && tmpl->is_array()) {
        // Several named templates (e.g. "default", "tool_use", "rag"): apply_chat_template uses "default".
        bool found = false;
        for (size_t k = 0; k < tmpl->size(); ++k) {
            const auto& entry = (*tmpl)[k];
            if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
                !entry["name"].is_string() || !entry["template"].is_string())
                throw Error(config_path + ": chat_template[" + std::to_string(k) + "]: expected {\"name\": string, \"template\": string}");
            if (entry["name"] == "default") {
                source = entry["template"].get<std::string>();
                label = config_path + ": chat_template[" + std::to_string(k) + "] (default)";
                found = true;
            }
        }
        if (!found) throw Error(config_path + ": chat_template: no template named \"default\"");
    } else if (tmpl != config.end() && !tmpl->is_null()) {
        throw Error(config_path + ": field 'chat_template': expected a string or a list of {name, template}");
    } else if (is_file(dir + "/chat_template.jinja")) {
        // Newer transformers save the template next to the config instead of inside it.
        source = read_file(dir + "/chat_template.jinja");
        label = dir + "/chat_template.jinja";
    } else {
        throw Error(config_path + ": no chat_template (the model has no chat format)");
    }

    ChatTemplate result(source, label);
    for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
        std::string text;
        if (token_text(config, key, config_path, text)) result.set_special_token(key, text);
    }
    return result;
}

void ChatTemplate::set_special_token(const std::string& name, const std::string& value) {
    special_tokens_[name] = value;
    if (name == "bos_token") bos_token_ = value;
    if (name == "eos_token") eos_token_ = value;
}

template <typename J>
std::string ChatTemplate::render_impl(const J& messages, bool add_generation_prompt, const J& extra) const {
    if (!extra.is_null() && !extra.is_object()) throw Error(label_ + ": render: extra variables must be a JSON object");
    // The variables apply_chat_template passes to jinja2's render(): messages, tools, documents,
    // add_generation_prompt, the special tokens map, then the caller's kwargs.
    jinja::Dict vars;
    vars.set("messages", jinja::from_json(messages));
    vars.set("tools", jinja::Value::none());
    vars.set("documents", jinja::Value::none());
    vars.set("add_generation_prompt", jinja::Value::boolean(add_generation_prompt));
    for (auto it = special_tokens_.begin(); it != special_tokens_.end(); ++it)
        vars.set(it.key(), jinja::Value::string(it.value().template get<std::string>()));
    if (extra.is_object())
        for (auto it = extra.begin(); it != extra.end(); ++it) vars.set(it.key(), jinja::from_json(it.value()));
    try {
        return jinja::render(*template_, vars);
    } catch (const jinja::TemplateError& e) {
        throw Error(position_message(label_, e));
    }
}

std::string ChatTemplate::render(const nlohmann::json& messages, bool add_generation_prompt,
                                 const nlohmann::json& extra) const {
    return render_impl(messages, add_generation_prompt, extra);
}

std::string ChatTemplate::render_ordered(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                         const nlohmann::ordered_json& extra) const {
    return render_impl(messages, add_generation_prompt, extra);
}

}  // namespace rlhf::text
