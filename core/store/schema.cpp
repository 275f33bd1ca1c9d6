// Migrations, oldest first. Never edit a migration that has shipped: add the next one.
//   v1  core entities: annotators, datasets, records, completions, comparisons, labels (append-only,
//       enforced by triggers), runs, metrics, samples, checkpoints
//   v2  full-text search over record text (FTS5, external content) and chat: sessions, messages,
//       feedback
//   v3  records keep their text once: records.text is dropped and the full-text index becomes
//       contentless (the importer hands it the text); comparisons are indexed by prompt
//   v4  full-text index tuned for bulk import: FTS5 automerge 8 and hashsize 32 MiB
#include "core/store/schema.h"

#include <string>

#include "core/io/error.h"
#include "core/store/sqlite.h"

namespace rlhf::store {

namespace {

// ISO-8601 UTC with milliseconds, the one timestamp format of the store.
#define RLHF_NOW "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

void migrate_v1(Db& db) {
    db.exec(
        "CREATE TABLE annotators ("
        "  id INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  created_at TEXT NOT NULL DEFAULT " RLHF_NOW ");"

        // duplicates: records skipped by any import because their content hash was already here.
        "CREATE TABLE datasets ("
        "  id INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  source TEXT NOT NULL DEFAULT '',"
        "  duplicates INTEGER NOT NULL DEFAULT 0,"
        "  created_at TEXT NOT NULL DEFAULT " RLHF_NOW ");"

        // One row per imported record (preference pair, SFT example or prompt). content is the
        // canonical JSON (record_json.h), text its flattened message contents (search, lengths).
        "CREATE TABLE records ("
        "  id INTEGER PRIMARY KEY,"
        "  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,"
        "  kind TEXT NOT NULL CHECK (kind IN ('preference','sft','prompts')),"
        "  content TEXT NOT NULL,"
        "  text TEXT NOT NULL,"
        "  content_hash TEXT NOT NULL,"
        "  format TEXT NOT NULL DEFAULT '',"
        "  source_line INTEGER NOT NULL DEFAULT 0,"
        "  created_at TEXT NOT NULL DEFAULT " RLHF_NOW ","
        "  UNIQUE (dataset_id, content_hash));"
        "CREATE INDEX records_dataset_kind ON records(dataset_id, kind);"

        "CREATE TABLE runs ("
        "  id INTEGER PRIMARY KEY,"
        "  kind TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  config_yaml TEXT NOT NULL DEFAULT '',"
        "  status TEXT NOT NULL DEFAULT 'pending'"
        "    CHECK (status IN ('pending','running','completed','failed','cancelled')),"
        "  error TEXT NOT NULL DEFAULT '',"
        "  parent_run_id INTEGER REFERENCES runs(id),"
        "  base_model TEXT NOT NULL DEFAULT '',"
        "  created_at TEXT NOT NULL DEFAULT " RLHF_NOW ","
        "  updated_at TEXT NOT NULL DEFAULT " RLHF_NOW ");"

        // A completion of a prompt record, by which model/run/checkpoint and how it was sampled.
        "CREATE TABLE completions ("
        "  id INTEGER PRIMARY KEY,"
        "  prompt_id INTEGER NOT NULL REFERENCES records(id),"
        "  text TEXT NOT NULL,"
        "  model TEXT NOT NULL DEFAULT '',"
        "  run_id INTEGER REFERENCES runs(id),"
        "  checkpoint TEXT NOT NULL DEFAULT '',"
        "  sampling TEXT NOT NULL DEFAULT '{}',"
        "  seed INTEGER,"
        "  created_at TEXT NOT NULL DEFAULT " RLHF_NOW ");"

        // a_on_left: 1 if completion A was shown on the left (randomised against position bias).
        "CREATE TABLE comparisons ("
        "  id INTEGER PRIMARY KEY,"
        "  prompt_id INTEGER NOT NULL REFERENCES records(id),"
        "  completion_a INTEGER NOT NULL REFERENCES completions(id),"
        "  completion_b INTEGER NOT NULL REFERENCES completions(id),"
        "  a_on_left INTEGER NOT NULL CHECK (a_on_left IN (0,1)),"
        "  created_at TEXT NOT NULL DEFAULT " RLHF_NOW ","
        "  CHECK (completion_a <> completion_b));"

        // Append-only history. kind 'label' carries a choice; kind 'undo' names the label it
        // withdraws. Nothing is ever updated or deleted (triggers below refuse it).
        "CREATE TABLE labels ("
        "  id INTEGER PRIMARY KEY,"
        "  comparison_id INTEGER NOT NULL REFERENCES comparisons(id),"
        "  annotator_id INTEGER NOT NULL REFERENCES annotators(id),"
        "  kind TEXT NOT NULL CHECK (kind IN ('label','undo')),"
        "  choice TEXT CHECK (choice IN ('A','B','tie','both_bad','skip')),"
        "  rationale TEXT NOT NULL DEFAULT '',"
        "  seconds REAL,"
        "  undoes INTEGER REFERENCES labels(id),"
        "  created_at TEXT NOT NULL DEFAULT " RLHF_NOW ","
        "  CHECK ((kind = 'label' AND choice IS NOT NULL AND undoes IS NULL) OR"
        "         (kind = 'undo' AND choice IS NULL AND undoes IS NOT NULL)));"
        "CREATE INDEX labels_annotator ON labels(annotator_id, comparison_id);"
        "CREATE UNIQUE INDEX labels_undoes ON labels(undoes) WHERE undoes IS NOT NULL;"
        "CREATE TRIGGER labels_no_update BEFORE UPDATE ON labels"
        "  BEGIN SELECT RAISE(ABORT, 'labels are append-only: undo adds a row'); END;"
        "CREATE TRIGGER labels_no_delete BEFORE DELETE ON labels"
        "  BEGIN SELECT RAISE(ABORT, 'labels are append-only: undo adds a row'); END;"

        // One value per (run, name, step): a resumed run that replays a step overwrites it.
        "CREATE TABLE metrics ("
        "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
        "  name TEXT NOT NULL,"
        "  step INTEGER NOT NULL,"
        "  value REAL,"
        "  wall_time REAL NOT NULL,"
        "  PRIMARY KEY (run_id, name, step)) WITHOUT ROWID;"
        "CREATE INDEX metrics_run_step ON metrics(run_id, step);"

        "CREATE TABLE samples ("
        "  id INTEGER PRIMARY KEY,"
        "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
        "  step INTEGER NOT NULL,"
        "  prompt TEXT NOT NULL,"
        "  response TEXT NOT NULL,"
        "  reward REAL,"
        "  extra TEXT NOT NULL DEFAULT '{}');"
        "CREATE INDEX samples_run_step ON samples(run_id, step);"

        "CREATE TABLE checkpoints ("
        "  id INTEGER PRIMARY KEY,"
        "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
        "  step INTEGER NOT NULL,"
        "  path TEXT NOT NULL,"
        "  sha256 TEXT NOT NULL DEFAULT '',"
        "  created_at TEXT NOT NULL DEFAULT " RLHF_NOW ","
        "  UNIQUE (run_id, step));",
        "migration v1 (core tables)");
}

void migrate_v2(Db& db) {
    db.exec(
        // External-content FTS5: the index holds only tokens, the text stays in records.text.
        // New rows are indexed by Project::add_records with one INSERT…SELECT per batch, not by a
        // per-row trigger: FTS5 flushes its pending terms at every statement's savepoint, so a
        // trigger made one index segment per record and cost 5x the whole import.
        "CREATE VIRTUAL TABLE records_fts USING fts5(text, content='records', content_rowid='id');"
        "CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN"
        "  INSERT INTO records_fts(records_fts, rowid, text) VALUES ('delete', old.id, old.text); END;"
        "CREATE TRIGGER records_fts_update AFTER UPDATE OF text ON records BEGIN"
        "  INSERT INTO records_fts(records_fts, rowid, text) VALUES ('delete', old.id, old.text);"
        "  INSERT INTO records_fts(rowid, text) VALUES (new.id, new.text); END;"
        // Index what v1 databases already hold.
        "INSERT INTO records_fts(records_fts) VALUES ('rebuild');"

        "CREATE TABLE chat_sessions ("
        "  id INTEGER PRIMARY KEY,"
        "  title TEXT NOT NULL DEFAULT '',"
        "  model TEXT NOT NULL DEFAULT '',"
        "  created_at TEXT NOT NULL DEFAULT " RLHF_NOW ");"
        // Messages form a tree: alternatives (A|B replies) share a parent.
        "CREATE TABLE chat_messages ("
        "  id INTEGER PRIMARY KEY,"
        "  session_id INTEGER NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,"
        "  parent_id INTEGER REFERENCES chat_messages(id),"
        "  role TEXT NOT NULL,"
        "  content TEXT NOT NULL,"
        "  model TEXT NOT NULL DEFAULT '',"
        "  created_at TEXT NOT NULL DEFAULT " RLHF_NOW ");"
        "CREATE INDEX chat_messages_session ON chat_messages(session_id, id);"
        // A preference between two replies (rejected set) or a thumbs rating of one (+1 / -1).
        "CREATE TABLE feedback ("
        "  id INTEGER PRIMARY KEY,"
        "  message_id INTEGER NOT NULL REFERENCES chat_messages(id) ON DELETE CASCADE,"
        "  rejected_message_id INTEGER REFERENCES chat_messages(id) ON DELETE CASCADE,"
        "  rating INTEGER CHECK (rating IN (-1, 1)),"
        "  comment TEXT NOT NULL DEFAULT '',"
        "  annotator_id INTEGER REFERENCES annotators(id),"
        "  created_at TEXT NOT NULL DEFAULT " RLHF_NOW ");",
        "migration v2 (full-text search, chat)");
}

// Import speed (issue 4): v2 kept every record's message text twice, as JSON in records.content
// and flattened in records.text for the external-content FTS5 index. A 2 KB row then filled a 4 KB
// page alone (SQLite packs whole rows), so the table was ~3x the source file and the writer spent
// most of an import writing pages. Now the text lives only inside content: the FTS5 table is
// contentless (content='': tokens only) and Project::add_prepared feeds it the text it already
// holds in memory. Deleting or rewriting a record must hand FTS5 the old text; the triggers get it
// from rlhf_record_text(kind, content), an SQL function every Project connection registers
// (project.cpp), so a connection without it (the sqlite3 shell) fails loudly instead of corrupting
// the index. Search results do not change: same text, same unicode61 tokenizer.
void migrate_v3(Db& db) {
    db.exec(
        "DROP TRIGGER IF EXISTS records_fts_delete;"
        "DROP TRIGGER IF EXISTS records_fts_update;"
        "CREATE VIRTUAL TABLE records_fts_v3 USING fts5(text, content='');"
        "INSERT INTO records_fts_v3(rowid, text) SELECT id, text FROM records;"
        "DROP TABLE records_fts;"
        "ALTER TABLE records_fts_v3 RENAME TO records_fts;"
        "ALTER TABLE records DROP COLUMN text;"
        "CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN"
        "  INSERT INTO records_fts(records_fts, rowid, text)"
        "  VALUES ('delete', old.id, rlhf_record_text(old.kind, old.content)); END;"
        "CREATE TRIGGER records_fts_update AFTER UPDATE OF kind, content ON records BEGIN"
        "  INSERT INTO records_fts(records_fts, rowid, text)"
        "  VALUES ('delete', old.id, rlhf_record_text(old.kind, old.content));"
        "  INSERT INTO records_fts(rowid, text) VALUES (new.id, rlhf_record_text(new.kind, new.content)); END;"
        // Rows of the Dataset panel say whether a record already has a comparison to label.
        "CREATE INDEX IF NOT EXISTS comparisons_prompt ON comparisons(prompt_id);"
        // Pages of a dataset in id order: (dataset_id, rowid) lets `dataset_id = ? AND id > ?
        // ORDER BY id LIMIT n` (keyset paging) seek to its first row. The v1 index on
        // (dataset_id, kind) made SQLite read and sort the whole dataset for every page; a kind
        // filter now reads the dataset's rows in order and tests kind (a dataset is one file,
        // nearly always of one kind).
        "DROP INDEX IF EXISTS records_dataset_kind;"
        "CREATE INDEX records_dataset ON records(dataset_id);",
        "migration v3 (text stored once, contentless full-text index)");
}

// Import speed (issue 4): indexing was the largest part of an import's writer thread, and much of it
// was FTS5 merging its segments. Each indexing statement flushes at least one segment (the import
// indexes kImportIndexRecords rows per statement); FTS5 also flushes whenever its pending terms
// exceed 'hashsize' (default 1 MiB, about 4k HH-RLHF records), so a 32 MiB hashsize keeps one
// segment per statement. 'automerge' (default 4) is how many segments of one level wait before they
// are merged into one of the next: 8 rewrites the index about half as many times during a big
// import, at the price of up to 7 segments per level for a query to read (a few more b-tree seeks
// per search term; searches stay in milliseconds). Both are FTS5 settings stored in the table's
// own config, so every connection uses them. Tokens and search results do not change.
void migrate_v4(Db& db) {
    db.exec(
        "INSERT INTO records_fts(records_fts, rank) VALUES ('automerge', 8);"
        "INSERT INTO records_fts(records_fts, rank) VALUES ('hashsize', 33554432);",
        "migration v4 (full-text index settings)");
}

#undef RLHF_NOW

struct Migration {
    int version;
    void (*apply)(Db&);
};

constexpr Migration kMigrations[] = {
    {1, migrate_v1},
    {2, migrate_v2},
    {3, migrate_v3},
    {4, migrate_v4},
};

}  // namespace

int latest_schema_version() { return kMigrations[std::size(kMigrations) - 1].version; }

int schema_version(Db& db) {
    Stmt st = db.prepare("PRAGMA user_version", "read schema version");
    st.step();
    return static_cast<int>(st.col_int(0));
}

void migrate(Db& db, int target) {
    if (target < 0) target = latest_schema_version();
    int current = schema_version(db);
    if (current > latest_schema_version())
        throw Error(db.path() + ": schema version " + std::to_string(current) +
                    " is newer than this build supports (" + std::to_string(latest_schema_version()) +
                    "); upgrade RLHF Workbench");
    for (const Migration& m : kMigrations) {
        if (m.version <= current || m.version > target) continue;
        Transaction tx(db, "schema migration");
        // Another connection may have migrated while we waited for the write lock.
        if (schema_version(db) >= m.version) continue;
        m.apply(db);
        db.exec(("PRAGMA user_version = " + std::to_string(m.version)).c_str(), "schema migration");
        tx.commit();
    }
}

}  // namespace rlhf::store
