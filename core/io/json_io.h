// JSON / JSONL / gzip'd JSONL readers shared by tokenizer, model and dataset loading.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace rlhf::io {

// Appends `s` as a JSON string literal with exactly the escapes nlohmann's dump() writes with
// ensure_ascii off (", \, \b \f \n \r \t, other control bytes as \u00XX; UTF-8 as is).
// For writers that build canonical JSON by hand in hot paths (content hashes, record rows).
void append_json_string(std::string& out, const std::string& s);

// Optional fields of a config object (config.json, generation_config.json): the value of `key`,
// or `fallback` when it is absent or null; a value of the wrong type throws
// "<label>: field '<key>' must be <type>".
int64_t get_int(const nlohmann::json& j, const char* key, int64_t fallback, const std::string& label);
double get_double(const nlohmann::json& j, const char* key, double fallback, const std::string& label);
bool get_bool(const nlohmann::json& j, const char* key, bool fallback, const std::string& label);
std::string get_string(const nlohmann::json& j, const char* key, const std::string& fallback,
                       const std::string& label);

// Parses a whole JSON file; errors name the file, line and column.
nlohmann::json read_json_file(const std::string& path);
nlohmann::json parse_json(const std::string& text, const std::string& label);
// As parse_json, but a key repeated inside one object is an error ("<label>: duplicate key 'k'")
// instead of nlohmann's silent last-one-wins: for files where a repeat hides data (weight maps).
nlohmann::json parse_json_unique_keys(const std::string& text, const std::string& label);

// Streams lines from a plain or gzip file (detected by magic bytes, not by name). Strips a UTF-8
// BOM at the start and the trailing "\n" / "\r\n". Bounded memory: a line longer than
// max_line_bytes is reported (line_too_long()) and skipped, not buffered whole.
class LineReader {
public:
    explicit LineReader(const std::string& path, size_t max_line_bytes = 64u << 20);
    ~LineReader();
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;

    bool next(std::string& line);     // false at end of file; throws rlhf::Error on I/O/gzip errors
    uint64_t line_number() const;     // 1-based number of the line last returned
    bool line_too_long() const;       // the line last returned was cut (its content is empty)
    uint64_t compressed_bytes_read() const;  // for progress: position in the file on disk
    uint64_t file_size() const;
    bool is_gzip() const;
    const std::string& path() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct JsonlRecord {
    uint64_t line = 0;      // 1-based line number in the file
    nlohmann::json value;   // valid when error is empty
    std::string error;      // "<path>:<line>: <reason>" for a malformed line
};

// JSONL on top of LineReader; blank lines are skipped; a malformed line yields error, not a throw.
class JsonlReader {
public:
    explicit JsonlReader(const std::string& path);
    bool next(JsonlRecord& out);
    LineReader& lines() { return lines_; }

private:
    LineReader lines_;
};

}  // namespace rlhf::io
