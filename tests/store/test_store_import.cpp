// core/store bulk import (Project::add_prepared_stream) and schema v4: rows indexed in groups of
// kImportIndexRecords are all searchable when the call returns; the WAL helper has copied the
// whole WAL by then and the connection's automatic checkpoint is back; a stream that fails keeps
// exactly its committed transactions; a v3 project migrates to the v4 full-text settings and finds
// what it found.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/io/error.h"
#include "core/store/project.h"
#include "core/store/record_json.h"
#include "core/store/schema.h"
#include "core/store/sqlite.h"
#include "store/store_test_util.h"

using namespace rlhf;
using namespace rlhf::store;
using store_test::project_dir;
using store_test::prompt_record;

namespace {

int64_t search_count(Project& p, int64_t ds, const std::string& words) {
    RowQuery q;
    q.dataset_id = ds;
    q.search = words;
    return p.rows(q).total;
}

int64_t pragma_int(Db& db, const char* sql) {
    Stmt st = db.prepare(sql, "test");
    st.step();
    return st.col_int(0);
}

// Record i: "row i tagI" (tagI one token for unicode61: letters and digits only).
std::vector<PreparedRecord> batch_of(int first, int n) {
    std::vector<PreparedRecord> out;
    for (int i = first; i < first + n; ++i)
        out.push_back(
            prepare_record(prompt_record("row " + std::to_string(i) + " tag" + std::to_string(i))));
    return out;
}

// A next_batch for add_prepared_stream: `batches` batches of `per_batch` records, in order;
// throws std::runtime_error instead of yielding batch number `fail_at` (0 = never).
std::function<bool(std::vector<PreparedRecord>&)> stream_of(int batches, int per_batch,
                                                            int fail_at = 0) {
    auto next = std::make_shared<int>(0);
    return [=](std::vector<PreparedRecord>& out) {
        if (*next >= batches) return false;
        if (fail_at > 0 && *next + 1 == fail_at) throw std::runtime_error("reader failed");
        out = batch_of(*next * per_batch, per_batch);
        ++*next;
        return true;
    };
}

}  // namespace

class StoreImportTest : public QObject {
    Q_OBJECT
  private Q_SLOTS:
    // 10 batches of 4096 = 40960 rows, commits every 8192 rows: the rows are indexed by three
    // statements of 16384 rows and a last one of 8192 (kImportIndexRecords = 16384), all inside
    // committed transactions. Every row is found by its own tag, the shared word finds all of them.
    void streamIndexesEveryRow() {
        QCOMPARE(kImportIndexRecords, size_t(16384));
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        int64_t ds = p.dataset("bulk");
        ImportCounts c = p.add_prepared_stream(ds, stream_of(10, 4096), /*commit_records=*/8192,
                                               /*commit_seconds=*/60);
        QCOMPARE(c.inserted, uint64_t(40960));
        QCOMPARE(c.duplicates, uint64_t(0));
        QCOMPARE(search_count(p, ds, "row"), int64_t(40960));
        for (int i : {0, 4095, 4096, 16383, 16384, 32767, 32768, 40959})
            QCOMPARE(search_count(p, ds, "tag" + std::to_string(i)), int64_t(1));
        QCOMPARE(search_count(p, ds, "tag40960"), int64_t(0));
        // Prefix: tag4095 and tag40950 .. tag40959 = 11 rows.
        QCOMPARE(search_count(p, ds, "tag4095*"), int64_t(11));
        p.db().exec("INSERT INTO records_fts(records_fts) VALUES ('integrity-check')", "test");
        QCOMPARE(p.integrity_check(), std::string("ok"));

        // The helper copied the whole WAL into the database file before the call returned (its last
        // pass follows the last commit; no reader holds an old snapshot here): a checkpoint that
        // copies every frame sets the file to page_count pages. Without the helper nothing would
        // have been copied (its WAL hook replaces the automatic checkpoint), and the file would
        // hold only the schema. The automatic checkpoint is back afterwards.
        int64_t db_bytes = static_cast<int64_t>(std::filesystem::file_size(p.database_path()));
        int64_t pages = pragma_int(p.db(), "PRAGMA page_count");
        QCOMPARE(db_bytes, pages * pragma_int(p.db(), "PRAGMA page_size"));
        QVERIFY2(db_bytes > (int64_t(2) << 20), qPrintable(QString::number(db_bytes)));
        {
            Stmt ck = p.db().prepare("PRAGMA wal_checkpoint(PASSIVE)", "test");
            QVERIFY(ck.step());
            QCOMPARE(ck.col_int(0), int64_t(0));     // not busy
            QVERIFY(ck.col_int(1) > 0);              // frames in the WAL
            QCOMPARE(ck.col_int(2), ck.col_int(1));  // all of them already in the database
        }
        QCOMPARE(pragma_int(p.db(), "PRAGMA wal_autocheckpoint"), int64_t(1000));

        // Importing the same stream again adds nothing and finds each row once.
        ImportCounts again = p.add_prepared_stream(ds, stream_of(10, 4096), 8192, 60);
        QCOMPARE(again.inserted, uint64_t(0));
        QCOMPARE(again.duplicates, uint64_t(40960));
        QCOMPARE(search_count(p, ds, "tag16384"), int64_t(1));
        QCOMPARE(p.find_dataset("bulk")->duplicates, int64_t(40960));
    }

