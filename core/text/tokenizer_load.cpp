// Building a TokenizerImpl from tokenizer.json (+ tokenizer_config.json). Every malformed or
// unsupported part is an rlhf::Error naming the source and the JSON path, e.g.
// "models/x/tokenizer.json: pre_tokenizer.pretokenizers[1]: unsupported pre_tokenizer type 'Foo'".
#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/io/error.h"
#include "core/text/tokenizer_internal.h"

namespace rlhf::text::detail {

// ---- JSON helpers
void fail(const std::string& where, const std::string& what) { throw Error(where + ": " + what); }

const Json& field(const Json& obj, const char* key, const std::string& where) {
    if (!obj.is_object()) fail(where, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) fail(where, std::string("missing field '") + key + "'");
    return *it;
}

std::string get_string(const Json& obj, const char* key, const std::string& where, const std::string& fallback) {
    if (!obj.is_object()) fail(where, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_string()) fail(where + "." + key, "expected a string");
    return it->get<std::string>();
}

bool get_bool(const Json& obj, const char* key, const std::string& where, bool fallback) {
    if (!obj.is_object()) fail(where, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) fail(where + "." + key, "expected true or false");
    return it->get<bool>();
}

int64_t get_int(const Json& obj, const char* key, const std::string& where, int64_t fallback) {
    if (!obj.is_object()) fail(where, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_number_integer()) fail(where + "." + key, "expected an integer");
    return it->get<int64_t>();
}

std::string type_of(const Json& obj, const std::string& where) {
    if (!obj.is_object()) fail(where, "expected an object with a \"type\"");
    auto it = obj.find("type");
    if (it == obj.end()) fail(where, "missing field 'type'");
    if (!it->is_string()) fail(where + ".type", "expected a string");
    return it->get<std::string>();
}

// ---- AddedMatcher
void AddedMatcher::build(const std::vector<const AddedToken*>& tokens, const std::vector<std::string>& patterns) {
    nodes_.assign(1, Node{});
    tokens_ = tokens;
    std::fill(std::begin(first_byte_), std::end(first_byte_), false);
    for (size_t t = 0; t < tokens.size(); ++t) {
        const std::string& p = patterns[t];
        if (p.empty()) continue;
        first_byte_[static_cast<unsigned char>(p[0])] = true;
        int32_t node = 0;
        for (char ch : p) {
            auto c = static_cast<unsigned char>(ch);
            auto& next = nodes_[static_cast<size_t>(node)].next;
            auto it = std::lower_bound(next.begin(), next.end(), std::make_pair(c, int32_t{-1}));
            if (it != next.end() && it->first == c) {
                node = it->second;
            } else {
                auto child = static_cast<int32_t>(nodes_.size());
                next.insert(it, {c, child});
                nodes_.emplace_back();
                node = child;
            }
        }
        // A later token with the same pattern replaces an earlier one.
        nodes_[static_cast<size_t>(node)].token = static_cast<int32_t>(t);
    }
}

int32_t AddedMatcher::longest_at(std::string_view text, size_t pos, size_t& end) const {
    int32_t node = 0, best = -1;
    for (size_t i = pos; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        const auto& next = nodes_[static_cast<size_t>(node)].next;
        auto it = std::lower_bound(next.begin(), next.end(), std::make_pair(c, int32_t{-1}));
        if (it == next.end() || it->first != c) break;
        node = it->second;
        if (nodes_[static_cast<size_t>(node)].token >= 0) {
            best = nodes_[static_cast<size_t>(node)].token;
            end = i + 1;
        }
    }
    return best;
}

// ---- tokenizer_config.json
namespace {
std::string token_content(const Json& cfg, const char* key, const std::string& where) {
    auto it = cfg.find(key);
    if (it == cfg.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) return get_string(*it, "content", where + "." + key, "");
    fail(where + "." + key, "expected a string or {\"content\": ...}");
}
}  // namespace

std::unique_ptr<TokenizerImpl> load_tokenizer(const std::string& tokenizer_json, const std::string& config_json,
                                              const std::string& label) {
    auto t = std::make_unique<TokenizerImpl>();
    t->label = label;
    Json root;
    try {
        root = Json::parse(tokenizer_json);
    } catch (const Json::parse_error& e) {
        fail(label, std::string("invalid JSON: ") + e.what());
    }
    if (!root.is_object()) fail(label, "expected a JSON object at the top level");
    const std::string w = label + ": ";

    // Model
    const Json& model = field(root, "model", label);
    if (!model.is_object()) fail(w + "model", "expected an object");
    std::string model_type = model.contains("type") ? type_of(model, w + "model") : "BPE";
    if (model_type != "BPE") fail(w + "model.type", "unsupported model type '" + model_type + "' (only BPE)");
    t->model = make_bpe_model(model, w + "model");

    if (root.contains("normalizer") && !root["normalizer"].is_null())
        t->normalizer = make_normalizer(root["normalizer"], w + "normalizer");
    if (root.contains("pre_tokenizer") && !root["pre_tokenizer"].is_null())
        t->pre_tokenizer = make_pre_tokenizer(root["pre_tokenizer"], w + "pre_tokenizer");
    if (root.contains("post_processor") && !root["post_processor"].is_null())
        t->post_processor = make_post_processor(root["post_processor"], w + "post_processor");
    if (root.contains("decoder") && !root["decoder"].is_null())
        t->decoder = make_decoder(root["decoder"], w + "decoder");

    // Added tokens, with tokenizers' id assignment (AddedVocabulary::add_tokens): an existing
    // token keeps its id, a new one gets the next id after the model vocab. The file's "id"
    // must agree; tokenizers only warns, but a disagreement means the file is inconsistent.
    const auto& vocab_r = bpe_id_to_token(*t->model);
    size_t model_count = bpe_vocab_count(*t->model);
    int64_t next_id = static_cast<int64_t>(model_count);
    if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
        const Json& list = root["added_tokens"];
        if (!list.is_array()) fail(w + "added_tokens", "expected an array");
        for (size_t i = 0; i < list.size(); ++i) {
            std::string at = w + "added_tokens[" + std::to_string(i) + "]";
            const Json& e = list[i];
            if (!e.is_object()) fail(at, "expected an object");
            AddedToken a;
            const Json& content = field(e, "content", at);
            if (!content.is_string()) fail(at + ".content", "expected a string");
            a.content = content.get<std::string>();
            if (!utf8_valid(a.content)) fail(at + ".content", "invalid UTF-8");
            int64_t id = get_int(e, "id", at, -1);
            if (!e.contains("id")) fail(at, "missing field 'id'");
            a.special = get_bool(e, "special", at, false);
            a.lstrip = get_bool(e, "lstrip", at, false);
            a.rstrip = get_bool(e, "rstrip", at, false);
            a.normalized = get_bool(e, "normalized", at, true);
            a.single_word = get_bool(e, "single_word", at, false);
            if (a.content.empty()) continue;  // tokenizers ignores empty added tokens
            int64_t expected;
            auto existing = t->added_by_content.find(a.content);
            if (existing != t->added_by_content.end()) expected = existing->second;
            else if (int32_t mid = bpe_token_to_id(*t->model, a.content); mid >= 0) expected = mid;
            else expected = next_id++;
            if (id != expected)
                fail(at + ".id", "id " + std::to_string(id) + " for '" + a.content + "' is out of place: tokenizers assigns " +
                                     std::to_string(expected));
            if (static_cast<size_t>(id) < vocab_r.size() && !vocab_r[static_cast<size_t>(id)].empty() &&
                vocab_r[static_cast<size_t>(id)] != a.content)
                fail(at + ".id", "duplicate id " + std::to_string(id) + ": the model vocab has '" +
                                     vocab_r[static_cast<size_t>(id)] + "' there");
            a.id = static_cast<int32_t>(id);
            t->added_by_content[a.content] = a.id;
            // Re-adding the same content updates its flags (AddedVocabulary keeps the last).
            auto same = std::find_if(t->added.begin(), t->added.end(), [&](const AddedToken& o) { return o.content == a.content; });
            if (same != t->added.end()) *same = a;
            else t->added.push_back(a);
        }
    }

