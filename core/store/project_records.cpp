// Datasets and their records: idempotent batched import, paged rows with full-text search,
// per-dataset statistics.
#include <algorithm>
#include <chrono>
#include <optional>
#include <sstream>

#include "core/io/error.h"
#include "core/store/project.h"
#include "core/store/project_impl.h"
#include "core/store/record_json.h"
#include "core/store/wal_checkpointer.h"

namespace rlhf::store {

namespace {

// Words the user typed -> an FTS5 query where each word is a quoted phrase (so punctuation such
// as "don't" or "c++" is literal, never FTS syntax) and a trailing * keeps prefix matching.
std::string fts_query(const std::string& search) {
    std::istringstream in(search);
    std::string word, out;
    while (in >> word) {
        bool prefix = word.size() > 1 && word.back() == '*';
        if (prefix) word.pop_back();
        std::string quoted = "\"";
        for (char c : word) {
            if (c == '"') quoted += '"';
            quoted += c;
        }
        quoted += '"';
        if (prefix) quoted += '*';
        if (!out.empty()) out += ' ';
        out += quoted;
    }
    return out;
}

StoredRecord stored_from_row(Stmt& st, const std::string& db_path) {
    // columns: id, dataset_id, kind, content, content_hash, format, source_line
    StoredRecord s;
    s.id = st.col_int(0);
    s.dataset_id = st.col_int(1);
    std::string where = db_path + ": record " + std::to_string(s.id);
    data::RecordKind kind = kind_from_name(st.col_text(2), where);
    nlohmann::json content = nlohmann::json::parse(st.col_text(3), nullptr, /*allow_exceptions=*/false);
    if (content.is_discarded()) throw Error(where + ": stored content is not valid JSON");
    s.record = record_from_content_json(kind, content, where);
    s.content_hash = st.col_text(4);
    s.record.format = st.col_text(5);
    s.record.line = static_cast<uint64_t>(st.col_int(6));
    return s;
}

using FtsBatch = std::vector<std::pair<int64_t, const std::string*>>;

// Inserts one batch inside the caller's transaction (add_prepared, add_prepared_stream) and appends
// each new row's (id, text) to `fts_batch`; the rows are searchable once index_rows ran.
ImportCounts insert_rows(Db& db, FtsBatch& fts_batch, int64_t dataset_id, const std::vector<PreparedRecord>& records);
// Indexes the rows `fts_batch` names (inside the same transaction) and empties it.
void index_rows(Db& db, FtsBatch& fts_batch, int64_t dataset_id);

// Empties the connection's fts_batch when a write fails: its pointers name a batch about to go.
struct FtsBatchGuard {
    FtsBatch& batch;
    ~FtsBatchGuard() { batch.clear(); }
};

constexpr const char* kRecordColumns = "r.id, r.dataset_id, r.kind, r.content, r.content_hash, r.format, r.source_line";

}  // namespace

int64_t Project::dataset(const std::string& name, const std::string& source) {
    Db& db = impl_->db;
    if (name.empty()) throw Error(database_path() + ": create dataset: the name is empty");
    if (auto d = find_dataset(name)) return d->id;
    Transaction tx(db, "create dataset");
    db.cached("INSERT INTO datasets(name, source) VALUES (?, ?) ON CONFLICT(name) DO NOTHING", "create dataset")
        .bind(1, name)
        .bind(2, source)
        .run();
    tx.commit();
    auto d = find_dataset(name);
    if (!d) throw Error(database_path() + ": create dataset '" + name + "': row missing after insert");
    return d->id;
}

std::optional<Dataset> Project::find_dataset(const std::string& name) {
    Stmt st = impl_->db.cached(
        "SELECT d.id, d.name, d.source, d.duplicates, d.created_at,"
        " (SELECT count(*) FROM records r WHERE r.dataset_id = d.id) FROM datasets d WHERE d.name = ?",
        "find dataset");
    st.bind(1, name);
    if (!st.step()) return std::nullopt;
    return Dataset{st.col_int(0), st.col_text(1), st.col_text(2), st.col_int(5), st.col_int(3), st.col_text(4)};
}

std::vector<Dataset> Project::datasets() {
    Stmt st = impl_->db.cached(
        "SELECT d.id, d.name, d.source, d.duplicates, d.created_at,"
        " (SELECT count(*) FROM records r WHERE r.dataset_id = d.id) FROM datasets d ORDER BY d.name",
        "list datasets");
    std::vector<Dataset> out;
    while (st.step())
        out.push_back({st.col_int(0), st.col_text(1), st.col_text(2), st.col_int(5), st.col_int(3), st.col_text(4)});
    return out;
}

ImportCounts Project::add_records(int64_t dataset_id, const std::vector<data::Record>& records) {
    std::vector<PreparedRecord> prepared;
    prepared.reserve(records.size());
    for (const data::Record& r : records) prepared.push_back(prepare_record(r));
    return add_prepared(dataset_id, prepared);
}

ImportCounts Project::add_prepared(int64_t dataset_id, const std::vector<PreparedRecord>& records) {
    FtsBatchGuard guard{impl_->fts_batch};
    Transaction tx(impl_->db, "import records");
    ImportCounts counts = insert_rows(impl_->db, impl_->fts_batch, dataset_id, records);
    index_rows(impl_->db, impl_->fts_batch, dataset_id);
    tx.commit();
    return counts;
}

ImportCounts Project::add_prepared_stream(int64_t dataset_id,
                                          const std::function<bool(std::vector<PreparedRecord>&)>& next_batch,
                                          size_t commit_records, double commit_seconds) {
    Db& db = impl_->db;
    FtsBatch& fts_batch = impl_->fts_batch;
    // Declared before the transaction, so a failed import rolls back first and then lets the
    // helper finish (its PASSIVE checkpoint never touches the rolled-back frames).
    WalCheckpointer checkpointer(db, database_path(), impl_->options.vfs);
    FtsBatchGuard guard{fts_batch};
    ImportCounts total;
    std::optional<Transaction> tx;
    size_t in_tx = 0;
    auto started = std::chrono::steady_clock::now();
    // Batches whose rows are inserted but not yet indexed: fts_batch points into their texts.
    std::vector<std::vector<PreparedRecord>> unindexed;
    std::vector<PreparedRecord> batch;
    while (next_batch(batch)) {
        if (!tx) {
            tx.emplace(db, "import records");
            started = std::chrono::steady_clock::now();
        }
        ImportCounts c = insert_rows(db, fts_batch, dataset_id, batch);
        total.inserted += c.inserted;
        total.duplicates += c.duplicates;
        in_tx += batch.size();
        unindexed.push_back(std::move(batch));
        batch = {};
        double held = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        bool commit = in_tx >= commit_records || held >= commit_seconds;
        if (commit || fts_batch.size() >= kImportIndexRecords) {
            index_rows(db, fts_batch, dataset_id);
            unindexed.clear();
        }
        if (commit) {
            tx->commit();
            tx.reset();
            in_tx = 0;
            checkpointer.after_commit();
        }
    }
    if (tx) {
        index_rows(db, fts_batch, dataset_id);
        tx->commit();
        checkpointer.after_commit();
    }
    return total;
}

namespace {

ImportCounts insert_rows(Db& db, FtsBatch& fts_batch, int64_t dataset_id, const std::vector<PreparedRecord>& records) {
    ImportCounts counts;
    // One timestamp for the batch: the column default would evaluate strftime once per row.
    std::string now;
    {
        Stmt st = db.cached("SELECT strftime('%Y-%m-%dT%H:%M:%fZ','now')", "import records");
        st.step();
        now = st.col_text(0);
    }
    fts_batch.reserve(fts_batch.size() + records.size());
    {
        Stmt ins = db.cached(
            "INSERT INTO records(dataset_id, kind, content, content_hash, format, source_line, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(dataset_id, content_hash) DO NOTHING",
            "import records");
        ins.bind(1, dataset_id).bind_static(7, now);
        for (const PreparedRecord& r : records) {
            ins.bind(2, kind_name(r.kind))
                .bind_static(3, r.content_json)
                .bind_static(4, r.content_hash)
                .bind_static(5, r.format)
                .bind(6, static_cast<int64_t>(r.line));
            ins.run();
            ins.reset();
            if (db.changes() > 0) {
                ++counts.inserted;
                fts_batch.emplace_back(db.last_insert_id(), &r.text);
            } else {
                ++counts.duplicates;
            }
        }
    }
    if (counts.duplicates > 0)
        db.cached("UPDATE datasets SET duplicates = duplicates + ? WHERE id = ?", "import records")
            .bind(1, static_cast<int64_t>(counts.duplicates))
            .bind(2, dataset_id)
            .run();
    return counts;
}

void index_rows(Db& db, FtsBatch& fts_batch, int64_t dataset_id) {
    // Index the new rows with ONE statement: FTS5 flushes its pending terms into a new segment at
    // every statement, so a row-by-row insert made one segment per record and cost 5x the import;
    // fewer, larger segments also mean less merging later (bulk import indexes kImportIndexRecords
    // rows per statement; schema v4 sets the FTS5 hashsize so that they make one segment).
    // Ids grow with each insert, so fts_batch is sorted for rlhf_batch_text's binary search; the id
    // range holds only rows of this transaction, so no other row is indexed twice.
    if (fts_batch.empty()) return;
    db.cached("INSERT INTO records_fts(rowid, text) SELECT id, rlhf_batch_text(id) FROM records"
              " WHERE id BETWEEN ? AND ? AND dataset_id = ?",
              "index records")
        .bind(1, fts_batch.front().first)
        .bind(2, fts_batch.back().first)
        .bind(3, dataset_id)
        .run();
    fts_batch.clear();
}

}  // namespace

std::optional<StoredRecord> Project::record(int64_t id) {
    std::string sql = std::string("SELECT ") + kRecordColumns + " FROM records r WHERE r.id = ?";
    Stmt st = impl_->db.cached(sql.c_str(), "read record");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return stored_from_row(st, database_path());
}

RowPage Project::rows(const RowQuery& q) {
    Db& db = impl_->db;
    std::string match = fts_query(q.search);
    // With a search, the full-text index leads (CROSS JOIN fixes the order): SQLite otherwise chose
    // to walk the whole dataset and run the MATCH once per row (0.8 s for a word found once in 50k
    // HH-RLHF records; 0.1 ms this way). FTS5 yields rowids in order, so ORDER BY f.rowid and the
    // keyset bound f.rowid > ? are served by the index itself.
    std::string from = match.empty() ? " FROM records r" : " FROM records_fts f CROSS JOIN records r ON r.id = f.rowid";
    std::string where = match.empty() ? " WHERE r.dataset_id = ?" : " WHERE records_fts MATCH ? AND r.dataset_id = ?";
    const char* order_id = match.empty() ? "r.id" : "f.rowid";
    if (q.kind) where += " AND r.kind = ?";
    if (!q.format.empty()) where += " AND r.format = ?";
    auto bind_filters = [&](Stmt& st) {
        int i = 1;
        if (!match.empty()) st.bind(i++, match);
        st.bind(i++, q.dataset_id);
        if (q.kind) st.bind(i++, kind_name(*q.kind));
        if (!q.format.empty()) st.bind(i++, q.format);
        return i;
    };
    RowPage page;
    page.total = -1;
    if (q.count_total) {
        std::string sql = "SELECT count(*)" + from + where;
        Stmt st = db.cached(sql.c_str(), "count dataset rows");
        bind_filters(st);
        st.step();
        page.total = st.col_int(0);
    }
    bool keyset = q.after_id > 0;
    // Column 7: whether the record is the prompt of a comparison (index comparisons_prompt, v3).
    std::string sql = std::string("SELECT ") + kRecordColumns +
                      ", EXISTS (SELECT 1 FROM comparisons c WHERE c.prompt_id = r.id)" + from + where +
                      (keyset ? std::string(" AND ") + order_id + " > ? ORDER BY " + order_id + " LIMIT ?"
                              : std::string(" ORDER BY ") + order_id + " LIMIT ? OFFSET ?");
    Stmt st = db.cached(sql.c_str(), "read dataset rows");
    int i = bind_filters(st);
    st.bind(i, keyset ? q.after_id : q.limit);
    st.bind(i + 1, keyset ? q.limit : q.offset);
    while (st.step()) {
        page.rows.push_back(stored_from_row(st, database_path()));
        page.rows.back().has_comparison = st.col_int(7) != 0;
    }
    return page;
}

void Project::for_each_record(int64_t dataset_id, const std::function<void(StoredRecord&&)>& fn) {
    std::string sql =
        std::string("SELECT ") + kRecordColumns + " FROM records r WHERE r.dataset_id = ? ORDER BY r.id";
    Stmt st = impl_->db.prepare(sql, "read dataset");  // owned: fn may run other queries meanwhile
    st.bind(1, dataset_id);
    while (st.step()) fn(stored_from_row(st, database_path()));
}

DatasetStats Project::dataset_stats(int64_t dataset_id, const std::function<size_t(const std::string&)>& count_tokens,
                                    size_t bins) {
    Db& db = impl_->db;
    DatasetStats s;
    {
        Stmt st = db.cached("SELECT duplicates FROM datasets WHERE id = ?", "dataset statistics");
        st.bind(1, dataset_id);
        if (!st.step())
            throw Error(database_path() + ": dataset statistics: no dataset with id " + std::to_string(dataset_id));
        s.duplicates = st.col_int(0);
    }
    {
        Stmt st = db.cached("SELECT kind, format, count(*) FROM records WHERE dataset_id = ? GROUP BY kind, format",
                            "dataset statistics");
        st.bind(1, dataset_id);
        while (st.step()) {
            int64_t n = st.col_int(2);
            s.per_kind[st.col_text(0)] += n;
            s.per_format[st.col_text(1)] += n;
            s.records += n;
        }
    }
    auto words = [](const std::string& text) {
        size_t n = 0;
        bool in_word = false;
        for (unsigned char c : text) {
            bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
            if (!space && !in_word) ++n;
            in_word = !space;
        }
        return n;
    };
    std::vector<size_t> lengths;
    lengths.reserve(static_cast<size_t>(s.records));
    {
        // The text is kept only inside content (schema v3), so it is rebuilt from there.
        Stmt st = db.prepare(std::string("SELECT ") + kRecordColumns + " FROM records r WHERE r.dataset_id = ? ORDER BY r.id",
                             "dataset statistics");
        st.bind(1, dataset_id);
        while (st.step()) {
            std::string text = record_text(stored_from_row(st, database_path()).record);
            lengths.push_back(count_tokens ? count_tokens(text) : words(text));
        }
    }
    LengthHistogram& h = s.lengths;
    if (bins == 0) bins = 1;
    if (!lengths.empty()) {
        auto [mn, mx] = std::minmax_element(lengths.begin(), lengths.end());
        h.min = *mn;
        h.max = *mx;
        double sum = 0;
        for (size_t v : lengths) sum += static_cast<double>(v);
        h.mean = sum / static_cast<double>(lengths.size());
    }
    // Width rounds up so that bins * width > max: every length falls in a bin.
    size_t width = h.max / bins + 1;
    h.edges.resize(bins + 1);
    for (size_t i = 0; i <= bins; ++i) h.edges[i] = i * width;
    h.counts.assign(bins, 0);
    for (size_t v : lengths) h.counts[std::min(bins - 1, v / width)] += 1;
    return s;
}

}  // namespace rlhf::store
