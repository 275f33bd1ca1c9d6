// Records: what importers produce and the store keeps. The contract between core/data (parsing)
// and core/store (persistence): extend only by adding fields with defaults.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rlhf::data {

struct Message {
    std::string role;     // "system" | "user" | "assistant" | "tool"; "" = plain text (TRL standard format)
    std::string content;
    bool operator==(const Message& o) const { return role == o.role && content == o.content; }
};
// A turn list. A TRL *standard* string ("prompt": "text") is one Message with an empty role; a
// *conversational* field is a list of role/content messages.
using Messages = std::vector<Message>;

enum class RecordKind { Preference, Sft, Prompt };
const char* record_kind_name(RecordKind k);  // "preference" | "sft" | "prompts"

struct PreferencePair {
    Messages prompt;
    Messages chosen;    // the response(s) after the prompt
    Messages rejected;
    std::optional<double> score_chosen, score_rejected;  // UltraFeedback / SHP scores, if present
};

struct SftExample {
    Messages messages;  // prompt turns then the response turn(s); plain `text` is one role-less message
};

struct PromptExample {
    Messages prompt;
};

struct Record {
    RecordKind kind = RecordKind::Preference;
    PreferencePair pref;    // kind == Preference
    SftExample sft;         // kind == Sft
    PromptExample prompt;   // kind == Prompt
    std::string format;     // detected source format, e.g. "hh-rlhf", "trl-preference", "alpaca"
    uint64_t line = 0;      // 1-based source line (or CSV record / JSON array index + 1)
};

// Canonical content hash (sha256 hex of a canonical JSON of the content, not of format/line):
// the same example imported twice, from any container, hashes the same.
std::string content_hash(const Record& r);
// The canonical JSON that content_hash hashes: {"kind": ..., <content fields>} with sorted keys,
// messages as [[role, content], ...], preference scores as numbers or null, no whitespace.
std::string canonical_content_json(const Record& r);

}  // namespace rlhf::data
