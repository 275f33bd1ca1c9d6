// tokenizer.json -> tokenizer.ggml.* (see gguf_vocab.h). Key names and token types follow
// llama.cpp's gguf-py constants (Keys.Tokenizer) and llama.h (llama_token_type).
#include "core/gguf/gguf_vocab.h"

#include <filesystem>
#include <map>

#include "core/io/error.h"
#include "core/io/json_io.h"

namespace rlhf::gguf {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The split regexes of the tokenizers llama.cpp knows by name (from their tokenizer.json files).
const char* const kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

std::string type_of(const json& j) {
    return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "";
}

// tokenizer_config.json writes special tokens as "<s>" or {"content": "<s>", ...}.
std::string token_string(const json& cfg, const char* key) {
    auto it = cfg.find(key);
    if (it == cfg.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
    return "";
}

// The TemplateProcessing inside a post_processor (directly or inside a Sequence), or null.
const json* template_processing(const json& post) {
    if (type_of(post) == "TemplateProcessing") return &post;
    if (type_of(post) == "Sequence" && post.contains("processors") && post["processors"].is_array())
        for (const auto& p : post["processors"])
            if (type_of(p) == "TemplateProcessing") return &p;
    return nullptr;
}

int64_t first_id(const json& config, const char* key) {
    auto it = config.find(key);
    if (it == config.end()) return -1;
    if (it->is_number_integer()) return it->get<int64_t>();
    if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) return (*it)[0].get<int64_t>();
    return -1;
}

}  // namespace

std::string detect_pre_tokenizer(const json& pre) {
    std::string type = type_of(pre);
    if (type == "ByteLevel") {
        // GPT-2's regex applied by the ByteLevel pre-tokenizer itself.
        if (pre.value("use_regex", true)) return "gpt-2";
        return "";
    }
    if (type != "Sequence" || !pre.contains("pretokenizers") || !pre["pretokenizers"].is_array()) return "";
    const json& items = pre["pretokenizers"];
    // SmolLM: Digits(individual_digits) then ByteLevel with GPT-2's regex.
    if (items.size() == 2 && type_of(items[0]) == "Digits" && items[0].value("individual_digits", false) &&
        type_of(items[1]) == "ByteLevel" && items[1].value("use_regex", true))
        return "smollm";
    if (items.size() == 2 && type_of(items[0]) == "Split" && type_of(items[1]) == "ByteLevel" &&
        !items[1].value("use_regex", true) && items[0].contains("pattern") && items[0]["pattern"].contains("Regex")) {
        std::string regex = items[0]["pattern"]["Regex"].get<std::string>();
        if (regex == kLlama3Regex) return "llama-bpe";
        if (regex == kQwen2Regex) return "qwen2";
    }
    return "";
}

