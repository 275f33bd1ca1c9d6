// Project: opening, connections, backup and integrity checks. The entity reads/writes are split by
// concern: project_records.cpp, project_labels.cpp, project_runs.cpp, project_chat.cpp.
#include "core/store/project.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "core/io/error.h"
#include "core/store/project_impl.h"
#include "core/store/record_json.h"
#include "core/store/schema.h"

namespace rlhf::store {

namespace fs = std::filesystem;

Project::Project(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Project::Project(Project&&) noexcept = default;
Project& Project::operator=(Project&&) noexcept = default;
Project::~Project() = default;

namespace {

// rlhf_record_text(kind, content): the flattened text of a stored record (record_text), which the
// full-text index needs when a row is deleted or rewritten (schema v3 keeps no copy of it).
void sql_record_text(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    if (argc != 2) return sqlite3_result_error(ctx, "rlhf_record_text(kind, content)", -1);
    const auto* kind = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
    const auto* content = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
    if (!kind || !content) return sqlite3_result_null(ctx);
    try {
        nlohmann::json j = nlohmann::json::parse(content, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded()) return sqlite3_result_error(ctx, "rlhf_record_text: content is not JSON", -1);
        std::string text = record_text(record_from_content_json(kind_from_name(kind, "rlhf_record_text"), j,
                                                                "rlhf_record_text"));
        sqlite3_result_text64(ctx, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    } catch (const std::exception& e) {
        sqlite3_result_error(ctx, e.what(), -1);
    }
}

// rlhf_batch_text(id): the text of record `id` of the batch add_prepared is indexing, without a
// copy (SQLITE_STATIC: the batch outlives the statement). NULL for an id outside the batch.
void sql_batch_text(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    if (argc != 1) return sqlite3_result_error(ctx, "rlhf_batch_text(id)", -1);
    const auto* batch = static_cast<const std::vector<std::pair<int64_t, const std::string*>>*>(sqlite3_user_data(ctx));
    int64_t id = sqlite3_value_int64(argv[0]);
    auto it = std::lower_bound(batch->begin(), batch->end(), id,
                               [](const std::pair<int64_t, const std::string*>& e, int64_t v) { return e.first < v; });
    if (it == batch->end() || it->first != id) return sqlite3_result_null(ctx);
    sqlite3_result_text64(ctx, it->second->data(), it->second->size(), SQLITE_STATIC, SQLITE_UTF8);
}

}  // namespace

void register_sql_functions(Db& db, std::vector<std::pair<int64_t, const std::string*>>* fts_batch) {
    sqlite3* h = db.handle();
    int rc = sqlite3_create_function_v2(h, "rlhf_record_text", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                        sql_record_text, nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(h, "rlhf_batch_text", 1, SQLITE_UTF8, fts_batch, sql_batch_text,
                                        nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) db.fail(rc, "register SQL functions");
}

Project Project::open(const std::string& dir, const OpenOptions& options) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        if (!options.create) throw Error(dir + ": open project: not a folder");
        fs::create_directories(dir, ec);
        if (ec) throw Error(dir + ": create project folder: " + ec.message());
    }
    if (options.create) {
        fs::create_directories(fs::path(dir) / kRunsDir, ec);
        if (ec) throw Error(dir + ": create runs folder: " + ec.message());
    }
    std::string db_path = (fs::path(dir) / kDatabaseFile).string();
    if (!options.create && !fs::exists(db_path, ec)) throw Error(db_path + ": open project: no such file");
    auto impl = std::make_unique<Impl>(Impl{dir, options, Db(db_path, options.create, options.vfs), {}});
    register_sql_functions(impl->db, &impl->fts_batch);
    if (options.migrate) migrate(impl->db);
    return Project(std::move(impl));
}

Project Project::connect() const {
    OpenOptions o = impl_->options;
    o.create = false;
    o.migrate = false;  // this connection's project is already migrated
    auto impl = std::make_unique<Impl>(Impl{impl_->dir, o, Db(database_path(), false, o.vfs), {}});
    register_sql_functions(impl->db, &impl->fts_batch);
    return Project(std::move(impl));
}

const std::string& Project::dir() const { return impl_->dir; }
std::string Project::database_path() const { return (fs::path(impl_->dir) / kDatabaseFile).string(); }
std::string Project::runs_dir() const { return (fs::path(impl_->dir) / kRunsDir).string(); }
int Project::schema_version() { return store::schema_version(impl_->db); }
Db& Project::db() { return impl_->db; }

void Project::backup(const std::string& out_path) {
    Db& db = impl_->db;
    std::string tmp = out_path + ".tmp";
    std::remove(tmp.c_str());
    {
        sqlite3* raw = nullptr;
        int rc = sqlite3_open_v2(tmp.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
        SqlitePtr dest(raw);
        if (rc != SQLITE_OK)
            throw Error(tmp + ": backup: cannot create: " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
        sqlite3_backup* b = sqlite3_backup_init(dest.get(), "main", db.handle(), "main");
        if (!b) throw Error(tmp + ": backup: " + sqlite3_errmsg(dest.get()));
        // Copy in slices so writers on other connections get the lock between steps; a write
        // from another connection restarts the copy, which then converges once writes pause.
        constexpr int kPagesPerStep = 256;
        do {
            rc = sqlite3_backup_step(b, kPagesPerStep);
            if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(5);
        } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
        int frc = sqlite3_backup_finish(b);
        if (rc != SQLITE_DONE || frc != SQLITE_OK) {
            std::string msg = sqlite3_errmsg(dest.get());
            dest.reset();
            std::remove(tmp.c_str());
            throw Error(database_path() + ": backup to " + out_path + ": " + msg);
        }
        // The copy carries the WAL flag of the source; make it one self-contained file.
        char* err = nullptr;
        if (sqlite3_exec(dest.get(), "PRAGMA journal_mode=DELETE", nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : "unknown error";
            sqlite3_free(err);
            throw Error(tmp + ": backup: set journal mode: " + msg);
        }
    }
    std::error_code ec;
    fs::rename(tmp, out_path, ec);
    if (ec) throw Error(out_path + ": backup: rename from " + tmp + ": " + ec.message());
}

std::string Project::integrity_check() {
    Stmt st = impl_->db.prepare("PRAGMA integrity_check", "integrity check");
    std::string out;
    while (st.step()) {
        if (!out.empty()) out += "\n";
        out += st.col_text(0);
    }
    return out;
}

data::Messages record_prompt_messages(const data::Record& r) {
    switch (r.kind) {
        case data::RecordKind::Preference: return r.pref.prompt;
        case data::RecordKind::Prompt: return r.prompt.prompt;
        case data::RecordKind::Sft: {
            data::Messages m = r.sft.messages;
            while (!m.empty() && m.back().role == "assistant") m.pop_back();
            return m;
        }
    }
    return {};
}

}  // namespace rlhf::store
