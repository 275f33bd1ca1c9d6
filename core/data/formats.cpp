// Format detection and mapping. One table, one mapping function per format.
//
// clang-format off
// | format                        | detected when the record has                  | maps to
// |-------------------------------|-----------------------------------------------|------------------------------------------------
// | trl-preference                | chosen + rejected strings (prompt optional),  | preference: prompt = [{"", prompt}] (empty when
// |                               | not an HH transcript                          | absent: "implicit prompt"), chosen = [{"", chosen}],
// |                               |                                               | rejected = [{"", rejected}]; score_chosen/rejected kept
// | trl-preference-conversational | chosen + rejected message lists, no scores    | preference via split_preference(prompt, chosen,
// |                               |                                               | rejected): prompt optional (string or list)
// | ultrafeedback                 | chosen + rejected lists and score_chosen or   | as conversational (the lists repeat the user prompt,
// |                               | score_rejected                                | which becomes the prompt) + score_chosen/rejected
// | hh-rlhf                       | chosen + rejected strings holding             | preference: both transcripts parsed into turns
// |                               | "\n\nHuman:" ... "Assistant:", no prompt      | (Human -> user, Assistant -> assistant) and split at
// |                               |                                               | the longest common prefix of turns
// | shp                           | history + human_ref_A + human_ref_B           | preference: prompt = [user: history]; labels 1 ->
// |                               |                                               | chosen = [assistant: ref_A], rejected = [assistant:
// |                               |                                               | ref_B]; labels 0 -> swapped; score_A/B follow
// | alpaca                        | instruction + output                          | sft: [user: instruction + "\n\n" + input (just
// |                               |                                               | instruction when input is empty/absent), assistant: output]
// | sharegpt                      | conversations: [{from, value}]                | sft: from human|user -> user, gpt|assistant|chatgpt|
// |                               |                                               | bard|bing|model -> assistant, system -> system,
// |                               |                                               | tool|function|observation -> tool; a top-level
// |                               |                                               | "system" string becomes a first system turn
// | messages                      | messages: [{role, content}]                   | sft: the list as is (roles system|user|assistant|tool)
// | prompt-completion             | prompt + completion (strings or lists)        | sft: prompt turns then completion turns
// | text                          | text                                          | sft: [{"", text}] (one role-less message)
// | prompts                       | prompt (string or list) and none of the above | prompts: prompt turns
//
// Detection looks at the first of these rules that fits, in the order chosen+rejected, shp,
// alpaca, sharegpt, messages, prompt-completion, text, prompts. CSV cells are strings: a cell
// that holds a JSON list/object (a message list) is parsed before detection, and numeric fields
// (scores, labels) accept numeric strings.
// clang-format on
#include "core/data/formats.h"

#include <cmath>
#include <cstdlib>

#include "core/data/record_error.h"

namespace rlhf::data {

using nlohmann::json;

namespace {

struct FormatRow {
    Format format;
    const char* name;
    RecordKind kind;
};
constexpr FormatRow kFormats[] = {
    {Format::TrlPreference, "trl-preference", RecordKind::Preference},
    {Format::TrlPreferenceConversational, "trl-preference-conversational", RecordKind::Preference},
    {Format::HhRlhf, "hh-rlhf", RecordKind::Preference},
    {Format::UltraFeedback, "ultrafeedback", RecordKind::Preference},
    {Format::Shp, "shp", RecordKind::Preference},
    {Format::Alpaca, "alpaca", RecordKind::Sft},
    {Format::ShareGpt, "sharegpt", RecordKind::Sft},
    {Format::Messages, "messages", RecordKind::Sft},
    {Format::Text, "text", RecordKind::Sft},
    {Format::PromptCompletion, "prompt-completion", RecordKind::Sft},
    {Format::Prompts, "prompts", RecordKind::Prompt},
};

const char* json_type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::string:
            return "a string";
        case json::value_t::array:
            return "a list";
        case json::value_t::object:
            return "an object";
        case json::value_t::discarded:
            return "invalid";
        default:
            return "a number";
    }
}

bool has(const json& o, const char* key) {
    return o.contains(key);
}

const json& require(const json& o, const std::string& key) {
    auto it = o.find(key);
    if (it == o.end()) throw RecordError(kIssueMissingField, "missing field '" + key + "'");
    if (it->is_null()) throw RecordError(kIssueNullField, "field '" + key + "' is null");
    return *it;
}