GgufVocab read_hf_vocab(const std::string& dir, int64_t vocab_size, const json& config_json,
                        std::vector<std::string>* warnings) {
    std::string tok_path = (fs::path(dir) / "tokenizer.json").string();
    if (!fs::exists(tok_path)) throw Error(tok_path + ": not found (the GGUF needs the tokenizer)");
    json tok = io::read_json_file(tok_path);
    json cfg = json::object();
    std::string cfg_path = (fs::path(dir) / "tokenizer_config.json").string();
    if (fs::exists(cfg_path)) cfg = io::read_json_file(cfg_path);

    const json& model = tok.contains("model") ? tok["model"] : json();
    if (type_of(model) != "BPE") throw Error(tok_path + ": field 'model.type' is '" + type_of(model) + "' (only BPE is exported)");
    if (model.value("byte_fallback", false))
        throw Error(tok_path + ": field 'model.byte_fallback': SentencePiece-style BPE (Llama 2, Mistral v0.1) is not exported "
                               "to GGUF yet; only byte-level BPE tokenizers (GPT-2, Llama 3, Qwen, SmolLM)");
    if (!model.contains("vocab") || !model["vocab"].is_object()) throw Error(tok_path + ": field 'model.vocab' missing");

    GgufVocab v;
    // id -> (token, type); the model vocabulary first, then added tokens (which may override).
    std::map<int64_t, std::pair<std::string, TokenType>> by_id;
    for (const auto& [token, id] : model["vocab"].items()) {
        if (!id.is_number_integer()) throw Error(tok_path + ": field 'model.vocab." + token + "' is not an integer id");
        by_id[id.get<int64_t>()] = {token, TokenType::NORMAL};
    }
    if (tok.contains("added_tokens") && tok["added_tokens"].is_array())
        for (const auto& a : tok["added_tokens"]) {
            int64_t id = a.value("id", int64_t{-1});
            if (id < 0) throw Error(tok_path + ": field 'added_tokens': entry without an id");
            by_id[id] = {a.value("content", std::string()), a.value("special", false) ? TokenType::CONTROL : TokenType::USER_DEFINED};
        }
    int64_t max_id = by_id.empty() ? -1 : by_id.rbegin()->first;
    if (max_id >= vocab_size)
        throw Error(tok_path + ": token id " + std::to_string(max_id) + " does not fit the model's vocab_size " +
                    std::to_string(vocab_size));
    v.tokens.resize(static_cast<size_t>(vocab_size));
    v.token_types.resize(static_cast<size_t>(vocab_size));
    for (int64_t id = 0; id < vocab_size; ++id) {
        auto it = by_id.find(id);
        if (it == by_id.end()) {
            v.tokens[id] = "[PAD" + std::to_string(id) + "]";
            v.token_types[id] = static_cast<int64_t>(TokenType::UNUSED);
        } else {
            v.tokens[id] = it->second.first;
            v.token_types[id] = static_cast<int64_t>(it->second.second);
        }
    }

    if (model.contains("merges") && model["merges"].is_array())
        for (const auto& m : model["merges"]) {
            // Older tokenizers write "a b", newer ones ["a", "b"].
            if (m.is_string()) v.merges.push_back(m.get<std::string>());
            else if (m.is_array() && m.size() == 2) v.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
            else throw Error(tok_path + ": field 'model.merges': entry is neither \"a b\" nor [a, b]");
        }

    v.pre = detect_pre_tokenizer(tok.value("pre_tokenizer", json()));
    if (v.pre.empty()) {
        v.pre = "default";
        if (warnings)
            warnings->push_back(tok_path + ": pre_tokenizer not recognised (known: GPT-2, Llama 3, Qwen 2/3, SmolLM); "
                                           "llama.cpp will split text with its default regex, so its tokens may differ");
    }
    if (type_of(tok.value("normalizer", json())) != "" && warnings)
        warnings->push_back(tok_path + ": normalizer '" + type_of(tok["normalizer"]) + "' is not represented in GGUF");

    // Special tokens: tokenizer_config.json names them; config.json ids are the fallback.
    auto id_of = [&](const std::string& content) -> int64_t {
        if (content.empty()) return -1;
        for (const auto& [id, entry] : by_id)
            if (entry.first == content) return id;
        return -1;
    };
    v.bos_id = id_of(token_string(cfg, "bos_token"));
    v.eos_id = id_of(token_string(cfg, "eos_token"));
    v.pad_id = id_of(token_string(cfg, "pad_token"));
    v.unk_id = id_of(token_string(cfg, "unk_token"));
    if (v.bos_id < 0) v.bos_id = first_id(config_json, "bos_token_id");
    if (v.eos_id < 0) v.eos_id = first_id(config_json, "eos_token_id");
    if (v.pad_id < 0) v.pad_id = first_id(config_json, "pad_token_id");

    // BOS/EOS added by encode(): the tokenizer config says so explicitly, else the post-processor's
    // template starts/ends with a special token.
    const json post = tok.value("post_processor", json());
    const json* tp = template_processing(post);
    bool template_bos = false, template_eos = false;
    if (tp && tp->contains("single") && (*tp)["single"].is_array() && !(*tp)["single"].empty()) {
        template_bos = (*tp)["single"].front().contains("SpecialToken");
        template_eos = (*tp)["single"].back().contains("SpecialToken");
    }
    v.add_bos = cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean() ? cfg["add_bos_token"].get<bool>() : template_bos;
    v.add_eos = cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean() ? cfg["add_eos_token"].get<bool>() : template_eos;

    if (cfg.contains("chat_template")) {
        const json& ct = cfg["chat_template"];
        if (ct.is_string()) {
            v.chat_template = ct.get<std::string>();
        } else if (ct.is_array()) {
            // [{"name": "default", "template": ...}, {"name": "tool_use", ...}]: llama.cpp's
            // tokenizer.chat_template is the default one.
            for (const auto& e : ct)
                if (e.value("name", std::string()) == "default") v.chat_template = e.value("template", std::string());
        }
    }
    return v;
}

void add_vocab_metadata(GgufWriter& w, const GgufVocab& v) {
    w.set("tokenizer.ggml.model", Value::string(v.model));
    w.set("tokenizer.ggml.pre", Value::string(v.pre));
    w.set("tokenizer.ggml.tokens", Value::string_array(v.tokens));
    w.set("tokenizer.ggml.token_type", Value::i32_array(v.token_types));
    w.set("tokenizer.ggml.merges", Value::string_array(v.merges));
    if (v.bos_id >= 0) w.set("tokenizer.ggml.bos_token_id", Value::u32(static_cast<uint32_t>(v.bos_id)));
    if (v.eos_id >= 0) w.set("tokenizer.ggml.eos_token_id", Value::u32(static_cast<uint32_t>(v.eos_id)));
    if (v.unk_id >= 0) w.set("tokenizer.ggml.unknown_token_id", Value::u32(static_cast<uint32_t>(v.unk_id)));
    if (v.pad_id >= 0) w.set("tokenizer.ggml.padding_token_id", Value::u32(static_cast<uint32_t>(v.pad_id)));
    w.set("tokenizer.ggml.add_bos_token", Value::boolean(v.add_bos));
    w.set("tokenizer.ggml.add_eos_token", Value::boolean(v.add_eos));
    if (!v.chat_template.empty()) w.set("tokenizer.chat_template", Value::string(v.chat_template));
}

}  // namespace rlhf::gguf
