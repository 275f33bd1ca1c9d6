#include "store/faulty_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstring>

namespace store_test {

namespace {

// The shim's file: our sqlite3_file header, followed in the same allocation by the real file.
struct FaultyFile {
    sqlite3_file base;
    sqlite3_file* real;
};

sqlite3_vfs* g_default = nullptr;
sqlite3_vfs g_vfs;
sqlite3_io_methods g_methods;
std::atomic<bool> g_armed{false};
std::atomic<int64_t> g_budget{0};
std::atomic<int64_t> g_failed{0};

sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<FaultyFile*>(f)->real; }

int x_close(sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); }
int x_read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) { return real(f)->pMethods->xRead(real(f), p, n, off); }
int x_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
    if (g_armed.load()) {
        if (g_budget.fetch_sub(n) - n < 0) {
            g_budget.fetch_add(n);
            g_failed.fetch_add(1);
            return SQLITE_FULL;
        }
    }
    return real(f)->pMethods->xWrite(real(f), p, n, off);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) { return real(f)->pMethods->xTruncate(real(f), size); }
int x_sync(sqlite3_file* f, int flags) { return real(f)->pMethods->xSync(real(f), flags); }
int x_file_size(sqlite3_file* f, sqlite3_int64* size) { return real(f)->pMethods->xFileSize(real(f), size); }
int x_lock(sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); }
int x_unlock(sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); }
int x_check_reserved(sqlite3_file* f, int* out) { return real(f)->pMethods->xCheckReservedLock(real(f), out); }
int x_file_control(sqlite3_file* f, int op, void* arg) { return real(f)->pMethods->xFileControl(real(f), op, arg); }
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device_characteristics(sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }
int x_shm_map(sqlite3_file* f, int pg, int sz, int extend, void volatile** pp) {
    return real(f)->pMethods->xShmMap(real(f), pg, sz, extend, pp);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
    return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); }
// No memory-mapped reads: every page goes through xRead/xWrite, which the shim controls.
int x_fetch(sqlite3_file*, sqlite3_int64, int, void** pp) {
    *pp = nullptr;
    return SQLITE_OK;
}
int x_unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

int x_open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
    FaultyFile* ff = reinterpret_cast<FaultyFile*>(f);
    ff->real = reinterpret_cast<sqlite3_file*>(ff + 1);
    int rc = g_default->xOpen(g_default, name, ff->real, flags, out_flags);
    // SQLite calls xClose only when pMethods is set: leave it null when the real open failed.
    ff->base.pMethods = (rc == SQLITE_OK && ff->real->pMethods) ? &g_methods : nullptr;
    return rc;
}
int x_delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_default->xDelete(g_default, name, sync_dir); }
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
    return g_default->xAccess(g_default, name, flags, out);
}
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
    return g_default->xFullPathname(g_default, name, n, out);
}
void* x_dl_open(sqlite3_vfs*, const char* path) { return g_default->xDlOpen(g_default, path); }
void x_dl_error(sqlite3_vfs*, int n, char* msg) { g_default->xDlError(g_default, n, msg); }
void (*x_dl_sym(sqlite3_vfs*, void* h, const char* sym))(void) { return g_default->xDlSym(g_default, h, sym); }
void x_dl_close(sqlite3_vfs*, void* h) { g_default->xDlClose(g_default, h); }
int x_randomness(sqlite3_vfs*, int n, char* out) { return g_default->xRandomness(g_default, n, out); }
int x_sleep(sqlite3_vfs*, int us) { return g_default->xSleep(g_default, us); }
int x_current_time(sqlite3_vfs*, double* t) { return g_default->xCurrentTime(g_default, t); }
int x_get_last_error(sqlite3_vfs*, int n, char* out) { return g_default->xGetLastError(g_default, n, out); }
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* t) { return g_default->xCurrentTimeInt64(g_default, t); }

}  // namespace

void faulty_vfs_install() {
    if (g_default) return;
    g_default = sqlite3_vfs_find(nullptr);
    g_methods = sqlite3_io_methods{3,           x_close,        x_read,         x_write,          x_truncate,
                                   x_sync,      x_file_size,    x_lock,         x_unlock,         x_check_reserved,
                                   x_file_control, x_sector_size, x_device_characteristics, x_shm_map, x_shm_lock,
                                   x_shm_barrier, x_shm_unmap,  x_fetch,        x_unfetch};
    std::memset(&g_vfs, 0, sizeof g_vfs);
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(FaultyFile)) + g_default->szOsFile;
    g_vfs.mxPathname = g_default->mxPathname;
    g_vfs.zName = kFaultyVfsName;
    g_vfs.xOpen = x_open;
    g_vfs.xDelete = x_delete;
    g_vfs.xAccess = x_access;
    g_vfs.xFullPathname = x_full_pathname;
    g_vfs.xDlOpen = x_dl_open;
    g_vfs.xDlError = x_dl_error;
    g_vfs.xDlSym = x_dl_sym;
    g_vfs.xDlClose = x_dl_close;
    g_vfs.xRandomness = x_randomness;
    g_vfs.xSleep = x_sleep;
    g_vfs.xCurrentTime = x_current_time;
    g_vfs.xGetLastError = x_get_last_error;
    g_vfs.xCurrentTimeInt64 = x_current_time_int64;
    sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0);
}

void faulty_vfs_arm(int64_t bytes) {
    g_failed = 0;
    g_budget = bytes;
    g_armed = true;
}

void faulty_vfs_disarm() { g_armed = false; }
int64_t faulty_vfs_failed_writes() { return g_failed.load(); }

}  // namespace store_test
