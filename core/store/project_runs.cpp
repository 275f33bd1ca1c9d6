// Runs and what they produce: metric series (polled by the live plots), samples, checkpoints.
#include <cmath>
#include <limits>

#include "core/io/error.h"
#include "core/store/project.h"
#include "core/store/project_impl.h"

namespace rlhf::store {

namespace {
constexpr const char* kRunColumns =
    "id, kind, name, config_yaml, status, error, parent_run_id, base_model, created_at, updated_at";

RunInfo run_from_row(Stmt& st, const std::string& db_path) {
    RunInfo r;
    r.id = st.col_int(0);
    r.kind = st.col_text(1);
    r.name = st.col_text(2);
    r.config_yaml = st.col_text(3);
    r.status = run_status_from_name(st.col_text(4), db_path + ": run " + std::to_string(r.id));
    r.error = st.col_text(5);
    r.parent_run_id = st.col_opt_int(6);
    r.base_model = st.col_text(7);
    r.created_at = st.col_text(8);
    r.updated_at = st.col_text(9);
    return r;
}
}  // namespace

int64_t Project::create_run(const RunInfo& run) {
    Db& db = impl_->db;
    Transaction tx(db, "create run");
    db.cached(
          "INSERT INTO runs(kind, name, config_yaml, status, error, parent_run_id, base_model)"
          " VALUES (?, ?, ?, ?, ?, ?, ?)",
          "create run")
        .bind(1, run.kind)
        .bind(2, run.name)
        .bind(3, run.config_yaml)
        .bind(4, run_status_name(run.status))
        .bind(5, run.error)
        .bind(6, run.parent_run_id)
        .bind(7, run.base_model)
        .run();
    int64_t id = db.last_insert_id();
    tx.commit();
    return id;
}

void Project::set_run_status(int64_t run_id, RunStatus status, const std::string& error) {
    Db& db = impl_->db;
    Transaction tx(db, "set run status");
    db.cached(
          "UPDATE runs SET status = ?, error = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?",
          "set run status")
        .bind(1, run_status_name(status))
        .bind(2, error)
        .bind(3, run_id)
        .run();
    if (db.changes() == 0) throw Error(database_path() + ": set run status: no run with id " + std::to_string(run_id));
    tx.commit();
}

std::optional<RunInfo> Project::run(int64_t run_id) {
    std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?";
    Stmt st = impl_->db.cached(sql.c_str(), "read run");
    st.bind(1, run_id);
    if (!st.step()) return std::nullopt;
    return run_from_row(st, database_path());
}

std::vector<RunInfo> Project::runs() {
    std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY id DESC";
    Stmt st = impl_->db.cached(sql.c_str(), "list runs");
    std::vector<RunInfo> out;
    while (st.step()) out.push_back(run_from_row(st, database_path()));
    return out;
}

void Project::append_metrics(int64_t run_id, const std::vector<MetricPoint>& points) {
    if (points.empty()) return;
    Db& db = impl_->db;
    Transaction tx(db, "append metrics");
    {
        Stmt st = db.cached("INSERT OR REPLACE INTO metrics(run_id, name, step, value, wall_time) VALUES (?, ?, ?, ?, ?)",
                            "append metrics");
        for (const MetricPoint& p : points) {
            st.bind(1, run_id).bind(2, p.name).bind(3, p.step).bind(5, p.wall_time);
            // SQLite turns NaN into NULL on its own; be explicit so the read side can rely on it.
            if (std::isnan(p.value))
                st.bind_null(4);
            else
                st.bind(4, p.value);
            st.run();
            st.reset();
        }
    }
    tx.commit();
}

std::vector<MetricPoint> Project::metrics(int64_t run_id, int64_t after_step, const std::string& name) {
    const char* sql = name.empty()
                          ? "SELECT name, step, value, wall_time FROM metrics WHERE run_id = ? AND step > ?"
                            " ORDER BY step, name"
                          : "SELECT name, step, value, wall_time FROM metrics WHERE run_id = ? AND step > ?"
                            " AND name = ? ORDER BY step";
    Stmt st = impl_->db.cached(sql, "read metrics");
    st.bind(1, run_id).bind(2, after_step);
    if (!name.empty()) st.bind(3, name);
    std::vector<MetricPoint> out;
    while (st.step())
        out.push_back({st.col_text(0), st.col_int(1),
                       st.col_null(2) ? std::numeric_limits<double>::quiet_NaN() : st.col_double(2),
                       st.col_double(3)});
    return out;
}

std::vector<std::string> Project::metric_names(int64_t run_id) {
    Stmt st = impl_->db.cached("SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name", "read metric names");
    st.bind(1, run_id);
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.col_text(0));
    return out;
}

void Project::add_samples(int64_t run_id, const std::vector<Sample>& samples) {
    if (samples.empty()) return;
    Db& db = impl_->db;
    Transaction tx(db, "add samples");
    {
        Stmt st = db.cached("INSERT INTO samples(run_id, step, prompt, response, reward, extra) VALUES (?, ?, ?, ?, ?, ?)",
                            "add samples");
        for (const Sample& s : samples) {
            st.bind(1, run_id).bind(2, s.step).bind(3, s.prompt).bind(4, s.response).bind(5, s.reward);
            st.bind(6, s.extra_json.empty() ? std::string("{}") : s.extra_json);
            st.run();
            st.reset();
        }
    }
    tx.commit();
}

std::vector<Sample> Project::samples(int64_t run_id, int64_t after_step, int64_t limit) {
    Stmt st = impl_->db.cached(
        "SELECT id, run_id, step, prompt, response, reward, extra FROM samples WHERE run_id = ? AND step > ?"
        " ORDER BY step, id LIMIT ?",
        "read samples");
    st.bind(1, run_id).bind(2, after_step).bind(3, limit);
    std::vector<Sample> out;
    while (st.step())
        out.push_back({st.col_int(0), st.col_int(1), st.col_int(2), st.col_text(3), st.col_text(4),
                       st.col_opt_double(5), st.col_text(6)});
    return out;
}

int64_t Project::add_checkpoint(const Checkpoint& c) {
    Db& db = impl_->db;
    Transaction tx(db, "add checkpoint");
    db.cached("INSERT OR REPLACE INTO checkpoints(run_id, step, path, sha256) VALUES (?, ?, ?, ?)", "add checkpoint")
        .bind(1, c.run_id)
        .bind(2, c.step)
        .bind(3, c.path)
        .bind(4, c.sha256)
        .run();
    int64_t id = db.last_insert_id();
    tx.commit();
    return id;
}

std::vector<Checkpoint> Project::checkpoints(int64_t run_id) {
    Stmt st = impl_->db.cached(
        "SELECT id, run_id, step, path, sha256, created_at FROM checkpoints WHERE run_id = ? ORDER BY step",
        "read checkpoints");
    st.bind(1, run_id);
    std::vector<Checkpoint> out;
    while (st.step())
        out.push_back({st.col_int(0), st.col_int(1), st.col_int(2), st.col_text(3), st.col_text(4), st.col_text(5)});
    return out;
}

}  // namespace rlhf::store
