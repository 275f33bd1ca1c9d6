// Helpers shared by the core/data tests: record builders, a one-line description of a record
// (compared as text so a failure shows both sides), and import into a vector.
#pragma once
#include <QByteArray>
#include <QString>

#include <fstream>
#include <string>
#include <vector>

#include "core/data/import.h"

namespace data_test {

using rlhf::data::Message;
using rlhf::data::Messages;
using rlhf::data::Record;
using rlhf::data::RecordKind;

inline QString q(const std::string& s) {
    return QString::fromStdString(s);
}

inline std::string describe(const Messages& ms) {
    std::string s = "[";
    for (size_t i = 0; i < ms.size(); ++i) {
        if (i) s += ", ";
        s += ms[i].role + ":" + ms[i].content;
    }
    return s + "]";
}

inline std::string score(const std::optional<double>& d) {
    return d ? std::to_string(*d) : "-";
}

// "preference prompt=[user:Hi] chosen=[assistant:Hello] rejected=[...] scores=-/-"
inline std::string describe(const Record& r) {
    switch (r.kind) {
        case RecordKind::Preference:
            return "preference prompt=" + describe(r.pref.prompt) +
                   " chosen=" + describe(r.pref.chosen) + " rejected=" + describe(r.pref.rejected) +
                   " scores=" + score(r.pref.score_chosen) + "/" + score(r.pref.score_rejected);
        case RecordKind::Sft:
            return "sft " + describe(r.sft.messages);
        case RecordKind::Prompt:
            return "prompts " + describe(r.prompt.prompt);
    }
    return "?";
}

inline QString describe_all(const std::vector<Record>& rs) {
    std::string s;
    for (const Record& r : rs) s += describe(r) + "\n";
    return q(s);
}

inline Record pref(Messages prompt, Messages chosen, Messages rejected,
                   std::optional<double> sc = {}, std::optional<double> sr = {}) {
    Record r;
    r.kind = RecordKind::Preference;
    r.pref.prompt = std::move(prompt);
    r.pref.chosen = std::move(chosen);
    r.pref.rejected = std::move(rejected);
    r.pref.score_chosen = sc;
    r.pref.score_rejected = sr;
    return r;
}

inline Record sft(Messages ms) {
    Record r;
    r.kind = RecordKind::Sft;
    r.sft.messages = std::move(ms);
    return r;
}

inline Record prompts(Messages ms) {
    Record r;
    r.kind = RecordKind::Prompt;
    r.prompt.prompt = std::move(ms);
    return r;
}

struct Imported {
    rlhf::data::ImportSummary summary;
    std::vector<Record> records;
};

inline Imported import_all(const std::string& path, const rlhf::data::ImportOptions& o = {}) {
    Imported out;
    out.summary =
        rlhf::data::import_file(path, o, [&](Record&& r) { out.records.push_back(std::move(r)); });
    return out;
}

inline void write_bytes(const std::string& path, const QByteArray& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.constData(), bytes.size());
}

// "line:category" for each issue, ';'-joined, e.g. "2:invalid UTF-8;5:line too long".
inline QString issue_list(const rlhf::data::ImportSummary& s) {
    std::string out;
    for (const auto& i : s.issues) {
        if (!out.empty()) out += ";";
        out += std::to_string(i.line) + ":" + i.category;
    }
    return q(out);
}

}  // namespace data_test
