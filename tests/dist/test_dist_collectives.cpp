// Tests of core/dist's ProcessGroup: the torchrun environment parser (errors name the variable),
// the bucket plan, and the collectives between two real Gloo processes on loopback (this
// executable re-run as rank 0 and rank 1, see spawn_ranks.h), checked against means and sums
// computed by hand; plus the rendezvous timeout when a peer never joins.
#include <QtTest/QtTest>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <torch/torch.h>

#include "core/dist/process_group.h"
#include "core/io/error.h"
#include "dist/spawn_ranks.h"

using namespace rlhf::dist;
namespace fs = std::filesystem;

namespace {

GetEnv env_of(const std::map<std::string, std::string>& m) {
    return [m](const char* name) -> const char* {
        auto it = m.find(name);
        return it == m.end() ? nullptr : it->second.c_str();
    };
}

std::string error_of(const std::map<std::string, std::string>& m) {
    try {
        read_dist_env(env_of(m));
    } catch (const rlhf::Error& e) {
        return e.what();
    }
    return "";
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// ---- child processes ------------------------------------------------------------------------

// Rank r holds a = (r+1)·[0..11] (3,4) f32, b = 10r + [0..4] f32, c = (r == 0 ? 1 : 4) (2,2) f64;
// 64-byte buckets split them into several collectives. Saves the results for the parent.
int child_collectives() {
    ProcessGroupOptions o;
    o.bucket_bytes = 64;
    o.timeout = std::chrono::milliseconds(60000);
    auto pg = ProcessGroup::from_env(o);
    const double r = static_cast<double>(pg->rank());
    std::vector<torch::Tensor> t{torch::arange(12, torch::kFloat32).view({3, 4}) * (r + 1),
                                 torch::arange(5, torch::kFloat32) + 10 * r,
                                 torch::full({2, 2}, r == 0 ? 1.0 : 4.0, torch::kFloat64)};
    pg->allreduce_mean(t);
    std::vector<double> sums{1.5, r};
    pg->allreduce_sum(sums);
    std::vector<torch::Tensor> bc{r == 0 ? torch::tensor({7.f, 8.f, 9.f}) : torch::zeros({3}),
                                  r == 0 ? torch::ones({2, 40}) : torch::zeros({2, 40})};
    pg->broadcast(bc, 0);
    const int64_t v = pg->broadcast_value(pg->rank() == 0 ? 42 : -1);
    pg->barrier();
    std::vector<torch::Tensor> out{t[0], t[1], t[2], torch::tensor(sums, torch::kFloat64), bc[0], bc[1],
                                   torch::tensor({v}, torch::kInt64),
                                   torch::tensor({pg->world_size()}, torch::kInt64)};
    torch::save(out, std::string(std::getenv("RLHF_DIST_TEST_DIR")) + "/rank" + std::to_string(pg->rank()) + ".pt");
    std::printf("backend %s\n", pg->backend_name().c_str());
    return 0;
}

// Rank 1 exits at once; rank 0 must give up after the 2 s timeout with an error, not hang.
int child_lonely() {
    if (std::string(std::getenv("RANK")) == "1") return 0;
    ProcessGroupOptions o;
    o.timeout = std::chrono::milliseconds(2000);
    try {
        auto pg = ProcessGroup::from_env(o);
        pg->barrier();
    } catch (const rlhf::Error& e) {
        std::printf("error: %s\n", e.what());
        return 1;
    }
    return 0;
}

}  // namespace

class DistCollectivesTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void env_absent_or_one_is_single_process() {
        QVERIFY(!read_dist_env(env_of({})));
        QVERIFY(!read_dist_env(env_of({{"WORLD_SIZE", "1"}})));
        const auto e = read_dist_env(env_of({{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"MASTER_ADDR", "10.0.0.2"},
                                             {"MASTER_PORT", "29500"}, {"LOCAL_RANK", "1"}}));
        QVERIFY(e);
        QCOMPARE(e->world_size, int64_t(4));
        QCOMPARE(e->rank, int64_t(3));
        QCOMPARE(e->local_rank, int64_t(1));
        QCOMPARE(e->port, 29500);
        QCOMPARE(e->master_addr, std::string("10.0.0.2"));
        // LOCAL_RANK defaults to RANK (one machine)
        QCOMPARE(read_dist_env(env_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}))
                     ->local_rank,
                 int64_t(1));
    }

    void env_errors_name_the_variable() {
        const std::map<std::string, std::string> ok{
            {"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}};
        struct Case {
            const char* var;
            const char* value;  // nullptr = unset
        };
        const Case cases[] = {{"WORLD_SIZE", "two"}, {"WORLD_SIZE", "0"},   {"RANK", nullptr},
                              {"RANK", "2"},         {"RANK", "-1"},        {"MASTER_ADDR", nullptr},
                              {"MASTER_PORT", nullptr}, {"MASTER_PORT", "70000"}, {"MASTER_PORT", "80x"},
                              {"LOCAL_RANK", "x"}};
        for (const auto& c : cases) {
            auto env = ok;
            if (c.value) env[c.var] = c.value;
            else env.erase(c.var);
            const std::string msg = error_of(env);
            QVERIFY2(msg.find(std::string("environment variable ") + c.var) != std::string::npos,
                     (std::string(c.var) + " -> '" + msg + "'").c_str());
        }
        QVERIFY(error_of(ok).empty());
    }

    void bucket_plan_groups_by_dtype_and_size() {
        // f32 tensors of 4 elements = 16 bytes; 40-byte buckets hold two of them.
        auto f = [] { return torch::zeros({4}, torch::kFloat32); };
        auto d = [] { return torch::zeros({4}, torch::kFloat64); };  // 32 bytes
        using Plan = std::vector<std::vector<size_t>>;
        QCOMPARE(plan_buckets({f(), f(), f(), d()}, 40), (Plan{{0, 1}, {2}, {3}}));
        QCOMPARE(plan_buckets({f(), d(), f(), d()}, 40), (Plan{{0, 2}, {1}, {3}}));
        // a tensor larger than a bucket gets its own
        QCOMPARE(plan_buckets({f(), torch::zeros({100}), f()}, 40), (Plan{{0}, {1}, {2}}));
        QCOMPARE(plan_buckets({}, 40), Plan{});
    }

    void single_process_collectives_are_no_ops() {
        ::unsetenv("WORLD_SIZE");
        auto pg = ProcessGroup::from_env();
        QCOMPARE(pg->world_size(), int64_t(1));
        QCOMPARE(pg->rank(), int64_t(0));
        QCOMPARE(pg->backend_name(), std::string("none"));
        std::vector<torch::Tensor> t{torch::tensor({1.f, 2.f})};
        pg->allreduce_mean(t);
        pg->broadcast(t);
        pg->barrier();
        QVERIFY(torch::equal(t[0], torch::tensor({1.f, 2.f})));
        std::vector<double> s{3.0};
        pg->allreduce_sum(s);
        QCOMPARE(s[0], 3.0);
    }

    void two_gloo_ranks_reduce_and_broadcast() {
        QTemporaryDir dir;
        const std::string d = dir.path().toStdString();
        const auto codes = rlhf::dist_test::spawn_ranks("collectives", 2, d);
        for (int r = 0; r < 2; ++r)
            QVERIFY2(codes[static_cast<size_t>(r)] == 0, read_text(d + "/rank" + std::to_string(r) + ".log").c_str());
        QVERIFY(read_text(d + "/rank0.log").find("backend gloo") != std::string::npos);
        for (int r = 0; r < 2; ++r) {
            std::vector<torch::Tensor> t;
            torch::load(t, d + "/rank" + std::to_string(r) + ".pt");
            QCOMPARE(t.size(), size_t(8));
            // a: mean of 1·k and 2·k = 1.5·k; b: mean of k and 10 + k = 5 + k; c: (1 + 4) / 2 = 2.5
            QVERIFY(torch::equal(t[0], torch::arange(12, torch::kFloat32).view({3, 4}) * 1.5));
            QVERIFY(torch::equal(t[1], torch::arange(5, torch::kFloat32) + 5));
            QVERIFY(torch::equal(t[2], torch::full({2, 2}, 2.5, torch::kFloat64)));
            // sums: 1.5 + 1.5 = 3, ranks 0 + 1 = 1
            QVERIFY(torch::equal(t[3], torch::tensor({3.0, 1.0}, torch::kFloat64)));
            // broadcast from rank 0
            QVERIFY(torch::equal(t[4], torch::tensor({7.f, 8.f, 9.f})));
            QVERIFY(torch::equal(t[5], torch::ones({2, 40})));
            QCOMPARE(t[6].item<int64_t>(), int64_t(42));
            QCOMPARE(t[7].item<int64_t>(), int64_t(2));
        }
    }

    void a_missing_peer_times_out_with_an_error() {
        QTemporaryDir dir;
        const std::string d = dir.path().toStdString();
        const auto codes = rlhf::dist_test::spawn_ranks("lonely", 2, d);
        const std::string log = read_text(d + "/rank0.log");
        QCOMPARE(codes[1], 0);
        QVERIFY2(codes[0] == 1, log.c_str());
        QVERIFY2(log.find("rank 0 of 2") != std::string::npos && log.find("MASTER_ADDR:MASTER_PORT 127.0.0.1:") != std::string::npos,
                 log.c_str());
    }
};

int main(int argc, char** argv) {
    if (const char* mode = std::getenv("RLHF_DIST_TEST_CHILD")) {
        at::set_num_threads(1);
        try {
            if (std::string(mode) == "collectives") return child_collectives();
            if (std::string(mode) == "lonely") return child_lonely();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child %s failed: %s\n", mode, e.what());
            return 3;
        }
        return 4;
    }
    DistCollectivesTest test;
    return QTest::qExec(&test, argc, argv);
}

#include "test_dist_collectives.moc"