    // Commits every 8192 rows (two batches of 4096); the reader fails instead of yielding batch 4:
    // batches 1-2 were committed, batch 3 was inserted but not committed and is rolled back, so
    // 8192 rows stay, all searchable; the connection keeps working (its batch of unindexed texts
    // was dropped) and has its automatic checkpoint back.
    void failedStreamKeepsCommittedTransactions() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        int64_t ds = p.dataset("bulk");
        try {
            p.add_prepared_stream(ds, stream_of(10, 4096, /*fail_at=*/4), 8192, 60);
            QFAIL("expected the reader's exception");
        } catch (const std::runtime_error& e) {
            QCOMPARE(std::string(e.what()), std::string("reader failed"));
        }
        QCOMPARE(p.find_dataset("bulk")->records, int64_t(8192));
        QCOMPARE(search_count(p, ds, "row"), int64_t(8192));
        QCOMPARE(search_count(p, ds, "tag8191"), int64_t(1));
        QCOMPARE(search_count(p, ds, "tag8192"), int64_t(0));
        QCOMPARE(pragma_int(p.db(), "PRAGMA wal_autocheckpoint"), int64_t(1000));
        QCOMPARE(p.add_records(ds, {prompt_record("afterwards zebra")}).inserted, uint64_t(1));
        QCOMPARE(search_count(p, ds, "zebra"), int64_t(1));
        p.db().exec("INSERT INTO records_fts(records_fts) VALUES ('integrity-check')", "test");
        QCOMPARE(p.integrity_check(), std::string("ok"));
    }

    // A v3 project (created by the v1-v3 migrations, rows added the v3 way): opening it applies v4,
    // which sets FTS5 automerge 8 and hashsize 32 MiB in the index's config table; every search
    // finds what it found before, and new rows are indexed under the new settings.
    void migratesVersion3Database() {
        QTemporaryDir tmp;
        std::string dir = project_dir(tmp);
        const std::vector<std::pair<std::string, int64_t>> searches = {
            {"zebra", 2}, {"ZEBRA night", 1}, {"don't", 1}, {"tokeni*", 1}, {"absent", 0}};
        int64_t ds = 0;
        {
            OpenOptions o;
            o.migrate = false;
            Project p = Project::open(dir, o);
            migrate(p.db(), 3);
            QCOMPARE(p.schema_version(), 3);
            ds = p.dataset("old");
            p.add_records(
                ds, {prompt_record("zebra crossing at night"), prompt_record("zebra stripes"),
                     prompt_record("Don't panic"), prompt_record("tokenization splits text")});
            for (const auto& [words, n] : searches) QCOMPARE(search_count(p, ds, words), n);
            // v3 left FTS5's defaults: no automerge or hashsize row in the config table.
            QCOMPARE(
                pragma_int(
                    p.db(),
                    "SELECT count(*) FROM records_fts_config WHERE k IN ('automerge','hashsize')"),
                int64_t(0));
        }
        Project p = Project::open(dir);
        QCOMPARE(p.schema_version(), 4);
        QCOMPARE(latest_schema_version(), 4);
        QCOMPARE(pragma_int(p.db(), "SELECT v FROM records_fts_config WHERE k = 'automerge'"),
                 int64_t(8));
        QCOMPARE(pragma_int(p.db(), "SELECT v FROM records_fts_config WHERE k = 'hashsize'"),
                 int64_t(32) << 20);
        for (const auto& [words, n] : searches) QCOMPARE(search_count(p, ds, words), n);
        p.add_records(ds, {prompt_record("zebra finch")});
        QCOMPARE(search_count(p, ds, "zebra"), int64_t(3));
        p.db().exec("INSERT INTO records_fts(records_fts) VALUES ('integrity-check')", "test");
        QCOMPARE(p.integrity_check(), std::string("ok"));
    }
};

QTEST_APPLESS_MAIN(StoreImportTest)
#include "test_store_import.moc"
