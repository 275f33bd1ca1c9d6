// Project: opening, connections, backup and integrity checks. The entity reads/writes are split by
// concern: project_records.cpp, project_labels.cpp, project_runs.cpp, project_chat.cpp.
#include "core/store/project.h"

#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "core/io/error.h"
#include "core/store/project_impl.h"
#include "core/store/schema.h"

namespace rlhf::store {

namespace fs = std::filesystem;

Project::Project(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Project::Project(Project&&) noexcept = default;
Project& Project::operator=(Project&&) noexcept = default;
Project::~Project() = default;

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
    auto impl = std::make_unique<Impl>(Impl{dir, options, Db(db_path, options.create, options.vfs)});
    if (options.migrate) migrate(impl->db);
    return Project(std::move(impl));
}

Project Project::connect() const {
    OpenOptions o = impl_->options;
    o.create = false;
    o.migrate = false;  // this connection's project is already migrated
    auto impl = std::make_unique<Impl>(Impl{impl_->dir, o, Db(database_path(), false, o.vfs)});
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
