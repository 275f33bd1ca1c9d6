// Internal to core/store: checkpoints the WAL on a helper thread while a bulk import writes.
//
// Why (issue 4, import speed): with SQLite's automatic checkpoint, the connection that commits
// copies the WAL into the database file itself, right after COMMIT. For a bulk import that is every
// page of the import read back and written again on the writer's thread, about a fifth of its time.
// The writer's thread is the import's bottleneck (the reader thread parses in parallel), so the
// copy is moved to a third thread with its own connection: the writer turns its automatic
// checkpoint off and asks for a PASSIVE checkpoint after each commit; PASSIVE never waits for (or
// blocks) the writer or readers, it copies what it can. Once the helper has copied the whole WAL,
// the writer's next transaction starts the WAL over. A pass runs while the writer goes on
// appending, so that moment rarely comes by itself: once the WAL holds more than kMaxWalBytes, the
// writer waits after its commit for the helper's pass, and its next transaction starts the WAL
// over. The WAL file then stays bounded (about kMaxWalBytes plus one transaction) and the writer
// waits for one pass in several, instead of copying after every commit. Durability is unchanged:
// committed data is in the WAL either way; a checkpoint that fails (disk full) leaves it there, and
// the next automatic checkpoint tries again.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "core/store/sqlite.h"

struct sqlite3;

namespace rlhf::store {

class WalCheckpointer {
  public:
    // WAL size at which the writer waits for a checkpoint pass after its commit.
    static constexpr int64_t kMaxWalBytes = int64_t(256) << 20;

    // Turns off `writer`'s automatic checkpoint and starts the helper thread, which opens its own
    // connection to `db_path` through `vfs` (nullptr = default).
    WalCheckpointer(Db& writer, std::string db_path, const char* vfs);
    // Runs the last requested checkpoint, stops the helper, and gives `writer` back SQLite's
    // default automatic checkpoint (1000 pages).
    ~WalCheckpointer();
    WalCheckpointer(const WalCheckpointer&) = delete;
    WalCheckpointer& operator=(const WalCheckpointer&) = delete;

    // After a commit: the helper copies the WAL into the database soon (requests coalesce); when
    // the WAL is over kMaxWalBytes, returns only once a pass that began after this call is done.
    void after_commit();
    // Completed checkpoint passes (tests: the helper really ran).
    int passes() const;

  private:
    void run();
    static int on_wal_commit(void* self, sqlite3* db, const char* schema, int frames);

    Db& writer_;
    std::string db_path_;
    const char* vfs_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    int64_t page_size_ = 4096;  // the database's page size (PRAGMA page_size)
    int64_t wal_frames_ = 0;    // frames in the WAL after the writer's last commit (its WAL hook)
    bool requested_ = false;    // a pass is asked for and has not started
    bool running_ = false;      // a pass is running
    bool finished_ = false;     // the helper has stopped (nothing more to wait for)
    bool stop_ = false;
    int passes_ = 0;
    std::thread thread_;
};

}  // namespace rlhf::store