std::string text_of(const json& v, const std::string& field) {
    if (v.is_null()) throw RecordError(kIssueNullField, "field '" + field + "' is null");
    if (!v.is_string())
        throw RecordError(kIssueWrongType,
                          "field '" + field + "' is " + json_type_name(v) + ", expected a string");
    return v.get<std::string>();
}

std::string require_text(const json& o, const std::string& key) {
    return text_of(require(o, key), key);
}

// An optional string field: absent or null -> "".
std::string optional_text(const json& o, const std::string& key) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return {};
    return text_of(*it, key);
}

const char* kRoles[] = {"system", "user", "assistant", "tool"};

// A message list [{role, content}] or a plain string (one role-less message).
Messages turns_of(const json& v, const std::string& field, const char* role_key = "role",
                  const char* content_key = "content") {
    Messages out;
    if (v.is_string()) {
        out.push_back({"", v.get<std::string>()});
        return out;
    }
    if (v.is_null()) throw RecordError(kIssueNullField, "field '" + field + "' is null");
    if (!v.is_array())
        throw RecordError(kIssueWrongType, "field '" + field + "' is " + json_type_name(v) +
                                               ", expected a string or a list of messages");
    for (size_t i = 0; i < v.size(); ++i) {
        const json& m = v[i];
        std::string where = field + "[" + std::to_string(i) + "]";
        if (!m.is_object())
            throw RecordError(kIssueWrongType,
                              where + " is " + json_type_name(m) + ", expected a message object");
        Message msg;
        msg.role = text_of(require(m, role_key), where + "." + role_key);
        msg.content = text_of(require(m, content_key), where + "." + content_key);
        bool known = false;
        for (const char* r : kRoles) known = known || msg.role == r;
        if (!known) throw RecordError(kIssueBadValue, where + ": unknown role '" + msg.role + "'");
        out.push_back(std::move(msg));
    }
    return out;
}

Messages require_turns(const json& o, const std::string& key) {
    return turns_of(require(o, key), key);
}

// Number or numeric string (CSV); absent/null -> nullopt.
std::optional<double> optional_number(const json& o, const std::string& key) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return std::nullopt;
    if (it->is_number()) return it->get<double>();
    if (it->is_boolean()) return it->get<bool>() ? 1.0 : 0.0;
    if (it->is_string()) {
        const std::string& s = it->get_ref<const std::string&>();
        if (s.empty()) return std::nullopt;  // an empty CSV cell
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (end != s.c_str() && *end == '\0' && std::isfinite(d)) return d;
    }
    throw RecordError(kIssueWrongType,
                      "field '" + key + "' is " + json_type_name(*it) + ", expected a number");
}

bool looks_like_hh(const json& v) {
    if (!v.is_string()) return false;
    const std::string& s = v.get_ref<const std::string&>();
    return (s.find("\n\nHuman:") != std::string::npos || s.rfind("Human:", 0) == 0) &&
           s.find("Assistant:") != std::string::npos;
}

Record preference(Messages prompt, Messages chosen, Messages rejected, const json& o,
                  const char* score_c = "score_chosen", const char* score_r = "score_rejected") {
    Record r;
    r.kind = RecordKind::Preference;
    if (chosen.empty()) throw RecordError(kIssueEmptyRecord, "field 'chosen' has no messages");
    if (rejected.empty()) throw RecordError(kIssueEmptyRecord, "field 'rejected' has no messages");
    split_preference(std::move(prompt), std::move(chosen), std::move(rejected), r.pref);
    r.pref.score_chosen = optional_number(o, score_c);
    r.pref.score_rejected = optional_number(o, score_r);
    return r;
}

Record sft(Messages ms) {
    if (ms.empty()) throw RecordError(kIssueEmptyRecord, "the conversation has no messages");
    Record r;
    r.kind = RecordKind::Sft;
    r.sft.messages = std::move(ms);
    return r;
}

