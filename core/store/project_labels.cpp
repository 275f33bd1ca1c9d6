// Annotators, completions, comparisons and the append-only label history: a label in force is a
// row of kind 'label' that no 'undo' row names; an annotator's latest such row on a comparison wins.
#include <map>

#include "core/io/error.h"
#include "core/store/project.h"
#include "core/store/project_impl.h"
#include "core/store/record_json.h"

namespace rlhf::store {

namespace {

// SQL condition: label row `l` has not been undone.
#define RLHF_NOT_UNDONE(l) "NOT EXISTS (SELECT 1 FROM labels u WHERE u.undoes = " l ".id)"

// Labels in force: latest non-undone 'label' row per (comparison, annotator).
constexpr const char* kLabelsInForce =
    "SELECT l.id, l.comparison_id, l.annotator_id, l.choice, l.rationale, l.seconds, l.created_at"
    " FROM labels l WHERE l.kind = 'label' AND " RLHF_NOT_UNDONE("l")
    " AND l.id = (SELECT max(l2.id) FROM labels l2 WHERE l2.comparison_id = l.comparison_id"
    "   AND l2.annotator_id = l.annotator_id AND l2.kind = 'label' AND " RLHF_NOT_UNDONE("l2") ")";

// Sets PRAGMA synchronous=FULL for the life of the guard: the COMMIT of a human label fsyncs the
// WAL before returning, so an acknowledged label survives power loss, not only a process crash.
class FullSyncGuard {
public:
    explicit FullSyncGuard(Db& db) : db_(db) { db_.exec("PRAGMA synchronous=FULL", "add label"); }
    ~FullSyncGuard() {
        try {
            db_.exec("PRAGMA synchronous=NORMAL", "add label");
        } catch (...) {  // leaves the connection at FULL: slower, never less safe
        }
    }

private:
    Db& db_;
};

data::Messages prompt_of(Db& db, const std::string& kind, const std::string& content, int64_t prompt_id) {
    std::string where = db.path() + ": record " + std::to_string(prompt_id);
    nlohmann::json j = nlohmann::json::parse(content, nullptr, false);
    if (j.is_discarded()) throw Error(where + ": stored content is not valid JSON");
    return record_prompt_messages(record_from_content_json(kind_from_name(kind, where), j, where));
}

Completion completion_from_row(Stmt& st, int first) {
    // columns from `first`: id, prompt_id, text, model, run_id, checkpoint, sampling, seed
    Completion c;
    c.id = st.col_int(first);
    c.prompt_id = st.col_int(first + 1);
    c.text = st.col_text(first + 2);
    c.model = st.col_text(first + 3);
    c.run_id = st.col_opt_int(first + 4);
    c.checkpoint = st.col_text(first + 5);
    c.sampling_json = st.col_text(first + 6);
    c.seed = st.col_opt_int(first + 7);
    return c;
}

}  // namespace

int64_t Project::annotator(const std::string& name) {
    Db& db = impl_->db;
    if (name.empty()) throw Error(database_path() + ": add annotator: the name is empty");
    {
        Stmt st = db.cached("SELECT id FROM annotators WHERE name = ?", "find annotator");
        st.bind(1, name);
        if (st.step()) return st.col_int(0);
    }
    Transaction tx(db, "add annotator");
    db.cached("INSERT INTO annotators(name) VALUES (?) ON CONFLICT(name) DO NOTHING", "add annotator").bind(1, name).run();
    tx.commit();
    Stmt st = db.cached("SELECT id FROM annotators WHERE name = ?", "find annotator");
    st.bind(1, name);
    if (!st.step()) throw Error(database_path() + ": add annotator '" + name + "': row missing after insert");
    return st.col_int(0);
}

std::vector<Annotator> Project::annotators() {
    Stmt st = impl_->db.cached(
        "SELECT an.id, an.name, an.created_at, (SELECT count(DISTINCT l.comparison_id) FROM labels l"
        " WHERE l.annotator_id = an.id AND l.kind = 'label' AND " RLHF_NOT_UNDONE("l") ")"
        " FROM annotators an ORDER BY an.name",
        "list annotators");
    std::vector<Annotator> out;
    while (st.step()) out.push_back({st.col_int(0), st.col_text(1), st.col_text(2), st.col_int(3)});
    return out;
}

int64_t Project::add_completion(const Completion& c) {
    Db& db = impl_->db;
    Transaction tx(db, "add completion");
    db.cached(
          "INSERT INTO completions(prompt_id, text, model, run_id, checkpoint, sampling, seed)"
          " VALUES (?, ?, ?, ?, ?, ?, ?)",
          "add completion")
        .bind(1, c.prompt_id)
        .bind(2, c.text)
        .bind(3, c.model)
        .bind(4, c.run_id)
        .bind(5, c.checkpoint)
        .bind(6, c.sampling_json.empty() ? std::string("{}") : c.sampling_json)
        .bind(7, c.seed)
        .run();
    int64_t id = db.last_insert_id();
    tx.commit();
    return id;
}

int64_t Project::create_comparison(int64_t prompt_id, int64_t completion_a, int64_t completion_b,
                                   std::mt19937_64& rng) {
    // Which side is shown left is a fair coin: annotators favour one position (position bias).
    return create_comparison(prompt_id, completion_a, completion_b, (rng() & 1u) != 0);
}

int64_t Project::create_comparison(int64_t prompt_id, int64_t completion_a, int64_t completion_b, bool a_on_left) {
    Db& db = impl_->db;
    Transaction tx(db, "create comparison");
    {
        // Both completions must answer this prompt; SQL's foreign keys alone cannot say that.
        Stmt st = db.cached("SELECT count(*) FROM completions WHERE prompt_id = ? AND id IN (?, ?)", "create comparison");
        st.bind(1, prompt_id).bind(2, completion_a).bind(3, completion_b);
        st.step();
        if (st.col_int(0) != 2 || completion_a == completion_b)
            throw Error(database_path() + ": create comparison: completions " + std::to_string(completion_a) + " and " +
                        std::to_string(completion_b) + " are not two completions of prompt " +
                        std::to_string(prompt_id));
    }
    db.cached("INSERT INTO comparisons(prompt_id, completion_a, completion_b, a_on_left) VALUES (?, ?, ?, ?)",
              "create comparison")
        .bind(1, prompt_id)
        .bind(2, completion_a)
        .bind(3, completion_b)
        .bind(4, a_on_left ? 1 : 0)
        .run();
    int64_t id = db.last_insert_id();
    tx.commit();
    return id;
}

std::optional<ComparisonView> Project::comparison(int64_t id) {
    Stmt st = impl_->db.cached(
        "SELECT c.id, c.prompt_id, c.a_on_left, p.kind, p.content,"
        " a.id, a.prompt_id, a.text, a.model, a.run_id, a.checkpoint, a.sampling, a.seed,"
        " b.id, b.prompt_id, b.text, b.model, b.run_id, b.checkpoint, b.sampling, b.seed"
        " FROM comparisons c JOIN records p ON p.id = c.prompt_id"
        " JOIN completions a ON a.id = c.completion_a JOIN completions b ON b.id = c.completion_b"
        " WHERE c.id = ?",
        "read comparison");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    ComparisonView v;
    v.id = st.col_int(0);
    v.prompt_id = st.col_int(1);
    v.a_on_left = st.col_int(2) != 0;
    v.prompt = prompt_of(impl_->db, st.col_text(3), st.col_text(4), v.prompt_id);
    v.a = completion_from_row(st, 5);
    v.b = completion_from_row(st, 13);
    return v;
}

std::optional<ComparisonView> Project::next_unlabeled(int64_t annotator_id) {
    int64_t id = 0;
    {
        Stmt st = impl_->db.cached(
            "SELECT c.id FROM comparisons c WHERE NOT EXISTS (SELECT 1 FROM labels l"
            " WHERE l.comparison_id = c.id AND l.annotator_id = ? AND l.kind = 'label' AND " RLHF_NOT_UNDONE("l") ")"
            " ORDER BY c.id LIMIT 1",
            "next unlabeled comparison");
        st.bind(1, annotator_id);
        if (!st.step()) return std::nullopt;
        id = st.col_int(0);
    }
    return comparison(id);
}

int64_t Project::add_label(const LabelInput& label) {
    Db& db = impl_->db;
    FullSyncGuard full_sync(db);
    Transaction tx(db, "add label");
    db.cached(
          "INSERT INTO labels(comparison_id, annotator_id, kind, choice, rationale, seconds)"
          " VALUES (?, ?, 'label', ?, ?, ?)",
          "add label")
        .bind(1, label.comparison_id)
        .bind(2, label.annotator_id)
        .bind(3, choice_name(label.choice))
        .bind(4, label.rationale)
        .bind(5, label.seconds)
        .run();
    int64_t id = db.last_insert_id();
    tx.commit();
    return id;
}

std::optional<int64_t> Project::undo_last_label(int64_t annotator_id) {
    Db& db = impl_->db;
    FullSyncGuard full_sync(db);
    Transaction tx(db, "undo label");
    int64_t target = 0, comparison_id = 0;
    {
        Stmt st = db.cached(
            "SELECT l.id, l.comparison_id FROM labels l WHERE l.annotator_id = ? AND l.kind = 'label' AND "
            RLHF_NOT_UNDONE("l") " ORDER BY l.id DESC LIMIT 1",
            "undo label");
        st.bind(1, annotator_id);
        if (!st.step()) return std::nullopt;  // the transaction rolls back: nothing was written
        target = st.col_int(0);
        comparison_id = st.col_int(1);
    }
    db.cached("INSERT INTO labels(comparison_id, annotator_id, kind, undoes) VALUES (?, ?, 'undo', ?)", "undo label")
        .bind(1, comparison_id)
        .bind(2, annotator_id)
        .bind(3, target)
        .run();
    tx.commit();
    return target;
}

int64_t Project::comparison_count() {
    Stmt st = impl_->db.cached("SELECT count(*) FROM comparisons", "count comparisons");
    st.step();
    return st.col_int(0);
}

int64_t Project::labeled_count(int64_t annotator_id) {
    Stmt st = impl_->db.cached(
        "SELECT count(DISTINCT l.comparison_id) FROM labels l WHERE l.annotator_id = ? AND l.kind = 'label' AND "
        RLHF_NOT_UNDONE("l"),
        "count labels");
    st.bind(1, annotator_id);
    st.step();
    return st.col_int(0);
}

std::vector<LabelRow> Project::labels_in_force() {
    std::string sql = std::string(
                          "SELECT f.id, f.comparison_id, an.name, f.choice, f.rationale, f.seconds, f.created_at,"
                          " p.id, p.kind, p.content, ca.text, cb.text, c.a_on_left, ca.model, cb.model FROM (") +
                      kLabelsInForce +
                      ") f JOIN annotators an ON an.id = f.annotator_id"
                      " JOIN comparisons c ON c.id = f.comparison_id JOIN records p ON p.id = c.prompt_id"
                      " JOIN completions ca ON ca.id = c.completion_a JOIN completions cb ON cb.id = c.completion_b"
                      " ORDER BY f.id";
    Db& db = impl_->db;
    Stmt st = db.prepare(sql, "read labels");
    std::vector<LabelRow> out;
    while (st.step()) {
        LabelRow r;
        r.label_id = st.col_int(0);
        r.comparison_id = st.col_int(1);
        r.annotator = st.col_text(2);
        r.choice = choice_from_name(st.col_text(3), database_path() + ": label " + std::to_string(r.label_id));
        r.rationale = st.col_text(4);
        r.seconds = st.col_opt_double(5);
        r.created_at = st.col_text(6);
        r.prompt = prompt_of(db, st.col_text(8), st.col_text(9), st.col_int(7));
        r.completion_a = st.col_text(10);
        r.completion_b = st.col_text(11);
        r.a_on_left = st.col_int(12) != 0;
        r.model_a = st.col_text(13);
        r.model_b = st.col_text(14);
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<LabelEvent> Project::label_history() {
    Stmt st = impl_->db.cached(
        "SELECT id, comparison_id, annotator_id, kind, choice, undoes, created_at FROM labels ORDER BY id",
        "read label history");
    std::vector<LabelEvent> out;
    while (st.step()) {
        LabelEvent e;
        e.id = st.col_int(0);
        e.comparison_id = st.col_int(1);
        e.annotator_id = st.col_int(2);
        e.kind = st.col_text(3);
        if (!st.col_null(4)) e.choice = choice_from_name(st.col_text(4), database_path() + ": label " + std::to_string(e.id));
        e.undoes = st.col_opt_int(5);
        e.created_at = st.col_text(6);
        out.push_back(std::move(e));
    }
    return out;
}

Agreement Project::agreement(int64_t annotator_1, int64_t annotator_2) {
    std::string sql = std::string("SELECT f.comparison_id, f.annotator_id, f.choice FROM (") + kLabelsInForce +
                      ") f WHERE f.annotator_id IN (?, ?)";
    Stmt st = impl_->db.cached(sql.c_str(), "annotator agreement");
    st.bind(1, annotator_1).bind(2, annotator_2);
    std::map<int64_t, std::optional<Choice>> first, second;
    while (st.step()) {
        Choice c = choice_from_name(st.col_text(2), database_path() + ": annotator agreement");
        (st.col_int(1) == annotator_1 ? first : second)[st.col_int(0)] = c;
    }
    std::vector<std::pair<Choice, Choice>> pairs;
    for (const auto& [comparison, c1] : first) {
        auto it = second.find(comparison);
        if (it != second.end()) pairs.emplace_back(*c1, *it->second);
    }
    return cohen_kappa(pairs);
}

#undef RLHF_NOT_UNDONE

}  // namespace rlhf::store
