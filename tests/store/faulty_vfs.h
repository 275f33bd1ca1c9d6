// A SQLite VFS shim for fault injection: wraps the default VFS and, once armed, fails xWrite with
// SQLITE_FULL after a byte budget, as a full disk would. Portable: no root, tmpfs or quotas.
#pragma once
#include <cstdint>

namespace store_test {

constexpr const char* kFaultyVfsName = "rlhf-faulty";

// Registers the shim (idempotent). Open a project with OpenOptions::vfs = kFaultyVfsName.
void faulty_vfs_install();
// From now on, writes through the shim succeed until `bytes` more bytes were written.
void faulty_vfs_arm(int64_t bytes);
void faulty_vfs_disarm();
int64_t faulty_vfs_failed_writes();  // xWrite calls refused since the last arm

}  // namespace store_test