Record map_known(Format f, const json& o) {
    switch (f) {
        case Format::TrlPreference: {
            Messages prompt;
            auto p = o.find("prompt");
            if (p != o.end() && !p->is_null()) prompt.push_back({"", text_of(*p, "prompt")});
            return preference(std::move(prompt), {{"", require_text(o, "chosen")}},
                              {{"", require_text(o, "rejected")}}, o);
        }
        case Format::TrlPreferenceConversational:
        case Format::UltraFeedback: {
            Messages prompt;
            auto p = o.find("prompt");
            if (p != o.end() && !p->is_null()) {
                prompt = turns_of(*p, "prompt");
                // UltraFeedback's prompt is a plain string repeated as the first user turn.
                if (prompt.size() == 1 && prompt[0].role.empty()) prompt[0].role = "user";
            }
            const json& c = require(o, "chosen");
            const json& rj = require(o, "rejected");
            if (!c.is_array())
                throw RecordError(kIssueWrongType, std::string("field 'chosen' is ") +
                                                       json_type_name(c) +
                                                       ", expected a list of messages");
            if (!rj.is_array())
                throw RecordError(kIssueWrongType, std::string("field 'rejected' is ") +
                                                       json_type_name(rj) +
                                                       ", expected a list of messages");
            return preference(std::move(prompt), turns_of(c, "chosen"), turns_of(rj, "rejected"),
                              o);
        }
        case Format::HhRlhf: {
            if (has(o, "prompt"))
                throw RecordError(kIssueFormatMismatch, "hh-rlhf records have no 'prompt' field");
            const std::string chosen_text = require_text(o, "chosen");
            const std::string rejected_text = require_text(o, "rejected");
            Messages c, rj;
            try {
                c = parse_hh_transcript(chosen_text);
            } catch (const RecordError& e) {
                throw RecordError(e.category(), std::string("field 'chosen': ") + e.what());
            }
            try {
                rj = parse_hh_transcript(rejected_text);
            } catch (const RecordError& e) {
                throw RecordError(e.category(), std::string("field 'rejected': ") + e.what());
            }
            return preference({}, std::move(c), std::move(rj), o);
        }
        case Format::Shp: {
            std::string history = require_text(o, "history");
            std::string a = require_text(o, "human_ref_A"), b = require_text(o, "human_ref_B");
            std::optional<double> label = optional_number(o, "labels");
            if (!label) throw RecordError(kIssueMissingField, "missing field 'labels'");
            if (*label != 0.0 && *label != 1.0)
                throw RecordError(kIssueBadValue, "field 'labels' is " + std::to_string(*label) +
                                                      ", expected 0 or 1");
            bool a_wins = *label == 1.0;
            Record r = preference({{"user", history}}, {{"assistant", a_wins ? a : b}},
                                  {{"assistant", a_wins ? b : a}}, o,
                                  a_wins ? "score_A" : "score_B", a_wins ? "score_B" : "score_A");
            return r;
        }
        case Format::Alpaca: {
            std::string instruction = require_text(o, "instruction");
            std::string input = optional_text(o, "input");
            std::string output = require_text(o, "output");
            return sft({{"user", input.empty() ? instruction : instruction + "\n\n" + input},
                        {"assistant", output}});
        }
        case Format::ShareGpt: {
            const json& conv = require(o, "conversations");
            if (!conv.is_array())
                throw RecordError(kIssueWrongType, std::string("field 'conversations' is ") +
                                                       json_type_name(conv) + ", expected a list");
            Messages ms;
            std::string system = optional_text(o, "system");
            if (!system.empty()) ms.push_back({"system", system});
            for (size_t i = 0; i < conv.size(); ++i) {
                std::string where = "conversations[" + std::to_string(i) + "]";
                const json& t = conv[i];
                if (!t.is_object())
                    throw RecordError(kIssueWrongType,
                                      where + " is " + json_type_name(t) + ", expected an object");
                std::string from = text_of(require(t, "from"), where + ".from");
                std::string value = text_of(require(t, "value"), where + ".value");
                std::string role;
                if (from == "human" || from == "user")
                    role = "user";
                else if (from == "gpt" || from == "assistant" || from == "chatgpt" ||
                         from == "bard" || from == "bing" || from == "model")
                    role = "assistant";
                else if (from == "system")
                    role = "system";
                else if (from == "tool" || from == "function" || from == "observation")
                    role = "tool";
                else
                    throw RecordError(kIssueBadValue,
                                      where + ".from: unknown speaker '" + from + "'");
                ms.push_back({role, std::move(value)});
            }
            return sft(std::move(ms));
        }
        case Format::Messages: {
            const json& m = require(o, "messages");
            if (!m.is_array())
                throw RecordError(kIssueWrongType, std::string("field 'messages' is ") +
                                                       json_type_name(m) + ", expected a list");
            return sft(turns_of(m, "messages"));
        }
        case Format::Text:
            return sft({{"", require_text(o, "text")}});
        case Format::PromptCompletion: {
            Messages ms = require_turns(o, "prompt");
            Messages c = require_turns(o, "completion");
            ms.insert(ms.end(), c.begin(), c.end());
            return sft(std::move(ms));
        }
        case Format::Prompts: {
            Record r;
            r.kind = RecordKind::Prompt;
            r.prompt.prompt = require_turns(o, "prompt");
            if (r.prompt.prompt.empty())
                throw RecordError(kIssueEmptyRecord, "field 'prompt' has no messages");
            return r;
        }
    }
    throw RecordError(kIssueBadValue, "unknown format");
}

