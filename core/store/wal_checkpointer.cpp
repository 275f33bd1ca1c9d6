#include "core/store/wal_checkpointer.h"

#include <sqlite3.h>

#include <memory>
#include <utility>

namespace rlhf::store {

namespace {
// SQLite's default wal_autocheckpoint, in pages: what the writer gets back after the import.
constexpr int kDefaultAutoCheckpointPages = 1000;
// A WAL frame is one page plus a 24-byte frame header.
constexpr int64_t kWalFrameHeaderBytes = 24;
}  // namespace

WalCheckpointer::WalCheckpointer(Db& writer, std::string db_path, const char* vfs)
    : writer_(writer), db_path_(std::move(db_path)), vfs_(vfs) {
    {
        Stmt st = writer_.prepare("PRAGMA page_size", "import records");
        if (st.step()) page_size_ = st.col_int(0);
    }
    // The hook replaces the automatic checkpoint (which is itself a WAL hook) and reports the WAL's
    // length after each commit.
    sqlite3_wal_hook(writer_.handle(), &WalCheckpointer::on_wal_commit, this);
    thread_ = std::thread([this] { run(); });
}

WalCheckpointer::~WalCheckpointer() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    sqlite3_wal_hook(writer_.handle(), nullptr, nullptr);
    sqlite3_wal_autocheckpoint(writer_.handle(), kDefaultAutoCheckpointPages);
}

int WalCheckpointer::on_wal_commit(void* self, sqlite3*, const char*, int frames) {
    auto* c = static_cast<WalCheckpointer*>(self);
    std::lock_guard<std::mutex> lock(c->mu_);
    c->wal_frames_ = frames;
    return SQLITE_OK;
}

void WalCheckpointer::after_commit() {
    std::unique_lock<std::mutex> lock(mu_);
    requested_ = true;
    cv_.notify_all();
    if (wal_frames_ * (page_size_ + kWalFrameHeaderBytes) <= kMaxWalBytes) return;
    // Wait for a pass that starts after this commit (one running now may have begun before it).
    int target = passes_ + (running_ ? 2 : 1);
    cv_.wait(lock, [&] { return passes_ >= target || finished_; });
}

int WalCheckpointer::passes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return passes_;
}

void WalCheckpointer::run() {
    // No connection, no checkpoints: the writer's data is safe in the WAL, and SQLite's automatic
    // checkpoint resumes when this object goes away. So every failure here is only skipped work.
    std::unique_ptr<Db> db;
    try {
        db = std::make_unique<Db>(db_path_, /*create=*/false, vfs_);
    } catch (...) {
    }
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        cv_.wait(lock, [&] { return requested_ || stop_; });
        if (!requested_) break;  // stopping, nothing asked since the last pass
        requested_ = false;
        running_ = true;
        lock.unlock();
        if (db)
            sqlite3_wal_checkpoint_v2(db->handle(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                      nullptr);
        lock.lock();
        running_ = false;
        ++passes_;
        cv_.notify_all();
    }
    finished_ = true;
    cv_.notify_all();
    lock.unlock();
    db.reset();  // closes the helper's connection on its own thread
}

}  // namespace rlhf::store
