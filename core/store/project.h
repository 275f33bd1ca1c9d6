// Project: a folder holding project.sqlite and runs/ (DESIGN.md §1, §4). Every read and write of
// datasets, labels, runs, metrics and chat feedback goes through this class.
//
// Threading: a Project object is ONE SQLite connection and must be used by one thread at a time.
// A worker thread calls `connect()` for its own connection to the same folder (cheap: one open,
// no migration). Connections run WAL (readers never block the writer), foreign_keys=ON, a busy
// timeout, and every write is a BEGIN IMMEDIATE transaction.
//
// Durability: a human label is committed with synchronous=FULL before add_label returns, so an
// acknowledged label survives a crash of the process and of the machine. Other writes use
// synchronous=NORMAL, which survives a crash of the process.
//
// Errors: rlhf::Error("<dir>/project.sqlite: <operation>: <reason>").
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/store/types.h"

namespace rlhf::store {

class Db;

struct OpenOptions {
    bool create = true;          // create the folder, runs/ and the database when missing
    const char* vfs = nullptr;   // SQLite VFS name; nullptr = the default (tests inject faults)
    bool migrate = true;         // bring the schema to the latest version on open
};

// Records per transaction that importers should hand to add_records (speed vs. lost work on crash).
constexpr size_t kImportBatchRecords = 4096;
// Records per transaction of add_prepared_stream at most: fewer commits rewrite the hash index and
// full-text structure pages into the WAL fewer times.
constexpr size_t kImportCommitRecords = 65536;
// Records indexed by one full-text statement of add_prepared_stream at most: each statement ends
// in a new FTS5 segment, and fewer, larger segments are merged less (the texts of these records
// stay in memory until indexed: ~4 batches).
constexpr size_t kImportIndexRecords = 16384;

class Project {
public:
    static constexpr const char* kDatabaseFile = "project.sqlite";
    static constexpr const char* kRunsDir = "runs";

    // Opens (and by default creates and migrates) the project in folder `dir`.
    static Project open(const std::string& dir, const OpenOptions& options = {});
    // A second connection to the same project, for another thread.
    Project connect() const;

    Project(Project&&) noexcept;
    Project& operator=(Project&&) noexcept;
    ~Project();

    const std::string& dir() const;
    std::string database_path() const;
    std::string runs_dir() const;
    int schema_version();

    // ---- datasets and records (project_records.cpp)
    int64_t dataset(const std::string& name, const std::string& source = "");  // get or create
    std::optional<Dataset> find_dataset(const std::string& name);
    std::vector<Dataset> datasets();
    // One transaction; records already in the dataset (same data::content_hash) are counted, not added.
    ImportCounts add_records(int64_t dataset_id, const std::vector<data::Record>& records);
    ImportCounts add_prepared(int64_t dataset_id, const std::vector<PreparedRecord>& records);  // same, prepared
    // Bulk import (store::import_file_into): writes the batches `next_batch` yields until it returns
    // false, as add_prepared does, but several batches share a transaction, committed once it holds
    // `commit_records` records or has held the write lock `commit_seconds` (other connections, a
    // human label above all, wait at most that long). A crash loses at most the uncommitted batches,
    // which re-importing the file adds (imports are idempotent). Memory stays a few batches
    // (kImportIndexRecords). A helper thread checkpoints the WAL meanwhile (wal_checkpointer.h).
    ImportCounts add_prepared_stream(int64_t dataset_id,
                                     const std::function<bool(std::vector<PreparedRecord>&)>& next_batch,
                                     size_t commit_records = kImportCommitRecords, double commit_seconds = 0.5);
    std::optional<StoredRecord> record(int64_t id);
    RowPage rows(const RowQuery& query);  // ordered by id; fills StoredRecord::has_comparison
    // Streams a dataset in id order with bounded memory (export).
    void for_each_record(int64_t dataset_id, const std::function<void(StoredRecord&&)>& fn);
    // `count_tokens` measures one record's text; unset = whitespace-separated words.
    DatasetStats dataset_stats(int64_t dataset_id,
                               const std::function<size_t(const std::string&)>& count_tokens = {},
                               size_t bins = 20);

    // ---- labeling (project_labels.cpp)
    int64_t annotator(const std::string& name);  // get or create
    std::vector<Annotator> annotators();         // by name
    int64_t add_completion(const Completion& c);
    // A comparison of two completions of the same prompt; `rng` decides which is shown left.
    int64_t create_comparison(int64_t prompt_id, int64_t completion_a, int64_t completion_b, std::mt19937_64& rng);
    int64_t create_comparison(int64_t prompt_id, int64_t completion_a, int64_t completion_b, bool a_on_left);
    std::optional<ComparisonView> comparison(int64_t id);
    // The lowest-id comparison this annotator has no label in force on (a skip counts as labelled).
    std::optional<ComparisonView> next_unlabeled(int64_t annotator_id);
    // Appends a label, committed durably (synchronous=FULL) before returning its id.
    int64_t add_label(const LabelInput& label);
    // Appends an 'undo' row for the annotator's latest label in force; returns the undone label's
    // id, or nullopt when there is nothing to undo.
    std::optional<int64_t> undo_last_label(int64_t annotator_id);
    // Labeling progress: comparisons in the project, and those this annotator has a label in force on.
    int64_t comparison_count();
    int64_t labeled_count(int64_t annotator_id);
    std::vector<LabelRow> labels_in_force();         // ordered by label id
    std::vector<LabelEvent> label_history();         // every row, in order
    Agreement agreement(int64_t annotator_1, int64_t annotator_2);

    // ---- runs, metrics, samples, checkpoints (project_runs.cpp)
    int64_t create_run(const RunInfo& run);
    void set_run_status(int64_t run_id, RunStatus status, const std::string& error = "");
    std::optional<RunInfo> run(int64_t run_id);
    std::vector<RunInfo> runs();                     // newest first
    void append_metrics(int64_t run_id, const std::vector<MetricPoint>& points);  // one transaction
    // Points with step > after_step, ordered by (step, name); `name` "" = all series. The live
    // plots poll this with the last step they have.
    std::vector<MetricPoint> metrics(int64_t run_id, int64_t after_step = -1, const std::string& name = "");
    std::vector<std::string> metric_names(int64_t run_id);  // the run's series, sorted
    void add_samples(int64_t run_id, const std::vector<Sample>& samples);
    std::vector<Sample> samples(int64_t run_id, int64_t after_step = -1, int64_t limit = 1000);
    int64_t add_checkpoint(const Checkpoint& checkpoint);  // replaces one at the same (run, step)
    std::vector<Checkpoint> checkpoints(int64_t run_id);   // by step

    // ---- chat (project_chat.cpp)
    int64_t create_chat_session(const std::string& title, const std::string& model);
    std::vector<ChatSession> chat_sessions();
    int64_t add_chat_message(int64_t session_id, std::optional<int64_t> parent_id, const std::string& role,
                             const std::string& content, const std::string& model = "");
    std::vector<ChatMessage> chat_messages(int64_t session_id);  // by id
    int64_t add_feedback(const Feedback& feedback);
    // Each feedback with a rejected reply becomes a pair: prompt = the conversation up to the
    // replies' parent, chosen/rejected = the two replies.
    std::vector<data::PreferencePair> feedback_preference_pairs();

    // ---- maintenance
    // Online backup (sqlite3_backup_*) to a single self-contained file, written atomically.
    void backup(const std::string& out_path);
    std::string integrity_check();  // "ok" when PRAGMA integrity_check finds nothing

    Db& db();  // the connection itself, for the store's own tests and tools

private:
    struct Impl;
    explicit Project(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace rlhf::store
