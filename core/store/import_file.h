// A dataset file into a project: core/data's streaming importer (on a reader thread) feeding
// Project::add_prepared_stream in batches of kImportBatchRecords, so memory stays bounded whatever
// the file size. Shared by `rlhf import`, `rlhf bench import` and the workbench's import job. While
// it writes, a third thread checkpoints the WAL (wal_checkpointer.h); every row is indexed for
// search and committed before it returns.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/data/import.h"
#include "core/store/project.h"

namespace rlhf::store {

struct ProjectImport {
    data::ImportSummary summary;  // what the reader saw: format, kind, per-reason skips, first issues
    ImportCounts counts;          // what the store did: inserted vs duplicates
    int64_t dataset_id = 0;
    std::string dataset;
    double seconds = 0;           // wall time of the whole import
    // CPU seconds of each side (CLOCK_THREAD_CPUTIME_ID): on a shared machine wall time includes
    // waiting for a core; these say which side is the bottleneck.
    double reader_cpu_seconds = 0;  // parse, preprocess, prepare (JSON, SHA-256)
    double writer_cpu_seconds = 0;  // SQLite inserts, full-text indexing, commits
};

// "path/to/hh-rlhf.train.jsonl.gz" -> "hh-rlhf.train": the file name without container suffixes.
std::string default_dataset_name(const std::string& path);

// Imports `path` into dataset `dataset_name` (created if missing; "" = default_dataset_name).
// Reading runs on a helper thread (options.progress is called there); writing stays on the
// calling thread, which must own `project`. Throws rlhf::Error for whole-file problems (see
// data::import_file) and store failures, rlhf::Cancelled when options.cancel is set.
ProjectImport import_file_into(Project& project, const std::string& path, const std::string& dataset_name,
                               const data::ImportOptions& options);

// The JSON summary `rlhf import` prints: counts, per-reason skips, first issues as "file:line: reason".
nlohmann::json import_summary_json(const ProjectImport& r);

}  // namespace rlhf::store
