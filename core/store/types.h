// Plain value types of the project store (DESIGN.md §4): what Project reads and writes. Ids are
// SQLite rowids; timestamps are ISO-8601 UTC strings ("2026-11-23T17:30:00.123Z").
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/data/records.h"

namespace rlhf::store {

// ---- datasets and records

struct Dataset {
    int64_t id = 0;
    std::string name;
    std::string source;       // where it was imported from (file path), informative
    int64_t records = 0;      // rows held
    int64_t duplicates = 0;   // records skipped by imports because their content was already held
    std::string created_at;
};

struct ImportCounts {
    uint64_t inserted = 0;    // new rows
    uint64_t duplicates = 0;  // same content hash already in the dataset: nothing added
};

// A record serialised for the store (record_json.h), ready to insert. Preparing is the CPU-heavy
// part of an import (canonical JSON, SHA-256) and needs no connection, so it can run on another
// thread than the one writing (store::import_file_into does).
struct PreparedRecord {
    data::RecordKind kind = data::RecordKind::Preference;
    std::string content_json;  // canonical content JSON
    std::string text;          // flattened message text (search, lengths)
    std::string content_hash;  // data::content_hash
    std::string format;
    uint64_t line = 0;
};

struct StoredRecord {
    int64_t id = 0;
    int64_t dataset_id = 0;
    data::Record record;      // format and line filled from the row
    std::string content_hash;
    bool has_comparison = false;  // Project::rows() only: a comparison of this record (as prompt) exists
};

// A page of a dataset for the Dataset panel. `search` is words that must all appear in the record
// text (FTS5, case-insensitive; a trailing * matches a prefix: "tokeni*").
struct RowQuery {
    int64_t dataset_id = 0;
    std::string search;                      // "" = no text filter
    std::optional<data::RecordKind> kind;    // only this kind
    std::string format;                      // only this source format ("" = any)
    int64_t offset = 0;                      // rows to skip (ordered by id); ignored when after_id > 0
    int64_t limit = 100;                     // rows to return at most
    // Keyset paging: only rows with id > after_id (pass the last id of the previous page). Deep
    // pages then cost what the first does; OFFSET makes SQLite step over every skipped row.
    int64_t after_id = 0;                    // 0 = page by offset
    bool count_total = true;                 // false: RowPage::total is -1 (saves a count per page)
};

struct RowPage {
    std::vector<StoredRecord> rows;
    int64_t total = 0;  // rows matching the filters, all pages together (-1 when not counted)
};

// Equal-width histogram of per-record lengths over [0, max]; counts[i] covers [edges[i], edges[i+1]).
struct LengthHistogram {
    std::vector<size_t> edges;     // bins + 1 edges, width max / bins + 1, so edges.back() > max
    std::vector<uint64_t> counts;  // bins
    size_t min = 0, max = 0;
    double mean = 0;
};

struct DatasetStats {
    int64_t records = 0;
    int64_t duplicates = 0;                      // as Dataset::duplicates
    std::map<std::string, int64_t> per_kind;     // "preference" | "sft" | "prompts" -> rows
    std::map<std::string, int64_t> per_format;   // source format -> rows
    LengthHistogram lengths;                     // tokens per record (all its message text)
};

// ---- generation and labeling

struct Completion {
    int64_t id = 0;                  // set by the store
    int64_t prompt_id = 0;           // the record whose prompt was completed
    std::string text;
    std::string model;               // model folder or name
    std::optional<int64_t> run_id;   // the run that produced the checkpoint, if any
    std::string checkpoint;          // checkpoint path or step
    std::string sampling_json = "{}";  // {"temperature":0.7,"top_p":0.9,...}
    std::optional<int64_t> seed;
};

struct ComparisonView {
    int64_t id = 0;
    int64_t prompt_id = 0;
    data::Messages prompt;           // the prompt turns shown above both completions
    Completion a, b;
    bool a_on_left = true;           // randomised when the comparison was created
    const Completion& left() const { return a_on_left ? a : b; }
    const Completion& right() const { return a_on_left ? b : a; }
};

// The annotator's verdict on a comparison, always about A and B (not left/right).
enum class Choice { A, B, Tie, BothBad, Skip };
const char* choice_name(Choice c);  // "A" | "B" | "tie" | "both_bad" | "skip"
Choice choice_from_name(const std::string& name, const std::string& where);

struct LabelInput {
    int64_t comparison_id = 0;
    int64_t annotator_id = 0;
    Choice choice = Choice::Skip;
    std::string rationale;
    std::optional<double> seconds;   // time from showing the pair to the decision
};

// A label in force (the annotator's latest on that comparison, not undone), with what was compared.
struct LabelRow {
    int64_t label_id = 0;
    int64_t comparison_id = 0;
    std::string annotator;
    Choice choice = Choice::Skip;
    std::string rationale;
    std::optional<double> seconds;
    std::string created_at;
    data::Messages prompt;
    std::string completion_a, completion_b;
    std::string model_a, model_b;    // Completion::model of each side ("" when not recorded)
    bool a_on_left = true;
};

// An annotator and how far they got.
struct Annotator {
    int64_t id = 0;
    std::string name;
    std::string created_at;
    int64_t labeled = 0;  // comparisons with a label in force (as Project::labeled_count)
};

// One row of the append-only history: kind "label" (choice set) or "undo" (undoes set).
struct LabelEvent {
    int64_t id = 0;
    int64_t comparison_id = 0;
    int64_t annotator_id = 0;
    std::string kind;
    std::optional<Choice> choice;
    std::optional<int64_t> undoes;
    std::string created_at;
};

struct Agreement {
    int64_t shared = 0;    // comparisons both annotators labelled with a non-skip choice
    double percent = 0;    // 100 * observed agreement
    double kappa = 0;      // Cohen's kappa; NaN when undefined (no shared items, or chance agreement 1)
};

// Cohen's kappa over {A, B, tie, both_bad}; pairs where either side is Skip are left out.
Agreement cohen_kappa(const std::vector<std::pair<Choice, Choice>>& pairs);

// ---- runs

enum class RunStatus { Pending, Running, Completed, Failed, Cancelled };
const char* run_status_name(RunStatus s);  // "pending" | "running" | "completed" | "failed" | "cancelled"
RunStatus run_status_from_name(const std::string& name, const std::string& where);

struct RunInfo {
    int64_t id = 0;                        // set by the store
    std::string kind;                      // "sft" | "rm" | "ppo" | "dpo" | "grpo" | ...
    std::string name;
    std::string config_yaml;               // the exact YAML the run was started with
    RunStatus status = RunStatus::Pending;
    std::string error;                     // why it failed, when it did
    std::optional<int64_t> parent_run_id;  // e.g. the SFT run a PPO run starts from
    std::string base_model;
    std::string created_at, updated_at;
};

struct MetricPoint {
    std::string name;       // TRL names: "loss", "objective/kl", ... (DESIGN.md §5)
    int64_t step = 0;
    double value = 0;       // NaN is kept (stored as NULL)
    double wall_time = 0;   // seconds since the Unix epoch
};

struct Sample {
    int64_t id = 0;
    int64_t run_id = 0;
    int64_t step = 0;
    std::string prompt, response;
    std::optional<double> reward;
    std::string extra_json = "{}";
};

struct Checkpoint {
    int64_t id = 0;
    int64_t run_id = 0;
    int64_t step = 0;
    std::string path;       // relative to the project folder when inside it
    std::string sha256;
    std::string created_at;
};

// ---- chat

struct ChatSession {
    int64_t id = 0;
    std::string title, model, created_at;
};

struct ChatMessage {
    int64_t id = 0;
    int64_t session_id = 0;
    std::optional<int64_t> parent_id;  // the message this one answers; alternatives share it
    std::string role, content, model, created_at;
};

// Either a preference between two replies to the same parent (rejected_message_id set) or a
// thumbs rating of one reply (rating +1 / -1).
struct Feedback {
    int64_t id = 0;
    int64_t message_id = 0;
    std::optional<int64_t> rejected_message_id;
    std::optional<int> rating;
    std::string comment;
    std::optional<int64_t> annotator_id;
};

}  // namespace rlhf::store
