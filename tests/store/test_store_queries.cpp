// core/store schema v3 and the Dataset/Labeling panels' queries: a v2 project (hand-built with the
// v2 migration, its text column and external-content index filled the v2 way) migrates and still
// finds what it found; keyset paging returns the same pages as OFFSET paging; has_comparison per
// row; the annotator listing with hand-counted labels in force; the two model names of a comparison.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>

#include "core/io/error.h"
#include "core/store/project.h"
#include "core/store/record_json.h"
#include "core/store/schema.h"
#include "core/store/sqlite.h"
#include "store/store_test_util.h"

using namespace rlhf;
using namespace rlhf::store;
using store_test::preference;
using store_test::project_dir;
using store_test::prompt_record;
using store_test::sft_record;

namespace {

RowQuery query(int64_t dataset_id, const std::string& search = "") {
    RowQuery q;
    q.dataset_id = dataset_id;
    q.search = search;
    return q;
}

std::vector<int64_t> ids(const RowPage& page) {
    std::vector<int64_t> out;
    for (const auto& r : page.rows) out.push_back(r.id);
    return out;
}

bool has_column(Db& db, const char* table, const char* column) {
    Stmt st = db.prepare(std::string("SELECT count(*) FROM pragma_table_info('") + table + "') WHERE name = '" +
                             column + "'",
                         "test");
    st.step();
    return st.col_int(0) > 0;
}

int64_t search_count(Project& p, int64_t ds, const std::string& words) { return p.rows(query(ds, words)).total; }

}  // namespace

class StoreQueriesTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // A v2 database: rows inserted the way v2's add_prepared did (text column, then the batch
    // INSERT…SELECT into the external-content index). After opening, the schema is v3, records.text
    // is gone, every search finds the same rows as before, and new imports, deletes and statistics
    // work on the contentless index.
    void migratesVersion2Database() {
        QTemporaryDir tmp;
        std::string dir = project_dir(tmp);
        std::filesystem::create_directories(dir);
        const std::vector<data::Record> old_records = {
            prompt_record("zebra crossing at night"), preference("Don't panic", "towel", "no towel"),
            sft_record("Tell me about tokenization", "It splits text."), prompt_record("zebra stripes")};
        // What each search found in the v2 database, checked there before migrating.
        const std::vector<std::pair<std::string, int64_t>> searches = {
            {"zebra", 2}, {"ZEBRA night", 1}, {"towel", 1}, {"don't", 1}, {"tokeni*", 1}, {"brief", 1}, {"absent", 0}};
        {
            Db db(dir + "/project.sqlite", /*create=*/true);
            migrate(db, 2);
            QCOMPARE(schema_version(db), 2);
            db.exec("INSERT INTO datasets(id, name) VALUES (5, 'old')", "test");
            Stmt ins = db.prepare(
                "INSERT INTO records(dataset_id, kind, content, text, content_hash, format, source_line)"
                " VALUES (5, ?, ?, ?, ?, ?, ?)",
                "test");
            for (const auto& r : old_records) {
                PreparedRecord pr = prepare_record(r);
                ins.bind(1, kind_name(pr.kind)).bind(2, pr.content_json).bind(3, pr.text).bind(4, pr.content_hash);
                ins.bind(5, pr.format).bind(6, static_cast<int64_t>(pr.line));
                ins.run();
                ins.reset();
            }
            db.exec("INSERT INTO records_fts(rowid, text) SELECT id, text FROM records", "test");
            for (const auto& [words, n] : searches) {
                Stmt st = db.prepare("SELECT count(*) FROM records_fts WHERE records_fts MATCH ?", "test");
                // The same quoting Project::rows applies: each word a phrase, * kept as prefix.
                std::string match = words == "tokeni*"    ? "\"tokeni\"*"
                                    : words == "ZEBRA night" ? "\"ZEBRA\" \"night\""
                                                             : "\"" + words + "\"";
                st.bind(1, match);
                st.step();
                QCOMPARE(st.col_int(0), n);
            }
        }
        Project p = Project::open(dir);
        QCOMPARE(p.schema_version(), latest_schema_version());  // v3, then v4 (test_store_import)
        QVERIFY(!has_column(p.db(), "records", "text"));
        auto d = p.find_dataset("old");
        QVERIFY(d.has_value());
        QCOMPARE(d->records, int64_t(4));
        for (const auto& [words, n] : searches) QCOMPARE(search_count(p, d->id, words), n);
        // Records read back whole (content was untouched by the migration).
        RowPage all = p.rows(query(d->id));
        QCOMPARE(all.rows.at(1).record.pref.chosen.at(0).content, std::string("towel"));
        QCOMPARE(p.integrity_check(), std::string("ok"));

        // New rows are indexed; a deleted row leaves the index (the trigger rebuilds its text).
        p.add_records(d->id, {prompt_record("zebra finch")});
        QCOMPARE(search_count(p, d->id, "zebra"), int64_t(3));
        int64_t night = p.rows(query(d->id, "night")).rows.at(0).id;
        p.db().exec(("DELETE FROM records WHERE id = " + std::to_string(night)).c_str(), "test");
        QCOMPARE(search_count(p, d->id, "zebra"), int64_t(2));
        QCOMPARE(search_count(p, d->id, "night"), int64_t(0));
        // An FTS5 'integrity-check' on a contentless table verifies the index's own structure.
        p.db().exec("INSERT INTO records_fts(records_fts) VALUES ('integrity-check')", "test");
        // Statistics rebuild the text from content: "zebra stripes" = 2 words,
        // "Be brief.\n\nTell me about tokenization\n\nIt splits text." = 9 words
        // (Be / brief. / Tell / me / about / tokenization / It / splits / text.).
        DatasetStats s = p.dataset_stats(d->id, {}, 4);
        QCOMPARE(s.records, int64_t(4));
        QCOMPARE(s.lengths.min, size_t(2));
        QCOMPARE(s.lengths.max, size_t(9));
    }

    // 1000 rows, pages of 64: walking with after_id gives exactly the OFFSET pages, also with a
    // search and a kind filter; the keyset query never names OFFSET.
    void keysetPagingMatchesOffsetPaging() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        int64_t ds = p.dataset("d");
        std::vector<data::Record> batch;
        for (int i = 0; i < 1000; ++i)
            batch.push_back(i % 3 == 0 ? prompt_record("apple " + std::to_string(i))
                                       : sft_record("pear " + std::to_string(i), "ok"));
        p.add_records(ds, batch);
        for (const std::string& search : {std::string(), std::string("apple"), std::string("pear")}) {
            RowQuery by_offset = query(ds, search), by_key = query(ds, search);
            by_offset.limit = by_key.limit = 64;
            by_key.count_total = false;
            int64_t expected_total = search.empty() ? 1000 : search == "apple" ? 334 : 666;
            int64_t seen = 0;
            for (;;) {
                RowPage a = p.rows(by_offset), b = p.rows(by_key);
                QCOMPARE(a.total, expected_total);
                QCOMPARE(b.total, int64_t(-1));
                QCOMPARE(ids(b), ids(a));
                if (a.rows.empty()) break;
                seen += static_cast<int64_t>(a.rows.size());
                by_offset.offset += 64;
                by_key.after_id = b.rows.back().id;
            }
            QCOMPARE(seen, expected_total);
        }
        // A kind filter with a start in the middle: ids after 500 that are prompts (i % 3 == 0).
        RowQuery q = query(ds);
        q.kind = data::RecordKind::Prompt;
        q.after_id = p.rows(query(ds)).rows.at(0).id + 499;  // the id of row i = 499
        q.limit = 1000;
        RowPage page = p.rows(q);
        QCOMPARE(page.total, int64_t(334));  // total ignores after_id: the filters' whole count
        QCOMPARE(int64_t(page.rows.size()), int64_t(167));  // i = 501, 504, ..., 999
        QCOMPARE(page.rows.front().record.prompt.prompt.at(0).content, std::string("apple 501"));
        // The plan of rows()'s keyset query seeks to after_id in the dataset's index and needs no
        // sort: a deep page costs what the first one does.
        Stmt plan = p.db().prepare(
            "EXPLAIN QUERY PLAN SELECT r.id, r.dataset_id, r.kind, r.content, r.content_hash, r.format, r.source_line,"
            " EXISTS (SELECT 1 FROM comparisons c WHERE c.prompt_id = r.id) FROM records r"
            " WHERE r.dataset_id = ? AND r.id > ? ORDER BY r.id LIMIT ?",
            "test");
        std::string details;
        while (plan.step()) details += plan.col_text(3) + ";";
        QVERIFY2(details.find("rowid>?") != std::string::npos, details.c_str());
        QVERIFY2(details.find("TEMP B-TREE") == std::string::npos, details.c_str());
        QVERIFY2(details.find("comparisons_prompt") != std::string::npos, details.c_str());
    }

    // Three prompts; comparisons on the second only (two of them) -> false, true, false.
    void rowsSayWhetherARecordHasAComparison() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        int64_t ds = p.dataset("prompts");
        p.add_records(ds, {prompt_record("one"), prompt_record("two"), prompt_record("three")});
        RowPage before = p.rows(query(ds));
        for (const auto& r : before.rows) QVERIFY(!r.has_comparison);
        int64_t second = before.rows.at(1).id;
        for (int k = 0; k < 2; ++k) {
            Completion a, b;
            a.prompt_id = b.prompt_id = second;
            a.text = "a" + std::to_string(k);
            b.text = "b" + std::to_string(k);
            p.create_comparison(second, p.add_completion(a), p.add_completion(b), true);
        }
        // A completion alone (no comparison) on the third does not count.
        Completion lone;
        lone.prompt_id = before.rows.at(2).id;
        lone.text = "lonely";
        p.add_completion(lone);
        RowPage after = p.rows(query(ds));
        QCOMPARE(after.rows.size(), size_t(3));
        QCOMPARE(after.rows[0].has_comparison, false);
        QCOMPARE(after.rows[1].has_comparison, true);
        QCOMPARE(after.rows[2].has_comparison, false);
        RowQuery keyset = query(ds);
        keyset.after_id = before.rows.at(0).id;
        QCOMPARE(p.rows(keyset).rows.at(0).has_comparison, true);
    }

    // ann: labels c1=A, c2=B, c3=tie, then undoes c3 -> 2 in force. bob: c1 twice (A then B:
    // still one comparison) -> 1. carol: none -> 0. Listed by name.
    void annotatorsListWithLabelsInForce() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        int64_t ds = p.dataset("prompts");
        p.add_records(ds, {prompt_record("q")});
        int64_t prompt = p.rows(query(ds)).rows.at(0).id;
        std::vector<int64_t> cmp;
        for (int k = 0; k < 3; ++k) {
            Completion a, b;
            a.prompt_id = b.prompt_id = prompt;
            a.text = "a" + std::to_string(k);
            b.text = "b" + std::to_string(k);
            cmp.push_back(p.create_comparison(prompt, p.add_completion(a), p.add_completion(b), true));
        }
        int64_t carol = p.annotator("carol"), bob = p.annotator("bob"), ann = p.annotator("ann");
        QVERIFY(carol > 0);
        auto label = [&](int64_t who, int64_t c, Choice choice) {
            LabelInput in;
            in.annotator_id = who;
            in.comparison_id = c;
            in.choice = choice;
            p.add_label(in);
        };
        label(ann, cmp[0], Choice::A);
        label(ann, cmp[1], Choice::B);
        label(ann, cmp[2], Choice::Tie);
        QVERIFY(p.undo_last_label(ann).has_value());
        label(bob, cmp[0], Choice::A);
        label(bob, cmp[0], Choice::B);
        std::vector<Annotator> list = p.annotators();
        QCOMPARE(list.size(), size_t(3));
        QCOMPARE(list[0].name, std::string("ann"));
        QCOMPARE(list[0].id, ann);
        QCOMPARE(list[0].labeled, int64_t(2));
        QCOMPARE(list[1].name, std::string("bob"));
        QCOMPARE(list[1].labeled, int64_t(1));
        QCOMPARE(list[2].name, std::string("carol"));
        QCOMPARE(list[2].labeled, int64_t(0));
        QVERIFY(!list[2].created_at.empty());
        for (const Annotator& a : list) QCOMPARE(a.labeled, p.labeled_count(a.id));
    }

    // A comparison of completions from two models carries both names, in A/B order (not
    // left/right), in the labeling view and in the labels export rows.
    void comparisonsNameBothModels() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        int64_t ds = p.dataset("prompts");
        p.add_records(ds, {prompt_record("q")});
        int64_t prompt = p.rows(query(ds)).rows.at(0).id;
        Completion a, b;
        a.prompt_id = b.prompt_id = prompt;
        a.text = "from sft";
        a.model = "runs/sft-1/export";
        b.text = "from ppo";
        b.model = "runs/ppo-2/export";
        int64_t c = p.create_comparison(prompt, p.add_completion(a), p.add_completion(b), /*a_on_left=*/false);
        auto view = p.comparison(c);
        QVERIFY(view.has_value());
        QCOMPARE(view->a.model, a.model);
        QCOMPARE(view->b.model, b.model);
        QCOMPARE(view->left().model, b.model);  // B shown on the left
        LabelInput in;
        in.annotator_id = p.annotator("ann");
        in.comparison_id = c;
        in.choice = Choice::B;
        p.add_label(in);
        std::vector<LabelRow> rows = p.labels_in_force();
        QCOMPARE(rows.size(), size_t(1));
        QCOMPARE(rows[0].model_a, a.model);
        QCOMPARE(rows[0].model_b, b.model);
        QCOMPARE(rows[0].completion_b, std::string("from ppo"));
        QCOMPARE(rows[0].a_on_left, false);
    }
};

QTEST_APPLESS_MAIN(StoreQueriesTest)
#include "test_store_queries.moc"
