// Dataset formats: detection from a record's fields and the mapping of one JSON object (a JSONL
// line, a JSON array element, or a CSV row turned into an object) to a Record. The mapping of
// every format is written out in the table at the top of formats.cpp.
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/data/records.h"

namespace rlhf::data {

enum class Format {
    TrlPreference,                // prompt/chosen/rejected strings (or chosen/rejected only)
    TrlPreferenceConversational,  // the same fields as message lists
    HhRlhf,                       // Anthropic HH-RLHF chosen/rejected transcripts
    UltraFeedback,                // UltraFeedback-binarized: message lists + score_chosen/rejected
    Shp,                          // Stanford Human Preferences: history, human_ref_A/B, labels
    Alpaca,                       // instruction/input/output
    ShareGpt,                     // conversations: [{from, value}]
    Messages,                     // messages: [{role, content}]
    Text,                         // text
    PromptCompletion,             // TRL prompt/completion (strings or message lists)
    Prompts,                      // prompt only
};

const char* format_name(Format f);  // "trl-preference", "hh-rlhf", ...
std::optional<Format> format_from_name(const std::string& name);
RecordKind format_kind(Format f);  // the kind of record a format yields natively

// The format whose fields `obj` has, or nullopt when none fits (see the table in formats.cpp).
std::optional<Format> detect_format(const nlohmann::json& obj);

// Maps one record. Throws RecordError (record_error.h) when the object does not fit `f`;
// when it fits another format instead, the category is kIssueFormatMismatch.
Record map_record(Format f, const nlohmann::json& obj);

// Converts a record to another kind (ImportOptions::as): preference -> prompts (its prompt),
// preference -> sft (prompt + chosen), sft -> prompts (the turns before the last assistant
// turn). Throws RecordError(kIssueBadValue) when the record has nothing to convert (an
// implicit-prompt pair has no separate prompt).
void convert_record(Record& r, RecordKind to);
// Whether convert_record can turn `from` into `to` at all (checked once per file).
bool can_convert(RecordKind from, RecordKind to);

// Anthropic HH-RLHF transcript ("\n\nHuman: ...\n\nAssistant: ...") -> user/assistant turns,
// each content trimmed of surrounding whitespace. Throws RecordError when there is no turn or
// there is text before the first marker.
Messages parse_hh_transcript(const std::string& text);

// Splits full chosen/rejected conversations into prompt + responses: an explicit prompt is
// taken off both when both start with it, then the longest common prefix of turns joins the
// prompt. The prefix is shortened so both responses keep at least one turn (identical
// conversations give identical last turns, which drop_identical_pairs then removes).
void split_preference(Messages prompt, Messages chosen, Messages rejected, PreferencePair& out);

}  // namespace rlhf::data
