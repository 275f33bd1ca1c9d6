// TrlJsonlWriter: records as TRL dataset rows, one JSON object per line.
//
// clang-format off
// | kind       | Standard style                                   | Conversational style
// |------------|--------------------------------------------------|------------------------------------------
// | preference | {"prompt": s, "chosen": s, "rejected": s}        | {"prompt": [m], "chosen": [m], "rejected": [m]}
// |            | ("prompt" left out when empty: implicit prompt)  | ("prompt" left out when empty)
// | sft        | one message: {"text": s}; more:                  | {"messages": [m]}
// |            | {"prompt": s(all but last), "completion": s}     |
// | prompts    | {"prompt": s}                                    | {"prompt": [m]}
//
// s = the contents of the messages joined by "\n\n" (roles are dropped: standard rows have none);
// [m] = [{"role", "content"}]. Role-less text has no conversational form, so a record whose
// messages are all role-less is written in the standard layout in either style (TRL reads both);
// a role-less message inside an otherwise conversational record takes the role its field implies
// (prompt -> user, responses -> assistant). Preference scores are kept as score_chosen /
// score_rejected (TRL ignores extra columns).
// clang-format on
#include "core/data/import.h"

#include <nlohmann/json.hpp>

#include "core/io/atomic_file.h"

namespace rlhf::data {

using nlohmann::json;

struct TrlJsonlWriter::Impl {
    explicit Impl(const std::string& path) : out(path) {}
    io::AtomicFileWriter out;
    ExportStyle style = ExportStyle::Standard;
};

namespace {

std::string joined(const Messages& ms) {
    std::string s;
    for (size_t i = 0; i < ms.size(); ++i) {
        if (i) s += "\n\n";
        s += ms[i].content;
    }
    return s;
}

json as_list(const Messages& ms, const char* default_role) {
    json a = json::array();
    for (const Message& m : ms)
        a.push_back({{"role", m.role.empty() ? default_role : m.role}, {"content", m.content}});
    return a;
}

bool any_role(const Messages& ms) {
    for (const Message& m : ms)
        if (!m.role.empty()) return true;
    return false;
}

}  // namespace

TrlJsonlWriter::TrlJsonlWriter(const std::string& path, ExportStyle style) : impl_(new Impl(path)) {
    impl_->style = style;
}

TrlJsonlWriter::~TrlJsonlWriter() {
    delete impl_;
}  // not committed -> the temp file goes

void TrlJsonlWriter::write(const Record& r) {
    json row = json::object();
    bool conv = impl_->style == ExportStyle::Conversational;
    switch (r.kind) {
        case RecordKind::Preference: {
            const PreferencePair& p = r.pref;
            conv = conv && (any_role(p.prompt) || any_role(p.chosen) || any_role(p.rejected));
            if (conv) {
                if (!p.prompt.empty()) row["prompt"] = as_list(p.prompt, "user");
                row["chosen"] = as_list(p.chosen, "assistant");
                row["rejected"] = as_list(p.rejected, "assistant");
            } else {
                if (!p.prompt.empty()) row["prompt"] = joined(p.prompt);
                row["chosen"] = joined(p.chosen);
                row["rejected"] = joined(p.rejected);
            }
            if (p.score_chosen) row["score_chosen"] = *p.score_chosen;
            if (p.score_rejected) row["score_rejected"] = *p.score_rejected;
            break;
        }
        case RecordKind::Sft: {
            const Messages& ms = r.sft.messages;
            if (conv && any_role(ms)) {
                row["messages"] = as_list(ms, "user");
            } else if (ms.size() <= 1) {
                row["text"] = joined(ms);
            } else {
                row["prompt"] = joined(Messages(ms.begin(), ms.end() - 1));
                row["completion"] = ms.back().content;
            }
            break;
        }
        case RecordKind::Prompt:
            if (conv && any_role(r.prompt.prompt))
                row["prompt"] = as_list(r.prompt.prompt, "user");
            else
                row["prompt"] = joined(r.prompt.prompt);
            break;
    }
    std::string line = row.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
    line += '\n';
    impl_->out.write(line);
}

void TrlJsonlWriter::commit() {
    impl_->out.commit();
}

}  // namespace rlhf::data