// The fields that identify a format (any one present: the record is meant to be of it).
bool has_signature_field(Format f, const json& o) {
    switch (f) {
        case Format::TrlPreference:
        case Format::TrlPreferenceConversational:
        case Format::HhRlhf:
        case Format::UltraFeedback:
            return has(o, "chosen") || has(o, "rejected");
        case Format::Shp:
            return has(o, "human_ref_A") || has(o, "human_ref_B");
        case Format::Alpaca:
            return has(o, "instruction");
        case Format::ShareGpt:
            return has(o, "conversations");
        case Format::Messages:
            return has(o, "messages");
        case Format::Text:
            return has(o, "text");
        case Format::PromptCompletion:
            return has(o, "completion");
        case Format::Prompts:
            return has(o, "prompt");
    }
    return false;
}

}  // namespace

const char* format_name(Format f) {
    for (const auto& row : kFormats)
        if (row.format == f) return row.name;
    return "unknown";
}

std::optional<Format> format_from_name(const std::string& name) {
    for (const auto& row : kFormats)
        if (name == row.name) return row.format;
    return std::nullopt;
}

RecordKind format_kind(Format f) {
    for (const auto& row : kFormats)
        if (row.format == f) return row.kind;
    return RecordKind::Preference;
}

std::optional<Format> detect_format(const json& o) {
    if (!o.is_object()) return std::nullopt;
    if (has(o, "chosen") && has(o, "rejected")) {
        const json& c = o["chosen"];
        if (c.is_array())
            return has(o, "score_chosen") || has(o, "score_rejected")
                       ? Format::UltraFeedback
                       : Format::TrlPreferenceConversational;
        if (!has(o, "prompt") && looks_like_hh(c)) return Format::HhRlhf;
        return Format::TrlPreference;
    }
    if (has(o, "history") && has(o, "human_ref_A") && has(o, "human_ref_B")) return Format::Shp;
    if (has(o, "instruction") && has(o, "output")) return Format::Alpaca;
    if (has(o, "conversations")) return Format::ShareGpt;
    if (has(o, "messages")) return Format::Messages;
    if (has(o, "prompt") && has(o, "completion")) return Format::PromptCompletion;
    if (has(o, "text")) return Format::Text;
    if (has(o, "prompt")) return Format::Prompts;
    return std::nullopt;
}

Record map_record(Format f, const json& o) {
    if (!o.is_object())
        throw RecordError(kIssueNotObject,
                          std::string("record is ") + json_type_name(o) + ", expected an object");
    try {
        Record r = map_known(f, o);
        r.format = format_name(f);
        return r;
    } catch (const RecordError& e) {
        // A record of another format in the file: say so instead of naming a missing field.
        if (e.category() == kIssueFormatMismatch) throw;
        // A record holding some of the format's own fields is a broken record of that format
        // (name the field); one holding none of them is a record of another format.
        std::optional<Format> other = detect_format(o);
        if (other && *other != f && !has_signature_field(f, o))
            throw RecordError(kIssueFormatMismatch, std::string("record looks like '") +
                                                        format_name(*other) + "', the file is '" +
                                                        format_name(f) + "': " + e.what());
        throw;
    }
}

bool can_convert(RecordKind from, RecordKind to) {
    if (from == to) return true;
    if (from == RecordKind::Preference) return true;  // -> prompts, -> sft
    if (from == RecordKind::Sft) return to == RecordKind::Prompt;
    return false;
}

