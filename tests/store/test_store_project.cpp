// core/store Project: schema migrations, append-only labels, idempotent import, full-text search,
// paging and statistics, comparisons and labeling, annotator agreement (hand-computed kappa),
// runs/metrics/samples/checkpoints, chat feedback pairs, second connections and online backup.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

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

// A project with one prompt and `n` comparisons of two fresh completions each.
struct LabelFixture {
    int64_t prompt = 0;
    std::vector<int64_t> comparisons;
};

LabelFixture make_comparisons(Project& p, int n) {
    LabelFixture f;
    int64_t ds = p.dataset("prompts");
    p.add_records(ds, {prompt_record("Write a haiku about rain.")});
    f.prompt = p.rows(query(ds)).rows.at(0).id;
    for (int i = 0; i < n; ++i) {
        Completion a, b;
        a.prompt_id = b.prompt_id = f.prompt;
        a.text = "completion A" + std::to_string(i);
        b.text = "completion B" + std::to_string(i);
        a.model = b.model = "tiny-gpt2";
        a.seed = i;
        int64_t ia = p.add_completion(a), ib = p.add_completion(b);
        f.comparisons.push_back(p.create_comparison(f.prompt, ia, ib, /*a_on_left=*/i % 2 == 0));
    }
    return f;
}

int64_t count_rows(Project& p, const char* table) {
    Stmt st = p.db().prepare(std::string("SELECT count(*) FROM ") + table, "test count");
    st.step();
    return st.col_int(0);
}

}  // namespace

class StoreProjectTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void createsFolderAndLatestSchema() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        QCOMPARE(p.schema_version(), latest_schema_version());
        QVERIFY(std::filesystem::is_directory(p.runs_dir()));
        QVERIFY(std::filesystem::exists(p.database_path()));
        QCOMPARE(p.integrity_check(), std::string("ok"));
        Stmt st = p.db().prepare("PRAGMA journal_mode", "test");
        st.step();
        QCOMPARE(st.col_text(0), std::string("wal"));
        Stmt fk = p.db().prepare("PRAGMA foreign_keys", "test");
        fk.step();
        QCOMPARE(fk.col_int(0), int64_t(1));
    }

    void openWithoutCreateFailsNamingPath() {
        QTemporaryDir tmp;
        std::string dir = project_dir(tmp, "missing");
        try {
            OpenOptions o;
            o.create = false;
            Project::open(dir, o);
            QFAIL("expected rlhf::Error");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find(dir) != std::string::npos);
        }
    }

    // A database made by the v1 schema (rows included) opens, migrates to the latest version and
    // its v1 rows are found by the full-text index that v2 added.
    void migratesVersion1Database() {
        QTemporaryDir tmp;
        std::string dir = project_dir(tmp);
        std::filesystem::create_directories(dir);
        {
            Db db(dir + "/project.sqlite", /*create=*/true);
            migrate(db, 1);
            QCOMPARE(schema_version(db), 1);
            db.exec("INSERT INTO datasets(id, name) VALUES (7, 'old');"
                    "INSERT INTO records(dataset_id, kind, content, text, content_hash)"
                    " VALUES (7, 'prompts', '{\"prompt\":[{\"role\":\"\",\"content\":\"zebra crossing\"}]}',"
                    " 'zebra crossing', 'h1');",
                    "test v1 rows");
            Stmt st = db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'records_fts'", "test");
            st.step();
            QCOMPARE(st.col_int(0), int64_t(0));  // v1 has no FTS index
        }
        Project p = Project::open(dir);
        QCOMPARE(p.schema_version(), latest_schema_version());
        auto d = p.find_dataset("old");
        QVERIFY(d.has_value());
        QCOMPARE(d->records, int64_t(1));
        RowPage page = p.rows(query(d->id, "zebra"));
        QCOMPARE(page.total, int64_t(1));
        QCOMPARE(page.rows.at(0).record.prompt.prompt.at(0).content, std::string("zebra crossing"));
        QCOMPARE(p.integrity_check(), std::string("ok"));
        // Chat tables exist after the migration.
        int64_t s = p.create_chat_session("t", "m");
        QVERIFY(s > 0);
    }

    void refusesNewerSchema() {
        QTemporaryDir tmp;
        std::string dir = project_dir(tmp);
        { Project::open(dir).db().exec("PRAGMA user_version = 99", "test"); }
        try {
            Project::open(dir);
            QFAIL("expected rlhf::Error");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find("newer") != std::string::npos);
        }
    }

    void reimportAddsNothing() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        int64_t ds = p.dataset("hh", "hh.jsonl");
        QCOMPARE(p.dataset("hh"), ds);  // get-or-create
        std::vector<data::Record> batch;
        for (int i = 0; i < 50; ++i)
            batch.push_back(preference("q" + std::to_string(i), "good" + std::to_string(i), "bad", uint64_t(i + 1)));
        batch.push_back(preference("q0", "good0", "bad", 99));  // same content as line 1: a duplicate
        ImportCounts first = p.add_records(ds, batch);
        QCOMPARE(first.inserted, uint64_t(50));
        QCOMPARE(first.duplicates, uint64_t(1));
        ImportCounts again = p.add_records(ds, batch);
        QCOMPARE(again.inserted, uint64_t(0));
        QCOMPARE(again.duplicates, uint64_t(51));
        auto d = p.find_dataset("hh");
        QCOMPARE(d->records, int64_t(50));
        QCOMPARE(d->duplicates, int64_t(52));
        QCOMPARE(d->source, std::string("hh.jsonl"));
        // The same content in another dataset is a new row there.
        int64_t other = p.dataset("copy");
        QCOMPARE(p.add_records(other, batch).inserted, uint64_t(50));
        QCOMPARE(p.datasets().size(), size_t(2));
    }

    void recordsRoundTripExactly() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        int64_t ds = p.dataset("mixed");
        data::Record pref = preference("Why?", "Because.", "No.", 3);
        pref.pref.score_chosen = 8.5;
        pref.pref.score_rejected = 2.0;
        data::Record sft = sft_record("Hi \"there\"\n", "Hello \xE2\x9C\x93", 4);
        data::Record pr = prompt_record("plain text prompt", 5);
        p.add_records(ds, {pref, sft, pr});
        RowPage page = p.rows(query(ds));
        QCOMPARE(page.rows.size(), size_t(3));
        const data::Record& a = page.rows[0].record;
        QVERIFY(a.kind == data::RecordKind::Preference);
        QVERIFY(a.pref.prompt == pref.pref.prompt && a.pref.chosen == pref.pref.chosen &&
                a.pref.rejected == pref.pref.rejected);
        QCOMPARE(*a.pref.score_chosen, 8.5);
        QCOMPARE(*a.pref.score_rejected, 2.0);
        QCOMPARE(a.format, std::string("hh-rlhf"));
        QCOMPARE(a.line, uint64_t(3));
        QCOMPARE(page.rows[0].content_hash, data::content_hash(pref));
        QVERIFY(page.rows[1].record.sft.messages == sft.sft.messages);
        QVERIFY(page.rows[2].record.prompt.prompt == pr.prompt.prompt);
        QVERIFY(!page.rows[2].record.pref.score_chosen.has_value());
        auto one = p.record(page.rows[1].id);
        QVERIFY(one && one->record.sft.messages == sft.sft.messages);
        QVERIFY(!p.record(123456).has_value());
    }

    // prepare_record writes the content JSON by hand for speed; it must be byte-identical to
    // nlohmann's dump of record_content_json (the reference serializer) for every kind of string.
    void preparedJsonMatchesNlohmann() {
        const std::string nasty = std::string("q\"uo\\te \n\r\t\b\f ctl:") + char(1) + char(31) + char(127) +
                                  " \xC3\xA9 \xF0\x9F\x98\x80 </script> \\u0041";
        data::Record pref = preference(nasty, "ok " + nasty, "");
        pref.pref.score_chosen = 0.1;
        pref.pref.score_rejected = -3e21;
        std::vector<data::Record> cases = {pref, sft_record(nasty, nasty), prompt_record(nasty), prompt_record("")};
        cases.back().prompt.prompt.clear();  // empty message list
        for (const data::Record& r : cases) {
            PreparedRecord p = prepare_record(r);
            QCOMPARE(p.content_json, record_content_json(r).dump());
            QCOMPARE(p.content_hash, data::content_hash(r));
            QCOMPARE(p.text, record_text(r));
        }
    }

    void searchFiltersAndPages() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        int64_t ds = p.dataset("d");
        std::vector<data::Record> batch;
        for (int i = 0; i < 250; ++i) batch.push_back(prompt_record("filler number " + std::to_string(i)));
        batch.push_back(prompt_record("The quick brown fox"));
        batch.push_back(sft_record("Tell me about tokenization", "It splits text."));
        batch.push_back(preference("Don't panic", "ok", "no"));
        p.add_records(ds, batch);
        QCOMPARE(p.rows(query(ds)).total, int64_t(253));

        RowPage fox = p.rows(query(ds, "QUICK fox"));  // case-insensitive, all words must appear
        QCOMPARE(fox.total, int64_t(1));
        QCOMPARE(fox.rows.at(0).record.prompt.prompt.at(0).content, std::string("The quick brown fox"));
        QCOMPARE(p.rows(query(ds, "quick dog")).total, int64_t(0));
        QCOMPARE(p.rows(query(ds, "tokeni*")).total, int64_t(1));       // prefix
        QCOMPARE(p.rows(query(ds, "don't")).total, int64_t(1));         // punctuation is literal, not syntax
        QCOMPARE(p.rows(query(ds, "\"unbalanced")).total, int64_t(0));  // no FTS syntax error

        RowQuery q = query(ds);
        q.kind = data::RecordKind::Sft;
        QCOMPARE(p.rows(q).total, int64_t(1));
        q = query(ds);
        q.format = "hh-rlhf";
        QCOMPARE(p.rows(q).total, int64_t(1));

        // Pages: 253 rows by 100 -> 100, 100, 53, in id order without overlap.
        int64_t last_id = 0, seen = 0;
        for (int64_t off = 0; off < 253; off += 100) {
            RowQuery page_q = query(ds);
            page_q.offset = off;
            page_q.limit = 100;
            RowPage page = p.rows(page_q);
            QCOMPARE(page.total, int64_t(253));
            QCOMPARE(int64_t(page.rows.size()), std::min<int64_t>(100, 253 - off));
            for (const auto& r : page.rows) {
                QVERIFY(r.id > last_id);
                last_id = r.id;
                ++seen;
            }
        }
        QCOMPARE(seen, int64_t(253));
    }

    // Texts of 1, 5, 10 and 19 bytes, 4 bins: width = 19/4 + 1 = 5, edges 0,5,10,15,20,
    // one length per bin; mean (1+5+10+19)/4 = 8.75.
    void statisticsHistogram() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        int64_t ds = p.dataset("d");
        p.add_records(ds, {prompt_record("a"), prompt_record("abcde"), prompt_record("abcdefghij"),
                           prompt_record("abcdefghijklmnopqrs")});
        p.add_records(ds, {prompt_record("a")});  // one duplicate
        DatasetStats s = p.dataset_stats(ds, [](const std::string& t) { return t.size(); }, 4);
        QCOMPARE(s.records, int64_t(4));
        QCOMPARE(s.duplicates, int64_t(1));
        QCOMPARE(s.per_kind.at("prompts"), int64_t(4));
        QCOMPARE(s.per_format.at("prompt-only"), int64_t(4));
        QCOMPARE(s.lengths.edges, (std::vector<size_t>{0, 5, 10, 15, 20}));
        QCOMPARE(s.lengths.counts, (std::vector<uint64_t>{1, 1, 1, 1}));
        QCOMPARE(s.lengths.min, size_t(1));
        QCOMPARE(s.lengths.max, size_t(19));
        QCOMPARE(s.lengths.mean, 8.75);
        // Default counter: whitespace words. "a" -> 1 word each; mixed kinds counted apart.
        p.add_records(ds, {sft_record("one two", "three")});  // "Be brief.\n\none two\n\nthree" = 5 words
        DatasetStats w = p.dataset_stats(ds, {}, 2);
        QCOMPARE(w.per_kind.at("sft"), int64_t(1));
        QCOMPARE(w.lengths.max, size_t(5));
        QCOMPARE(w.lengths.min, size_t(1));
    }

    void comparisonsRandomiseLeftSide() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        LabelFixture f = make_comparisons(p, 1);
        std::mt19937_64 rng(12345);
        int left = 0;
        constexpr int kN = 200;
        for (int i = 0; i < kN; ++i) {
            Completion a, b;
            a.prompt_id = b.prompt_id = f.prompt;
            a.text = "x";
            b.text = "y";
            int64_t id = p.create_comparison(f.prompt, p.add_completion(a), p.add_completion(b), rng);
            auto v = p.comparison(id);
            left += v->a_on_left ? 1 : 0;
            QCOMPARE(v->left().text, std::string(v->a_on_left ? "x" : "y"));
        }
        // Binomial(200, 1/2): sd ~7.1; 60..140 is > 5 sd either side of 100.
        QVERIFY2(left > 60 && left < 140, qPrintable(QString::number(left)));
        // Completions of another prompt cannot be compared under this one.
        int64_t ds = p.dataset("other");
        p.add_records(ds, {prompt_record("other prompt")});
        int64_t other_prompt = p.rows(query(ds)).rows.at(0).id;
        Completion c;
        c.prompt_id = other_prompt;
        c.text = "z";
        int64_t foreign = p.add_completion(c);
        auto v = p.comparison(f.comparisons[0]);
        QVERIFY_THROWS_EXCEPTION(Error, p.create_comparison(f.prompt, v->a.id, foreign, true));
    }

    void labelsAreAppendOnlyAndUndoAddsARow() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        LabelFixture f = make_comparisons(p, 3);
        int64_t ann = p.annotator("alice");
        QCOMPARE(p.annotator("alice"), ann);

        auto next = p.next_unlabeled(ann);
        QVERIFY(next && next->id == f.comparisons[0]);
        QCOMPARE(next->prompt.at(0).content, std::string("Write a haiku about rain."));
        int64_t l1 = p.add_label({f.comparisons[0], ann, Choice::A, "clearer", 3.5});
        QCOMPARE(p.next_unlabeled(ann)->id, f.comparisons[1]);
        int64_t l2 = p.add_label({f.comparisons[1], ann, Choice::Skip, "", 1.0});  // a skip counts as seen
        QCOMPARE(p.next_unlabeled(ann)->id, f.comparisons[2]);

        QCOMPARE(p.comparison_count(), int64_t(3));
        QCOMPARE(p.labeled_count(ann), int64_t(2));
        QCOMPARE(p.undo_last_label(ann), std::optional<int64_t>(l2));
        QCOMPARE(p.labeled_count(ann), int64_t(1));
        QCOMPARE(p.next_unlabeled(ann)->id, f.comparisons[1]);  // the undone one comes back
        QCOMPARE(p.undo_last_label(ann), std::optional<int64_t>(l1));
        QCOMPARE(p.undo_last_label(ann), std::optional<int64_t>());  // nothing left

        std::vector<LabelEvent> h = p.label_history();
        QCOMPARE(h.size(), size_t(4));  // two labels + two undo rows; nothing rewritten
        QCOMPARE(h[0].kind, std::string("label"));
        QVERIFY(h[0].choice == Choice::A);
        QCOMPARE(h[2].kind, std::string("undo"));
        QCOMPARE(h[2].undoes, std::optional<int64_t>(l2));
        QCOMPARE(h[3].undoes, std::optional<int64_t>(l1));
        QVERIFY(p.labels_in_force().empty());

        int64_t l3 = p.add_label({f.comparisons[0], ann, Choice::B, "changed my mind", 2.0});
        auto in_force = p.labels_in_force();
        QCOMPARE(in_force.size(), size_t(1));
        QCOMPARE(in_force[0].label_id, l3);
        QVERIFY(in_force[0].choice == Choice::B);
        QCOMPARE(in_force[0].annotator, std::string("alice"));
        QCOMPARE(in_force[0].completion_a, std::string("completion A0"));
        QCOMPARE(in_force[0].rationale, std::string("changed my mind"));
        QCOMPARE(*in_force[0].seconds, 2.0);

        // The database itself refuses rewrites of history.
        QVERIFY_THROWS_EXCEPTION(Error, p.db().exec("UPDATE labels SET choice = 'A'", "test update"));
        QVERIFY_THROWS_EXCEPTION(Error, p.db().exec("DELETE FROM labels", "test delete"));
        try {
            p.db().exec("DELETE FROM labels", "test delete");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find("append-only") != std::string::npos);
        }
        QCOMPARE(count_rows(p, "labels"), int64_t(5));
        // A label for a comparison that does not exist violates a foreign key.
        QVERIFY_THROWS_EXCEPTION(Error, p.add_label({999999, ann, Choice::A, "", std::nullopt}));
    }

    // Wikipedia "Cohen's kappa" worked example: 50 items, both Yes 20, both No 15, rater 1 Yes /
    // rater 2 No 5, rater 1 No / rater 2 Yes 10. p_o = 35/50 = 0.7; rater 1 Yes 25/50, rater 2 Yes
    // 30/50: p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    void kappaWorkedExample() {
        std::vector<std::pair<Choice, Choice>> pairs;
        for (int i = 0; i < 20; ++i) pairs.emplace_back(Choice::A, Choice::A);
        for (int i = 0; i < 15; ++i) pairs.emplace_back(Choice::B, Choice::B);
        for (int i = 0; i < 5; ++i) pairs.emplace_back(Choice::A, Choice::B);
        for (int i = 0; i < 10; ++i) pairs.emplace_back(Choice::B, Choice::A);
        pairs.emplace_back(Choice::Skip, Choice::A);  // excluded
        Agreement a = cohen_kappa(pairs);
        QCOMPARE(a.shared, int64_t(50));
        QVERIFY(std::abs(a.percent - 70.0) < 1e-12);
        QVERIFY(std::abs(a.kappa - 0.4) < 1e-12);
        QVERIFY(std::isnan(cohen_kappa({}).kappa));
        QVERIFY(std::isnan(cohen_kappa({{Choice::A, Choice::A}}).kappa));  // p_e = 1: undefined
    }

    // Two annotators on 12 comparisons. Items 0-9 (shared, non-skip):
    //   X: A A A A B B B tie tie both_bad      Y: A A A B B B tie tie A both_bad
    // agree on 0,1,2,4,5,7,9 -> p_o = 7/10. Marginals X = Y = {A:4, B:3, tie:2, both_bad:1}:
    // p_e = (16 + 9 + 4 + 1) / 100 = 0.3; kappa = (0.7 - 0.3) / 0.7 = 4/7.
    // Item 10: X skips (excluded). Item 11: only X labels (not shared). X first labels item 3 B
    // and undoes it, so the label in force is the later A.
    void agreementHandComputedKappa() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        LabelFixture f = make_comparisons(p, 12);
        int64_t x = p.annotator("x"), y = p.annotator("y");
        const Choice kX[] = {Choice::A, Choice::A, Choice::A, Choice::A, Choice::B,        Choice::B,
                             Choice::B, Choice::Tie, Choice::Tie, Choice::BothBad, Choice::Skip, Choice::A};
        const Choice kY[] = {Choice::A, Choice::A, Choice::A, Choice::B, Choice::B,       Choice::B,
                             Choice::Tie, Choice::Tie, Choice::A, Choice::BothBad, Choice::A};
        for (int i = 0; i < 12; ++i) {
            if (i == 3) {
                p.add_label({f.comparisons[3], x, Choice::B, "", std::nullopt});
                p.undo_last_label(x);
            }
            p.add_label({f.comparisons[size_t(i)], x, kX[i], "", std::nullopt});
            if (i < 11) p.add_label({f.comparisons[size_t(i)], y, kY[i], "", std::nullopt});
        }
        Agreement a = p.agreement(x, y);
        QCOMPARE(a.shared, int64_t(10));
        QVERIFY(std::abs(a.percent - 70.0) < 1e-9);
        QVERIFY2(std::abs(a.kappa - 4.0 / 7.0) < 1e-12, qPrintable(QString::number(a.kappa)));
        QCOMPARE(p.agreement(y, x).kappa, a.kappa);
    }

    void runsMetricsSamplesCheckpoints() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        RunInfo r;
        r.kind = "sft";
        r.name = "first";
        r.config_yaml = "kind: sft\nlr: 1e-4\n";
        r.base_model = "tiny";
        int64_t sft = p.create_run(r);
        r.kind = "dpo";
        r.name = "second";
        r.parent_run_id = sft;
        int64_t dpo = p.create_run(r);
        p.set_run_status(dpo, RunStatus::Failed, "loss is NaN at step 3");
        auto runs = p.runs();
        QCOMPARE(runs.size(), size_t(2));
        QCOMPARE(runs[0].id, dpo);  // newest first
        QVERIFY(runs[0].status == RunStatus::Failed);
        QCOMPARE(runs[0].error, std::string("loss is NaN at step 3"));
        QCOMPARE(runs[0].parent_run_id, std::optional<int64_t>(sft));
        QCOMPARE(p.run(sft)->config_yaml, r.config_yaml);
        QVERIFY_THROWS_EXCEPTION(Error, p.set_run_status(9999, RunStatus::Running));

        std::vector<MetricPoint> pts;
        for (int step = 1; step <= 10; ++step) {
            pts.push_back({"loss", step, 1.0 / step, 1000.0 + step});
            pts.push_back({"grad_norm", step, 0.5 * step, 1000.0 + step});
        }
        p.append_metrics(sft, pts);
        auto since = p.metrics(sft, 5);
        QCOMPARE(since.size(), size_t(10));  // steps 6..10, two series
        QCOMPARE(since[0].step, int64_t(6));
        QCOMPARE(since[0].name, std::string("grad_norm"));  // (step, name) order
        QCOMPARE(since[1].value, 1.0 / 6);
        QCOMPARE(p.metric_names(sft), (std::vector<std::string>{"grad_norm", "loss"}));
        auto loss = p.metrics(sft, -1, "loss");
        QCOMPARE(loss.size(), size_t(10));
        // A resumed run replaying step 10 overwrites it; NaN survives as NaN.
        p.append_metrics(sft, {{"loss", 10, std::nan(""), 2000.0}});
        loss = p.metrics(sft, 9, "loss");
        QCOMPARE(loss.size(), size_t(1));
        QVERIFY(std::isnan(loss[0].value));
        QCOMPARE(loss[0].wall_time, 2000.0);
        QVERIFY(p.metrics(dpo).empty());

        p.add_samples(sft, {{0, 0, 2, "p1", "r1", 0.5, "{}"}, {0, 0, 4, "p2", "r2", std::nullopt, "{\"k\":1}"}});
        auto s = p.samples(sft, 2);
        QCOMPARE(s.size(), size_t(1));
        QCOMPARE(s[0].response, std::string("r2"));
        QVERIFY(!s[0].reward.has_value());
        QCOMPARE(s[0].extra_json, std::string("{\"k\":1}"));

        p.add_checkpoint({0, sft, 100, "runs/1/checkpoint-100", "ab", ""});
        p.add_checkpoint({0, sft, 50, "runs/1/checkpoint-50", "cd", ""});
        p.add_checkpoint({0, sft, 100, "runs/1/checkpoint-100", "ef", ""});  // rewritten checkpoint
        auto cps = p.checkpoints(sft);
        QCOMPARE(cps.size(), size_t(2));
        QCOMPARE(cps[0].step, int64_t(50));
        QCOMPARE(cps[1].sha256, std::string("ef"));
    }

    void chatFeedbackBecomesPreferencePairs() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        int64_t s = p.create_chat_session("demo", "tiny");
        int64_t sys = p.add_chat_message(s, std::nullopt, "system", "Be kind.");
        int64_t u1 = p.add_chat_message(s, sys, "user", "Hi");
        int64_t a1 = p.add_chat_message(s, u1, "assistant", "Hello!", "tiny");
        int64_t u2 = p.add_chat_message(s, a1, "user", "Tell a joke");
        int64_t left = p.add_chat_message(s, u2, "assistant", "A pun.", "tiny");
        int64_t right = p.add_chat_message(s, u2, "assistant", "No.", "tiny");
        p.add_feedback({0, left, right, std::nullopt, "funnier", std::nullopt});
        p.add_feedback({0, a1, std::nullopt, 1, "", std::nullopt});  // a rating alone is not a pair
        QVERIFY_THROWS_EXCEPTION(Error, p.add_feedback({0, left, a1, std::nullopt, "", std::nullopt}));
        QCOMPARE(p.chat_messages(s).size(), size_t(6));
        QCOMPARE(p.chat_sessions().size(), size_t(1));

        auto pairs = p.feedback_preference_pairs();
        QCOMPARE(pairs.size(), size_t(1));
        data::Messages expect_prompt = {{"system", "Be kind."}, {"user", "Hi"}, {"assistant", "Hello!"},
                                        {"user", "Tell a joke"}};
        QVERIFY(pairs[0].prompt == expect_prompt);
        QVERIFY(pairs[0].chosen == (data::Messages{{"assistant", "A pun."}}));
        QVERIFY(pairs[0].rejected == (data::Messages{{"assistant", "No."}}));
    }

    // Two threads, each on its own connection, write labels at once: BEGIN IMMEDIATE plus the
    // busy timeout serialise them without a single "database is locked" error.
    void secondConnectionAndConcurrentWriters() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        LabelFixture f = make_comparisons(p, 4);
        int64_t a1 = p.annotator("t1"), a2 = p.annotator("t2");
        constexpr int kPerThread = 60;
        std::string error;
        auto writer = [&](Project conn, int64_t ann) {
            try {
                for (int i = 0; i < kPerThread; ++i)
                    conn.add_label({f.comparisons[size_t(i % 4)], ann, Choice::A, "", std::nullopt});
            } catch (const std::exception& e) {
                error = e.what();
            }
        };
        std::thread t1(writer, p.connect(), a1), t2(writer, p.connect(), a2);
        t1.join();
        t2.join();
        QVERIFY2(error.empty(), error.c_str());
        QCOMPARE(count_rows(p, "labels"), int64_t(2 * kPerThread));
    }

    void backupHasTheSameRows() {
        QTemporaryDir tmp;
        Project p = Project::open(project_dir(tmp));
        LabelFixture f = make_comparisons(p, 3);
        int64_t ann = p.annotator("a");
        p.add_label({f.comparisons[0], ann, Choice::Tie, "same", 1.0});
        p.add_label({f.comparisons[1], ann, Choice::B, "", 2.0});
        p.undo_last_label(ann);
        int64_t ds = p.dataset("pairs");
        p.add_records(ds, {preference("q", "a", "b"), preference("q2", "a2", "b2")});
        int64_t run = p.create_run({0, "sft", "r", "", RunStatus::Running, "", std::nullopt, "", "", ""});
        p.append_metrics(run, {{"loss", 1, 0.5, 1.0}});

        std::string out_dir = project_dir(tmp, "restored");
        std::filesystem::create_directories(out_dir);
        p.backup(out_dir + "/project.sqlite");
        QVERIFY(!std::filesystem::exists(out_dir + "/project.sqlite.tmp"));
        QVERIFY(!std::filesystem::exists(out_dir + "/project.sqlite-wal"));  // self-contained file
        Project b = Project::open(out_dir);
        QCOMPARE(b.integrity_check(), std::string("ok"));
        for (const char* t : {"datasets", "records", "completions", "comparisons", "labels", "annotators", "runs",
                              "metrics"})
            QCOMPARE(count_rows(b, t), count_rows(p, t));
        auto la = p.labels_in_force(), lb = b.labels_in_force();
        QCOMPARE(lb.size(), size_t(1));
        QCOMPARE(lb[0].label_id, la[0].label_id);
        QVERIFY(lb[0].choice == Choice::Tie);
        QCOMPARE(b.rows(query(b.find_dataset("pairs")->id, "q2")).total, int64_t(1));
        QCOMPARE(b.metrics(run).at(0).value, 0.5);
    }
};

QTEST_APPLESS_MAIN(StoreProjectTest)
#include "test_store_project.moc"
