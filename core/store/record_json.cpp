#include "core/store/record_json.h"

#include "core/io/error.h"
#include "core/io/json_io.h"

namespace rlhf::store {

namespace {
nlohmann::json messages_json(const data::Messages& ms) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& m : ms) a.push_back({{"role", m.role}, {"content", m.content}});
    return a;
}

data::Messages messages_from(const nlohmann::json& content, const char* field, const std::string& where) {
    auto it = content.find(field);
    if (it == content.end() || !it->is_array())
        throw Error(where + ": stored content has no message list '" + field + "'");
    data::Messages out;
    out.reserve(it->size());
    for (const auto& m : *it) {
        if (!m.is_object() || !m.contains("content") || !m["content"].is_string())
            throw Error(where + ": stored content field '" + field + "' holds a malformed message");
        out.push_back({m.value("role", std::string()), m["content"].get<std::string>()});
    }
    return out;
}

void append_text(std::string& out, const data::Messages& ms) {
    for (const auto& m : ms) {
        if (!out.empty()) out += "\n\n";
        out += m.content;
    }
}
}  // namespace

const char* kind_name(data::RecordKind k) {
    switch (k) {
        case data::RecordKind::Preference: return "preference";
        case data::RecordKind::Sft: return "sft";
        case data::RecordKind::Prompt: return "prompts";
    }
    return "preference";
}

data::RecordKind kind_from_name(const std::string& name, const std::string& where) {
    if (name == "preference") return data::RecordKind::Preference;
    if (name == "sft") return data::RecordKind::Sft;
    if (name == "prompts" || name == "prompt") return data::RecordKind::Prompt;
    throw Error(where + ": unknown record kind '" + name + "' (expected preference, sft or prompts)");
}

nlohmann::json record_content_json(const data::Record& r) {
    nlohmann::json j = nlohmann::json::object();
    switch (r.kind) {
        case data::RecordKind::Preference:
            j["prompt"] = messages_json(r.pref.prompt);
            j["chosen"] = messages_json(r.pref.chosen);
            j["rejected"] = messages_json(r.pref.rejected);
            if (r.pref.score_chosen) j["score_chosen"] = *r.pref.score_chosen;
            if (r.pref.score_rejected) j["score_rejected"] = *r.pref.score_rejected;
            break;
        case data::RecordKind::Sft: j["messages"] = messages_json(r.sft.messages); break;
        case data::RecordKind::Prompt: j["prompt"] = messages_json(r.prompt.prompt); break;
    }
    return j;
}

data::Record record_from_content_json(data::RecordKind kind, const nlohmann::json& content,
                                      const std::string& where) {
    if (!content.is_object()) throw Error(where + ": stored content is not a JSON object");
    data::Record r;
    r.kind = kind;
    switch (kind) {
        case data::RecordKind::Preference:
            r.pref.prompt = messages_from(content, "prompt", where);
            r.pref.chosen = messages_from(content, "chosen", where);
            r.pref.rejected = messages_from(content, "rejected", where);
            if (content.contains("score_chosen") && content["score_chosen"].is_number())
                r.pref.score_chosen = content["score_chosen"].get<double>();
            if (content.contains("score_rejected") && content["score_rejected"].is_number())
                r.pref.score_rejected = content["score_rejected"].get<double>();
            break;
        case data::RecordKind::Sft: r.sft.messages = messages_from(content, "messages", where); break;
        case data::RecordKind::Prompt: r.prompt.prompt = messages_from(content, "prompt", where); break;
    }
    return r;
}

namespace {

// The same JSON as record_content_json(r).dump(), written directly: nlohmann's serializer escapes
// byte by byte through a virtual output adapter and was the largest single cost of an import.
// Keys in the same (sorted) order; strings are escaped as JSON requires (", \, control chars).

void append_messages(std::string& out, const char* key, const data::Messages& ms) {
    out += '"';
    out += key;
    out += "\":[";
    for (size_t i = 0; i < ms.size(); ++i) {
        if (i) out += ',';
        out += "{\"content\":";
        io::append_json_string(out, ms[i].content);
        out += ",\"role\":";
        io::append_json_string(out, ms[i].role);
        out += '}';
    }
    out += ']';
}

std::string content_json_fast(const data::Record& r, size_t text_bytes) {
    std::string out;
    out.reserve(256 + text_bytes + text_bytes / 8);
    out += '{';
    switch (r.kind) {
        case data::RecordKind::Preference:
            append_messages(out, "chosen", r.pref.chosen);
            out += ',';
            append_messages(out, "prompt", r.pref.prompt);
            out += ',';
            append_messages(out, "rejected", r.pref.rejected);
            if (r.pref.score_chosen) out += ",\"score_chosen\":" + nlohmann::json(*r.pref.score_chosen).dump();
            if (r.pref.score_rejected) out += ",\"score_rejected\":" + nlohmann::json(*r.pref.score_rejected).dump();
            break;
        case data::RecordKind::Sft: append_messages(out, "messages", r.sft.messages); break;
        case data::RecordKind::Prompt: append_messages(out, "prompt", r.prompt.prompt); break;
    }
    out += '}';
    return out;
}

}  // namespace

PreparedRecord prepare_record(const data::Record& r) {
    PreparedRecord p;
    p.kind = r.kind;
    p.text = record_text(r);
    p.content_json = content_json_fast(r, p.text.size());
    p.content_hash = data::content_hash(r);
    p.format = r.format;
    p.line = r.line;
    return p;
}

std::string record_text(const data::Record& r) {
    std::string out;
    switch (r.kind) {
        case data::RecordKind::Preference:
            append_text(out, r.pref.prompt);
            append_text(out, r.pref.chosen);
            append_text(out, r.pref.rejected);
            break;
        case data::RecordKind::Sft: append_text(out, r.sft.messages); break;
        case data::RecordKind::Prompt: append_text(out, r.prompt.prompt); break;
    }
    return out;
}

}  // namespace rlhf::store
