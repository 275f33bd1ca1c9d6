// Thin RAII layer over the SQLite C API, used only inside core/store: a connection (`Db`), prepared
// statements (`Stmt`) with a per-connection cache, and `BEGIN IMMEDIATE` transactions. Every
// failure becomes an rlhf::Error naming the database path and the operation that failed.
//
// One `Db` is one connection and belongs to one thread at a time (SQLite's default "serialized"
// mode would make sharing safe, but a shared connection also shares transactions, which is never
// what two threads want).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace rlhf::store {

struct SqliteCloser {
    void operator()(sqlite3* db) const;
};
struct StmtFinalizer {
    void operator()(sqlite3_stmt* s) const;
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteCloser>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

class Db;

// A prepared statement in use. Obtained from Db::prepare (owned) or Db::cached (borrowed from the
// cache, reset and unbound when this handle goes away so the next user starts clean).
class Stmt {
public:
    Stmt(Db& db, sqlite3_stmt* s, StmtPtr owned);
    Stmt(Stmt&& o) noexcept;
    Stmt& operator=(Stmt&&) = delete;
    Stmt(const Stmt&) = delete;
    ~Stmt();

    // Bind by 1-based index; return *this so calls chain: st.bind(1, x).bind(2, y).
    Stmt& bind(int i, int64_t v);
    Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
    Stmt& bind(int i, double v);
    Stmt& bind(int i, std::string_view v);         // copied by SQLite (SQLITE_TRANSIENT)
    Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    // No copy: `v` must stay alive and unchanged until the statement is reset (bulk inserts).
    Stmt& bind_static(int i, const std::string& v);
    Stmt& bind_null(int i);
    Stmt& bind(int i, const std::optional<int64_t>& v) { return v ? bind(i, *v) : bind_null(i); }
    Stmt& bind(int i, const std::optional<double>& v) { return v ? bind(i, *v) : bind_null(i); }

    bool step();   // true: a row is ready; false: done. Throws on error.
    void run();    // step() to completion for statements without rows
    void reset();  // ready to step again with the same bindings

    int64_t col_int(int i) const;
    double col_double(int i) const;
    std::string col_text(int i) const;  // NULL -> ""
    bool col_null(int i) const;
    std::optional<int64_t> col_opt_int(int i) const;
    std::optional<double> col_opt_double(int i) const;

private:
    Db* db_;
    sqlite3_stmt* s_;
    StmtPtr owned_;  // null when borrowed from the cache
};

// One connection. Opens with the pragmas the store relies on (WAL, foreign keys, busy timeout).
class Db {
public:
    // `vfs` = nullptr for the default VFS (tests pass a fault-injecting one).
    Db(const std::string& path, bool create, const char* vfs = nullptr);
    Db(Db&&) noexcept;
    Db& operator=(Db&&) noexcept;
    ~Db();

    sqlite3* handle() const { return db_.get(); }
    const std::string& path() const { return path_; }

    void exec(const char* sql, const char* operation);          // one or more statements, no rows
    Stmt prepare(std::string_view sql, const char* operation);  // owned, finalized with the Stmt
    Stmt cached(const char* sql, const char* operation);        // from the statement cache
    int64_t last_insert_id() const;
    int changes() const;

    // rlhf::Error("<path>: <operation>: <sqlite message> (<code name>)") for the last error.
    [[noreturn]] void fail(int rc, const char* operation) const;
    // The operation a Stmt currently serves (for its error messages).
    const char* current_operation() const { return operation_; }
    void set_operation(const char* op) { operation_ = op; }

private:
    std::string path_;
    SqlitePtr db_;
    std::unordered_map<std::string, StmtPtr> cache_;
    const char* operation_ = "";
};

// BEGIN IMMEDIATE ... COMMIT; rolls back in the destructor unless committed. IMMEDIATE takes the
// write lock up front, so two writers wait on busy_timeout instead of deadlocking on upgrade.
class Transaction {
public:
    Transaction(Db& db, const char* operation);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    Db& db_;
    const char* operation_;
    bool done_ = false;
};

}  // namespace rlhf::store
