// record_kind_name and the canonical content hash of a Record.
#include "core/data/records.h"

#include <nlohmann/json.hpp>

#include "core/io/sha256.h"

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

// Messages as [[role, content], ...]: arrays, so key order plays no part.
nlohmann::json canonical_messages(const Messages& ms) {
    nlohmann::json a = nlohmann::json::array();
    for (const Message& m : ms) a.push_back(nlohmann::json::array({m.role, m.content}));
    return a;
}

nlohmann::json canonical_score(const std::optional<double>& s) {
    return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}

}  // namespace

std::string content_hash(const Record& r) {
    // Canonical form: an object (nlohmann keeps keys sorted) with the kind and only the content
    // fields of that kind; format and line are provenance, not content, and stay out. dump()
    // writes no whitespace and escapes deterministically, so equal content gives equal bytes.
    nlohmann::json c;
    c["kind"] = record_kind_name(r.kind);
    switch (r.kind) {
        case RecordKind::Preference:
            c["prompt"] = canonical_messages(r.pref.prompt);
            c["chosen"] = canonical_messages(r.pref.chosen);
            c["rejected"] = canonical_messages(r.pref.rejected);
            c["score_chosen"] = canonical_score(r.pref.score_chosen);
            c["score_rejected"] = canonical_score(r.pref.score_rejected);
            break;
        case RecordKind::Sft:
            c["messages"] = canonical_messages(r.sft.messages);
            break;
        case RecordKind::Prompt:
            c["prompt"] = canonical_messages(r.prompt.prompt);
            break;
    }
    return io::sha256_hex(
        c.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace));
}

}  // namespace rlhf::data
