// The project database schema (DESIGN.md §4) as an ordered list of migrations. The version a
// database is at lives in PRAGMA user_version; opening a project runs the missing migrations, each
// in its own transaction, so a crash mid-upgrade leaves the previous version intact.
#pragma once

namespace rlhf::store {

class Db;

// The version a freshly created project gets.
int latest_schema_version();

// Current PRAGMA user_version of the database (0 = empty).
int schema_version(Db& db);

// Applies migrations (current, target]. target < 0 means the latest. Throws rlhf::Error naming
// the migration when one fails, or when the database is newer than this build knows.
void migrate(Db& db, int target = -1);

}  // namespace rlhf::store
