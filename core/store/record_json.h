// How a data::Record is kept in the store: canonical JSON of its content (not of its format or
// source line), and the flattened text that full-text search and length statistics read.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "core/data/records.h"
#include "core/store/types.h"

namespace rlhf::store {

// {"prompt":[…],"chosen":[…],"rejected":[…],"score_chosen":x,"score_rejected":y} (preference),
// {"messages":[…]} (sft), {"prompt":[…]} (prompts); a message is {"role":r,"content":c}.
nlohmann::json record_content_json(const data::Record& r);
// Inverse of record_content_json; `where` names the row for the error message.
data::Record record_from_content_json(data::RecordKind kind, const nlohmann::json& content,
                                      const std::string& where);

// Every message content, in order, joined by a blank line.
std::string record_text(const data::Record& r);

// Everything add_prepared needs, computed without a connection (thread-safe).
PreparedRecord prepare_record(const data::Record& r);

// "preference" | "sft" | "prompts" and back; throws rlhf::Error naming `where` on an unknown name.
const char* kind_name(data::RecordKind k);
data::RecordKind kind_from_name(const std::string& name, const std::string& where);

}  // namespace rlhf::store
