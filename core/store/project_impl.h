// Internal to core/store: the state behind a Project, shared by the project_*.cpp files.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/store/project.h"
#include "core/store/sqlite.h"

namespace rlhf::store {

struct Project::Impl {
    std::string dir;
    OpenOptions options;
    Db db;
    // The batch add_prepared is indexing: (record id, its text), ids increasing. Read by the SQL
    // function rlhf_batch_text(id) during one INSERT…SELECT into records_fts, empty otherwise.
    std::vector<std::pair<int64_t, const std::string*>> fts_batch;
};

// Registers the store's SQL functions on a connection (every connection needs them; see schema.cpp v3):
// rlhf_record_text(kind, content) and rlhf_batch_text(id).
// `fts_batch` is the connection's Impl::fts_batch.
void register_sql_functions(Db& db, std::vector<std::pair<int64_t, const std::string*>>* fts_batch);

// The prompt turns of a record: a preference pair's or prompt's prompt, an SFT example's turns
// before its final assistant reply.
data::Messages record_prompt_messages(const data::Record& r);

}  // namespace rlhf::store