void convert_record(Record& r, RecordKind to) {
    if (r.kind == to) return;
    if (!can_convert(r.kind, to))
        throw RecordError(kIssueBadValue, std::string("cannot import ") + record_kind_name(r.kind) +
                                              " records as " + record_kind_name(to));
    if (r.kind == RecordKind::Preference && to == RecordKind::Prompt) {
        if (r.pref.prompt.empty())
            throw RecordError(kIssueBadValue,
                              "the pair has no separate prompt (implicit-prompt format)");
        r.prompt.prompt = std::move(r.pref.prompt);
    } else if (r.kind == RecordKind::Preference && to == RecordKind::Sft) {
        r.sft.messages = std::move(r.pref.prompt);
        r.sft.messages.insert(r.sft.messages.end(), r.pref.chosen.begin(), r.pref.chosen.end());
    } else {  // sft -> prompts
        Messages& ms = r.sft.messages;
        size_t end = ms.size();
        for (size_t i = ms.size(); i-- > 0;)
            if (ms[i].role == "assistant") {
                end = i;
                break;
            }
        if (end == 0)
            throw RecordError(kIssueBadValue,
                              "the conversation has no turn before its first assistant turn");
        r.prompt.prompt.assign(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(end));
    }
    r.pref = PreferencePair{};
    if (to != RecordKind::Sft) r.sft = SftExample{};
    if (to != RecordKind::Prompt) r.prompt = PromptExample{};
    r.kind = to;
}

Messages parse_hh_transcript(const std::string& text) {
    // Markers as the HH-RLHF files write them: each turn opens with "\n\nHuman:" or
    // "\n\nAssistant:"; a transcript may also begin with "Human:" directly.
    static const struct {
        const char* marker;
        const char* role;
    } kMarkers[] = {{"\n\nHuman:", "user"}, {"\n\nAssistant:", "assistant"}};
    auto find_next = [&](size_t from, size_t& at, size_t& len, const char*& role) {
        at = std::string::npos;
        for (const auto& m : kMarkers) {
            size_t p = text.find(m.marker, from);
            if (p < at) {
                at = p;
                len = std::char_traits<char>::length(m.marker);
                role = m.role;
            }
        }
        return at != std::string::npos;
    };
    auto trim = [](const std::string& s, size_t b, size_t e) {
        while (b < e && (s[b] == ' ' || s[b] == '\n' || s[b] == '\t' || s[b] == '\r')) ++b;
        while (e > b &&
               (s[e - 1] == ' ' || s[e - 1] == '\n' || s[e - 1] == '\t' || s[e - 1] == '\r'))
            --e;
        return s.substr(b, e - b);
    };
    Messages out;
    size_t at = 0, len = 0;
    const char* role = nullptr;
    if (text.rfind("Human:", 0) == 0) {
        len = 6;
        role = "user";
    } else if (text.rfind("Assistant:", 0) == 0) {
        len = 10;
        role = "assistant";
    } else if (!find_next(0, at, len, role)) {
        throw RecordError(kIssueBadValue,
                          "no '\\n\\nHuman:' or '\\n\\nAssistant:' turn in the transcript");
    }
    if (!trim(text, 0, at).empty())
        throw RecordError(kIssueBadValue, "text before the first 'Human:' turn of the transcript");
    for (;;) {
        size_t begin = at + len;
        const char* this_role = role;
        size_t next_at = 0, next_len = 0;
        const char* next_role = nullptr;
        bool more = find_next(begin, next_at, next_len, next_role);
        out.push_back({this_role, trim(text, begin, more ? next_at : text.size())});
        if (!more) break;
        at = next_at;
        len = next_len;
        role = next_role;
    }
    return out;
}

void split_preference(Messages prompt, Messages chosen, Messages rejected, PreferencePair& out) {
    auto starts_with = [](const Messages& a, const Messages& p) {
        if (a.size() <= p.size()) return false;  // must keep at least one response turn
        for (size_t i = 0; i < p.size(); ++i)
            if (!(a[i] == p[i])) return false;
        return true;
    };
    if (!prompt.empty() && starts_with(chosen, prompt) && starts_with(rejected, prompt)) {
        chosen.erase(chosen.begin(), chosen.begin() + static_cast<std::ptrdiff_t>(prompt.size()));
        rejected.erase(rejected.begin(),
                       rejected.begin() + static_cast<std::ptrdiff_t>(prompt.size()));
    }
    size_t k = 0;
    while (k < chosen.size() && k < rejected.size() && chosen[k] == rejected[k]) ++k;
    // Both responses keep at least one turn.
    if (k >= chosen.size()) k = chosen.size() - 1;
    if (k >= rejected.size()) k = rejected.size() - 1;
    prompt.insert(prompt.end(), chosen.begin(), chosen.begin() + static_cast<std::ptrdiff_t>(k));
    chosen.erase(chosen.begin(), chosen.begin() + static_cast<std::ptrdiff_t>(k));
    rejected.erase(rejected.begin(), rejected.begin() + static_cast<std::ptrdiff_t>(k));
    out.prompt = std::move(prompt);
    out.chosen = std::move(chosen);
    out.rejected = std::move(rejected);
}

}  // namespace rlhf::data
