// record_kind_name and the canonical content hash of a Record.
#include "core/data/records.h"

#include <nlohmann/json.hpp>

#include "core/data/preprocess.h"
#include "core/io/json_io.h"
#include "core/data/sha256_hw.h"

namespace rlhf::data {

const char* record_kind_name(RecordKind k) {
    switch (k) {
        case RecordKind::Preference:
            return "preference";
        case RecordKind::Sft:
            return "sft";
        case RecordKind::Prompt:
            return "prompts";
    }
    return "preference";
}

namespace {

// The canonical content JSON is written directly (no nlohmann::json tree: this runs once per
// imported record). Its bytes are exactly what nlohmann's dump() writes for the object
// {"kind", <content fields>} with sorted keys, no whitespace and ensure_ascii off:
// messages are [[role, content], ...] arrays, so key order plays no part inside them.

void append_messages(std::string& out, const char* key, const Messages& ms) {
    out += '"';
    out += key;
    out += "\":[";
    for (size_t i = 0; i < ms.size(); ++i) {
        if (i) out += ',';
        out += '[';
        io::append_json_string(out, ms[i].role);
        out += ',';
        io::append_json_string(out, ms[i].content);
        out += ']';
    }
    out += ']';
}

void append_score(std::string& out, const char* key, const std::optional<double>& s) {
    out += '"';
    out += key;
    out += "\":";
    out += s ? nlohmann::json(*s).dump() : "null";
}

bool all_valid_utf8(const Messages& ms) {
    for (const Message& m : ms)
        if (!is_valid_utf8(m.role) || !is_valid_utf8(m.content)) return false;
    return true;
}

// The reference form through nlohmann::json, for text that is not valid UTF-8 (records built
// outside the importers): dump() then replaces the bad bytes with U+FFFD.
std::string canonical_slow(const Record& r) {
    auto msgs = [](const Messages& ms) {
        nlohmann::json a = nlohmann::json::array();
        for (const Message& m : ms) a.push_back(nlohmann::json::array({m.role, m.content}));
        return a;
    };
    auto score = [](const std::optional<double>& s) {
        return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
    };
    nlohmann::json c;
    c["kind"] = record_kind_name(r.kind);
    switch (r.kind) {
        case RecordKind::Preference:
            c["prompt"] = msgs(r.pref.prompt);
            c["chosen"] = msgs(r.pref.chosen);
            c["rejected"] = msgs(r.pref.rejected);
            c["score_chosen"] = score(r.pref.score_chosen);
            c["score_rejected"] = score(r.pref.score_rejected);
            break;
        case RecordKind::Sft: c["messages"] = msgs(r.sft.messages); break;
        case RecordKind::Prompt: c["prompt"] = msgs(r.prompt.prompt); break;
    }
    return c.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string canonical_content_json(const Record& r) {
    bool valid = true;
    switch (r.kind) {
        case RecordKind::Preference:
            valid = all_valid_utf8(r.pref.prompt) && all_valid_utf8(r.pref.chosen) &&
                    all_valid_utf8(r.pref.rejected);
            break;
        case RecordKind::Sft: valid = all_valid_utf8(r.sft.messages); break;
        case RecordKind::Prompt: valid = all_valid_utf8(r.prompt.prompt); break;
    }
    if (!valid) return canonical_slow(r);
    std::string out;
    out.reserve(256);
    out += '{';
    switch (r.kind) {
        case RecordKind::Preference:
            // Sorted keys: chosen, kind, prompt, rejected, score_chosen, score_rejected.
            append_messages(out, "chosen", r.pref.chosen);
            out += ",\"kind\":\"preference\",";
            append_messages(out, "prompt", r.pref.prompt);
            out += ',';
            append_messages(out, "rejected", r.pref.rejected);
            out += ',';
            append_score(out, "score_chosen", r.pref.score_chosen);
            out += ',';
            append_score(out, "score_rejected", r.pref.score_rejected);
            break;
        case RecordKind::Sft:
            out += "\"kind\":\"sft\",";
            append_messages(out, "messages", r.sft.messages);
            break;
        case RecordKind::Prompt:
            out += "\"kind\":\"prompts\",";
            append_messages(out, "prompt", r.prompt.prompt);
            break;
    }
    out += '}';
    return out;
}

std::string content_hash(const Record& r) {
    // Format and line are provenance, not content, and stay out of the hash.
    return sha256_hex_fast(canonical_content_json(r));
}

}  // namespace rlhf::data