    // id -> token: model vocab overlaid with added tokens.
    size_t n = vocab_r.size();
    for (const auto& a : t->added) n = std::max(n, static_cast<size_t>(a.id) + 1);
    t->id_to_token.assign(n, nullptr);
    t->special.assign(n, 0);
    for (size_t i = 0; i < vocab_r.size(); ++i)
        if (!vocab_r[i].empty()) t->id_to_token[i] = &vocab_r[i];
    size_t added_new = 0;
    for (const auto& a : t->added) {
        if (bpe_token_to_id(*t->model, a.content) < 0) ++added_new;
        t->id_to_token[static_cast<size_t>(a.id)] = &a.content;
        t->special[static_cast<size_t>(a.id)] = a.special ? 1 : 0;
    }
    t->vocab_size = model_count + added_new;

    std::vector<const AddedToken*> raw, normalized;
    std::vector<std::string> raw_patterns, normalized_patterns;
    for (const auto& a : t->added) {
        if (a.normalized) {
            std::string p = a.content;
            if (t->normalizer) t->normalizer->normalize(p);
            normalized.push_back(&a);
            normalized_patterns.push_back(std::move(p));
        } else {
            raw.push_back(&a);
            raw_patterns.push_back(a.content);
        }
    }
    t->raw_matcher.build(raw, raw_patterns);
    t->normalized_matcher.build(normalized, normalized_patterns);

    if (t->post_processor) {
        std::vector<int32_t> probe;
        t->post_processor->process(probe);
        for (int32_t id : probe)
            if (id < 0 || static_cast<size_t>(id) >= n || !t->id_to_token[static_cast<size_t>(id)])
                fail(w + "post_processor", "special token id " + std::to_string(id) + " is not in the vocab");
    }

    // tokenizer_config.json
    if (!config_json.empty()) {
        std::string cw = label + " (tokenizer_config.json)";
        Json cfg;
        try {
            cfg = Json::parse(config_json);
        } catch (const Json::parse_error& e) {
            fail(cw, std::string("invalid JSON: ") + e.what());
        }
        if (!cfg.is_object()) fail(cw, "expected a JSON object at the top level");
        t->bos_token = token_content(cfg, "bos_token", cw);
        t->eos_token = token_content(cfg, "eos_token", cw);
        t->pad_token = token_content(cfg, "pad_token", cw);
        auto ct = cfg.find("chat_template");
        if (ct != cfg.end() && !ct->is_null()) {
            if (ct->is_string()) {
                t->chat_template = ct->get<std::string>();
            } else if (ct->is_array()) {
                for (const Json& named : *ct)
                    if (named.is_object() && get_string(named, "name", cw + ".chat_template", "") == "default")
                        t->chat_template = get_string(named, "template", cw + ".chat_template", "");
            } else {
                fail(cw + ".chat_template", "expected a string or a list of {name, template}");
            }
        }
    }
    auto id_of = [&](const std::string& tok) -> int32_t {
        if (tok.empty()) return -1;
        auto it = t->added_by_content.find(tok);
        if (it != t->added_by_content.end()) return it->second;
        return bpe_token_to_id(*t->model, tok);
    };
    t->bos_id = id_of(t->bos_token);
    t->eos_id = id_of(t->eos_token);
    t->pad_id = id_of(t->pad_token);
    return t;
}

}  // namespace rlhf::text::detail
