// Dataset import: format detection and streaming readers for the files researchers have
// (TRL preference standard/conversational, Anthropic HH-RLHF, UltraFeedback-binarized, SHP,
// Alpaca, ShareGPT, messages, plain text, prompt-only), in JSON / JSONL / CSV / TSV, each
// optionally gzip'd. Memory stays bounded whatever the file size: records are handed to a sink
// one at a time. A malformed record is reported as file:line and reason, counted and skipped.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/data/records.h"

namespace rlhf::data {

struct ImportOptions {
    std::string format = "auto";             // "auto" or a name from import_format_names()
    std::optional<RecordKind> as;            // force sft | preference | prompts (e.g. prompts from a preference set)
    // Preprocessing (applied to every text field before the sink sees the record)
    bool strip_html = false;                 // remove tags, decode the common entities
    bool normalize_whitespace = false;       // collapse runs of spaces/tabs, trim, CRLF -> LF
    bool drop_identical_pairs = true;        // preference pairs whose chosen == rejected
    // Length filter in tokens: counted by `count_tokens` when set (0 = no bound).
    size_t min_tokens = 0, max_tokens = 0;
    std::function<size_t(const std::string&)> count_tokens;
    // Progress: bytes of the file consumed so far and its size on disk. Called at most ~10×/s.
    std::function<void(uint64_t done_bytes, uint64_t total_bytes)> progress;
    const std::atomic<bool>* cancel = nullptr;  // set -> rlhf::Cancelled is thrown between records
    size_t max_issues_kept = 100;            // the first N issues are kept verbatim in the summary
};

struct ImportIssue {
    uint64_t line = 0;       // 1-based line (JSONL), record (CSV) or element index + 1 (JSON array)
    std::string reason;      // "missing field 'chosen'", "invalid UTF-8", ...
    std::string category;    // the skipped_by_reason key it was counted under ("missing field")
    uint64_t file_line = 0;  // line where the record starts (differs from `line` in JSON arrays)
    std::string to_string(const std::string& file) const;  // "<file>:<line>: <reason>"
};

struct ImportSummary {
    std::string file;
    std::string format;                      // detected or forced format name
    RecordKind kind = RecordKind::Preference;
    uint64_t records_read = 0;               // records seen (valid or not)
    uint64_t records_ok = 0;                 // handed to the sink
    uint64_t records_skipped = 0;
    std::map<std::string, uint64_t> skipped_by_reason;  // reason category -> count
    std::vector<ImportIssue> issues;         // the first max_issues_kept problems
};

// Names accepted by ImportOptions::format.
std::vector<std::string> import_format_names();

// Reads `path`, detects its container and format (unless forced) and calls `sink` for each valid
// record. Throws rlhf::Error only for whole-file problems (unreadable, unknown format, truncated
// gzip before any record); per-record problems go to the summary.
// Decided: an empty file (no bytes, only whitespace or a BOM, a CSV with only its header) is a
// whole-file error "<path>: empty file (no records)"; so is a file in which no record of the
// first ones fits any format (unless ImportOptions::format forces one). An unknown format name
// throws rlhf::UsageError. Container: .csv/.tsv by name, JSON vs JSONL by content (HF's
// to_json writes JSONL into .json files); gzip by magic bytes. Formats: core/data/formats.cpp.
ImportSummary import_file(const std::string& path, const ImportOptions& options,
                          const std::function<void(Record&&)>& sink);

// Export: TRL-compatible JSONL. `conversational` writes message lists, otherwise plain strings
// (role-less text). Written atomically.
enum class ExportStyle { Standard, Conversational };
class TrlJsonlWriter {
public:
    TrlJsonlWriter(const std::string& path, ExportStyle style);
    ~TrlJsonlWriter();
    void write(const Record& r);
    void commit();
private:
    struct Impl;
    Impl* impl_;
};

}  // namespace rlhf::data
