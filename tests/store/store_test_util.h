// Helpers shared by the store tests: hand-built records and a temporary project folder.
#pragma once
#include <QTemporaryDir>
#include <QtTest>

#include <string>

#include "core/data/records.h"

namespace store_test {

inline rlhf::data::Record preference(const std::string& prompt, const std::string& chosen, const std::string& rejected,
                                     uint64_t line = 1) {
    rlhf::data::Record r;
    r.kind = rlhf::data::RecordKind::Preference;
    r.pref.prompt = {{"user", prompt}};
    r.pref.chosen = {{"assistant", chosen}};
    r.pref.rejected = {{"assistant", rejected}};
    r.format = "hh-rlhf";
    r.line = line;
    return r;
}

inline rlhf::data::Record prompt_record(const std::string& text, uint64_t line = 1) {
    rlhf::data::Record r;
    r.kind = rlhf::data::RecordKind::Prompt;
    r.prompt.prompt = {{"", text}};
    r.format = "prompt-only";
    r.line = line;
    return r;
}

inline rlhf::data::Record sft_record(const std::string& user, const std::string& assistant, uint64_t line = 1) {
    rlhf::data::Record r;
    r.kind = rlhf::data::RecordKind::Sft;
    r.sft.messages = {{"system", "Be brief."}, {"user", user}, {"assistant", assistant}};
    r.format = "messages";
    r.line = line;
    return r;
}

inline std::string project_dir(const QTemporaryDir& tmp, const char* name = "proj") {
    return (tmp.path() + QStringLiteral("/") + QString::fromUtf8(name)).toStdString();
}

}  // namespace store_test
