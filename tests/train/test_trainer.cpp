// Tests of core/train/trainer and core/train/checkpoint on tiny modules (no model files needed):
// the learning-rate schedule and one AdamW update by hand, gradient accumulation equivalence,
// the non-finite guard, cancellation, bitwise resume exactness, corrupt-checkpoint fallback, and
// SIGKILL during checkpoint writes (forked writer children).
#include <QtTest/QtTest>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <torch/torch.h>

#include "core/io/error.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"

using namespace rlhf::train;
namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// A tiny regression task. Each micro-batch: rows [cursor, cursor + mb) of a fixed dataset (so
// the split into micro-batches does not change what is seen), plus Gaussian label noise from
// the task's own std::mt19937 and, with dropout, draws from torch's CPU generator: a resumed run
// only matches if both RNG states are restored.
struct MlpImpl : torch::nn::Module {
    MlpImpl(int64_t in, int64_t hidden, double dropout)
        : fc1(register_module("fc1", torch::nn::Linear(in, hidden))),
          drop(register_module("drop", torch::nn::Dropout(dropout))),
          fc2(register_module("fc2", torch::nn::Linear(hidden, 1))) {}
    torch::Tensor forward(const torch::Tensor& x) { return fc2(drop(torch::tanh(fc1(x)))); }
    torch::nn::Linear fc1;
    torch::nn::Dropout drop;
    torch::nn::Linear fc2;
};
TORCH_MODULE(Mlp);

class RegressionTask : public TrainTask {
public:
    RegressionTask(int64_t hidden, double dropout, int64_t micro_batch, uint64_t init_seed)
        : micro_batch_(micro_batch) {
        torch::manual_seed(init_seed);
        mlp_ = Mlp(4, hidden, dropout);
        auto gen = at::detail::createCPUGenerator(1234);  // the dataset never changes
        x_ = torch::randn({64, 4}, gen);                   // x: (N, 4)
        y_ = torch::sin(x_.sum(1, true));                  // y: (N, 1)
    }
    torch::nn::Module& module() override { return *mlp_; }
    torch::Tensor micro_batch_loss(StepContext& ctx) override {
        auto idx = torch::arange(cursor_, cursor_ + micro_batch_) % x_.size(0);
        cursor_ = (cursor_ + micro_batch_) % x_.size(0);
        std::normal_distribution<float> noise(0.f, 0.01f);
        auto y = y_.index_select(0, idx).clone();
        for (int64_t i = 0; i < y.size(0); ++i) y[i][0] += noise(rng_);
        auto pred = mlp_->forward(x_.index_select(0, idx));
        auto loss = torch::mse_loss(pred, y);
        if (nan_steps_.count(ctx.step)) loss = loss * std::nan("");
        ctx.metrics["num_tokens"] = static_cast<double>(micro_batch_);
        return loss;
    }
    nlohmann::json save_state() const override {
        std::ostringstream os;
        os << rng_;
        return {{"cursor", cursor_}, {"rng", os.str()}};
    }
    void load_state(const nlohmann::json& s) override {
        cursor_ = s.at("cursor").get<int64_t>();
        std::istringstream is(s.at("rng").get<std::string>());
        is >> rng_;
    }
    std::set<int64_t> nan_steps_;
    Mlp mlp_{nullptr};

private:
    int64_t micro_batch_;
    torch::Tensor x_, y_;
    int64_t cursor_ = 0;
    std::mt19937 rng_{99};
};

// loss = Σ c_i w_i on a parameter vector w: gradient is c, known by hand.
struct LinearLossModule : torch::nn::Module {
    explicit LinearLossModule(std::vector<double> init) {
        w = register_parameter("w", torch::tensor(init, torch::kFloat64));
    }
    torch::Tensor w;
};
class LinearLossTask : public TrainTask {
public:
    LinearLossTask(std::vector<double> init, std::vector<double> coef)
        : m_(std::make_shared<LinearLossModule>(std::move(init))), c_(torch::tensor(coef, torch::kFloat64)) {}
    torch::nn::Module& module() override { return *m_; }
    torch::Tensor micro_batch_loss(StepContext&) override { return (m_->w * c_).sum(); }
    std::shared_ptr<LinearLossModule> m_;
    torch::Tensor c_;
};

std::vector<torch::Tensor> params_of(torch::nn::Module& m) {
    std::vector<torch::Tensor> out;
    for (auto& p : m.parameters()) out.push_back(p.detach().clone());
    return out;
}
bool all_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (!torch::equal(a[i], b[i])) return false;
    return true;
}

TrainerOptions small_options(const std::string& dir, int64_t max_steps) {
    TrainerOptions o;
    o.optimizer.lr = 1e-2;
    o.optimizer.weight_decay = 0.01;
    o.schedule.type = LrSchedule::Cosine;
    o.schedule.warmup_steps = 2;
    o.max_steps = max_steps;
    o.max_grad_norm = 1.0;
    o.seed = 42;
    o.checkpoint_dir = dir;
    o.keep_last = 0;
    return o;
}

std::string temp_dir(const char* tag) {
    auto p = fs::temp_directory_path() / (std::string("rlhf-train-") + tag + "-" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
}

// ---------------------------------------------------------------------------------------------
// The SIGKILL test's writer, run in a forked child: resume from the newest checkpoint, signal
// readiness with one byte on `ready_fd`, then write a checkpoint after every step until killed.
// (Forked, not exec'd: LibTorch is already loaded, so a round costs milliseconds; the parent runs
// LibTorch single-threaded, so no OpenMP pool is inherited half-initialised.)
[[noreturn]] void run_checkpoint_writer(const std::string& dir, int ready_fd) {
    try {
        RegressionTask task(/*hidden=*/1024, /*dropout=*/0.0, /*micro_batch=*/8, /*init_seed=*/5);
        auto opts = small_options(dir, 1'000'000);
        opts.checkpoint_every = 1;
        opts.keep_last = 2;
        Trainer trainer(opts, task);
        trainer.resume();
        if (::write(ready_fd, "R", 1) != 1) ::_exit(3);
        trainer.run();
    } catch (...) {
        ::_exit(4);  // never unwind into the test framework of the parent's copy
    }
    ::_exit(0);
}

}  // namespace

class TrainerTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { at::set_num_threads(1); }

    void lr_schedule_by_hand() {
        // lr 1e-3, lr_min 1e-4, warmup 4, total 12 -> decay over 8 steps, p = (s − 4)/8
        ScheduleConfig s;
        s.warmup_steps = 4;
        s.lr_min = 1e-4;
        s.type = LrSchedule::Cosine;
        // warmup: 1e-3 · (s+1)/4: s=0 -> 2.5e-4, s=3 -> 1e-3
        QVERIFY(std::fabs(lr_at_step(s, 1e-3, 0, 12) - 2.5e-4) < 1e-15);
        QVERIFY(std::fabs(lr_at_step(s, 1e-3, 3, 12) - 1e-3) < 1e-15);
        // cosine s=4: p = 0 -> 1e-3; s=5: p = 1/8: 1e-4 + 9e-4 · ½(1 + cos(π/8)) = 1e-4 + 4.5e-4 · 1.9238795 = 9.6574579e-4
        QVERIFY(std::fabs(lr_at_step(s, 1e-3, 4, 12) - 1e-3) < 1e-15);
        QVERIFY(std::fabs(lr_at_step(s, 1e-3, 5, 12) - 9.6574579e-4) < 1e-11);
        // s=8: p = ½: 1e-4 + 4.5e-4 = 5.5e-4; last step s=11: p = 7/8: 1e-4 + 4.5e-4 · (1 − 0.9238795) = 1.3425421e-4
        QVERIFY(std::fabs(lr_at_step(s, 1e-3, 8, 12) - 5.5e-4) < 1e-15);
        QVERIFY(std::fabs(lr_at_step(s, 1e-3, 11, 12) - 1.3425421e-4) < 1e-11);
        s.type = LrSchedule::Linear;
        // linear s=6: p = 2/8: 1e-3 − 9e-4 · 0.25 = 7.75e-4
        QVERIFY(std::fabs(lr_at_step(s, 1e-3, 6, 12) - 7.75e-4) < 1e-15);
        s.type = LrSchedule::Constant;
        QCOMPARE(lr_at_step(s, 1e-3, 10, 12), 1e-3);
    }

    void adamw_step_and_clip_by_hand() {
        // loss = 3 w0 + 4 w1 at w = (1, 1): gradient (3, 4), norm 5 -> clipped to (0.6, 0.8).
        // AdamW step 1 (β1 .9, β2 .999, ε 1e-8, lr 0.1, wd 0.01):
        //   w ← w (1 − lr·wd) = 0.999;  m̂ = g, v̂ = g² -> update lr · g/(|g| + ε) ≈ 0.1
        //   w = 0.999 − 0.1 = 0.899 for both (Adam's first step is sign-like)
        LinearLossTask task({1, 1}, {3, 4});
        TrainerOptions o;
        o.optimizer.lr = 0.1;
        o.optimizer.weight_decay = 0.01;
        o.max_steps = 1;
        o.max_grad_norm = 1.0;
        Metrics seen;
        TrainerCallbacks cb;
        cb.on_metrics = [&](int64_t, const Metrics& m) { seen = m; };
        Trainer t(o, task, cb);
        t.run();
        QVERIFY(std::fabs(seen.at("grad_norm") - 5.0) < 1e-12);
        QVERIFY(std::fabs(seen.at("loss") - 7.0) < 1e-12);
        QCOMPARE(seen.at("learning_rate"), 0.1);
        auto w = task.m_->w;
        QVERIFY(std::fabs(w[0].item<double>() - 0.899) < 1e-7);
        QVERIFY(std::fabs(w[1].item<double>() - 0.899) < 1e-7);
    }

    void grad_accumulation_matches_big_batch() {
        // Mean-loss over 8 rows in one micro-batch == mean of two 4-row micro-batch means:
        // the parameters after 3 steps agree to float rounding.
        RegressionTask big(16, 0.0, 8, 3), small(16, 0.0, 4, 3);
        auto o1 = small_options("", 3);
        auto o2 = o1;
        o2.grad_accum = 2;
        Trainer(o1, big).run();
        Trainer(o2, small).run();
        auto a = params_of(big.module()), b = params_of(small.module());
        QCOMPARE(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) QVERIFY(torch::allclose(a[i], b[i], 1e-5, 1e-6));
        // and it actually trained (not a test that cannot fail)
        RegressionTask fresh(16, 0.0, 8, 3);
        QVERIFY(!all_equal(a, params_of(fresh.module())));
    }

    void nonfinite_step_is_skipped() {
        RegressionTask task(8, 0.0, 4, 1);
        task.nan_steps_ = {2};  // 0-based step 2 = the third step
        auto o = small_options("", 4);
        std::vector<Metrics> metrics;
        std::vector<std::vector<torch::Tensor>> params_after;
        TrainerCallbacks cb;
        cb.on_metrics = [&](int64_t, const Metrics& m) {
            metrics.push_back(m);
            params_after.push_back(params_of(task.module()));
        };
        Trainer t(o, task, cb);
        auto res = t.run();
        QCOMPARE(res.skipped_steps, int64_t(1));
        QCOMPARE(metrics.size(), size_t(4));
        QVERIFY(std::isnan(metrics[2].at("loss")));
        QCOMPARE(metrics[2].at("train/nonfinite_steps"), 1.0);
        QVERIFY(all_equal(params_after[1], params_after[2]));   // skipped: unchanged
        QVERIFY(!all_equal(params_after[2], params_after[3]));  // training goes on
        for (const auto& p : params_after[3])
            QVERIFY(torch::isfinite(p).all().item<bool>());
    }

    void nonfinite_in_a_row_aborts() {
        RegressionTask task(8, 0.0, 4, 1);
        task.nan_steps_ = {0, 1, 2, 3, 4, 5};
        auto before = params_of(task.module());
        auto o = small_options("", 10);
        o.max_nonfinite_in_a_row = 3;
        Trainer t(o, task);
        bool threw = false;
        try {
            t.run();
        } catch (const rlhf::Error& e) {
            threw = std::string(e.what()).find("3 non-finite steps in a row") != std::string::npos;
        }
        QVERIFY(threw);
        QCOMPARE(t.step(), int64_t(3));
        QVERIFY(all_equal(before, params_of(task.module())));
    }

    void cancel_saves_and_throws() {
        auto dir = temp_dir("cancel");
        RegressionTask task(8, 0.0, 4, 1);
        std::atomic<bool> cancel{false};
        TrainerCallbacks cb;
        cb.on_metrics = [&](int64_t step, const Metrics&) {
            if (step == 3) cancel = true;
        };
        Trainer t(small_options(dir, 100), task, cb);
        bool cancelled = false;
        try {
            t.run(&cancel);
        } catch (const rlhf::Cancelled&) {
            cancelled = true;
        }
        QVERIFY(cancelled);
        auto latest = latest_valid_checkpoint(dir);
        QVERIFY(latest.has_value());
        QCOMPARE(latest->step, int64_t(3));
        fs::remove_all(dir);
    }

    void resume_is_bitwise_exact() {
        // Straight: 8 steps. Split: 4 steps, then a NEW task + trainer (different initial weights,
        // torch RNG reseeded) resumes from the checkpoint and runs 4 more. Dropout and label noise
        // make every step depend on the restored torch and std RNG states and the data cursor.
        const int64_t n = 4;
        auto dir_a = temp_dir("straight"), dir_b = temp_dir("split");
        std::vector<double> losses_a, losses_b;
        RegressionTask a(16, 0.2, 4, 7);
        {
            auto o = small_options(dir_a, 2 * n);
            o.grad_accum = 2;
            TrainerCallbacks cb;
            cb.on_metrics = [&](int64_t, const Metrics& m) { losses_a.push_back(m.at("loss")); };
            Trainer(o, a, cb).run();
        }
        {
            // Same run (same schedule length 2n), stopped after n steps by cancellation, which
            // writes the checkpoint of step n.
            RegressionTask b(16, 0.2, 4, 7);
            auto o = small_options(dir_b, 2 * n);
            o.grad_accum = 2;
            std::atomic<bool> cancel{false};
            std::vector<double> first;
            TrainerCallbacks cbb;
            cbb.on_metrics = [&](int64_t step, const Metrics& m) {
                first.push_back(m.at("loss"));
                if (step == n) cancel = true;
            };
            bool cancelled = false;
            try {
                Trainer(o, b, cbb).run(&cancel);
            } catch (const rlhf::Cancelled&) {
                cancelled = true;
            }
            QVERIFY(cancelled);
            QCOMPARE(first.size(), size_t(n));
            for (int64_t i = 0; i < n; ++i) QCOMPARE(first[static_cast<size_t>(i)], losses_a[static_cast<size_t>(i)]);
        }
        QVERIFY(latest_valid_checkpoint(dir_b).has_value());
        torch::manual_seed(31337);
        RegressionTask c(16, 0.2, 4, /*init_seed=*/8);  // other weights: must come from the checkpoint
        auto o = small_options(dir_b, 2 * n);
        o.grad_accum = 2;
        TrainerCallbacks cb;
        cb.on_metrics = [&](int64_t, const Metrics& m) { losses_b.push_back(m.at("loss")); };
        Trainer tc(o, c, cb);
        QCOMPARE(tc.resume(), n);
        tc.run();
        QCOMPARE(losses_a.size(), size_t(2 * n));
        QCOMPARE(losses_b.size(), size_t(n));
        for (int64_t i = 0; i < n; ++i) QCOMPARE(losses_b[static_cast<size_t>(i)], losses_a[static_cast<size_t>(n + i)]);  // bitwise
        QVERIFY(all_equal(params_of(a.module()), params_of(c.module())));
        fs::remove_all(dir_a);
        fs::remove_all(dir_b);
    }

    void corrupt_checkpoint_is_skipped_and_keep_last() {
        auto dir = temp_dir("corrupt");
        RegressionTask task(8, 0.0, 4, 1);
        auto o = small_options(dir, 6);
        o.checkpoint_every = 2;
        o.keep_last = 2;
        Trainer(o, task).run();
        auto all = list_checkpoints(dir);
        QCOMPARE(all.size(), size_t(2));  // step-4, step-6 (step-2 pruned)
        QCOMPARE(all[0].step, int64_t(4));
        QCOMPARE(all[1].step, int64_t(6));
        // Flip one byte of step-6's weights: its manifest no longer verifies.
        {
            std::fstream f(all[1].path + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
            f.seekg(-1, std::ios::end);
            char ch = 0;
            f.read(&ch, 1);
            f.seekp(-1, std::ios::end);
            ch ^= 1;
            f.write(&ch, 1);
        }
        std::string why;
        QVERIFY(!verify_checkpoint(all[1].path, &why));
        QVERIFY2(why.find("model.safetensors: sha256 differs") != std::string::npos, why.c_str());
        // A partial directory (no manifest) with a higher step is ignored too.
        fs::create_directories(dir + "/step-9");
        std::ofstream(dir + "/step-9/model.safetensors") << "partial";
        auto latest = latest_valid_checkpoint(dir);
        QVERIFY(latest.has_value());
        QCOMPARE(latest->step, int64_t(4));
        RegressionTask fresh(8, 0.0, 4, 2);
        Trainer t(small_options(dir, 6), fresh);
        QCOMPARE(t.resume(), int64_t(4));
        fs::remove_all(dir);
    }

    void sigkill_during_checkpoint_writes() {
        // ~50 rounds: fork a writer child, wait until it is ready, SIGKILL it at a
        // random moment while it writes a checkpoint per step, then check that every step-N
        // directory verifies and that a trainer resumes from the newest one.
        auto dir = temp_dir("sigkill");
        {
            RegressionTask task(1024, 0.0, 8, 5);
            auto o = small_options(dir, 1);
            Trainer(o, task).run();  // one intact checkpoint to start from
        }
        std::mt19937 rng(2024);
        std::uniform_int_distribution<int> delay_us(0, 150000);
        int64_t first_step = latest_valid_checkpoint(dir)->step, last_step = first_step;
        int rounds_with_tmp = 0;
        const auto t0 = std::chrono::steady_clock::now();
        int rounds = 0;
        for (; rounds < 50 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(25); ++rounds) {
            int out[2];
            QVERIFY(::pipe(out) == 0);
            pid_t pid = ::fork();
            if (pid == 0) {
                ::close(out[0]);
                run_checkpoint_writer(dir, out[1]);
            }
            ::close(out[1]);
            char ready = 0;
            QVERIFY(::read(out[0], &ready, 1) == 1);
            ::close(out[0]);
            std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
            ::kill(pid, SIGKILL);
            int status = 0;
            ::waitpid(pid, &status, 0);
            QVERIFY(WIFSIGNALED(status));
            for (const auto& e : fs::directory_iterator(dir))
                if (e.path().filename().string().rfind(".tmp-", 0) == 0) ++rounds_with_tmp;
            for (const auto& ck : list_checkpoints(dir)) {
                std::string why;
                QVERIFY2(verify_checkpoint(ck.path, &why), why.c_str());
            }
            auto latest = latest_valid_checkpoint(dir);
            QVERIFY(latest.has_value());
            QVERIFY(latest->step >= last_step);  // never goes backwards
            last_step = latest->step;
        }
        // The children did write (and get killed mid-way at least sometimes is reported).
        qInfo("rounds %d, checkpoints advanced %lld -> %lld, kills that left a .tmp dir: %d", rounds,
              static_cast<long long>(first_step), static_cast<long long>(last_step), rounds_with_tmp);
        QVERIFY(rounds >= 10);
        QVERIFY(last_step > first_step);
        RegressionTask fresh(1024, 0.0, 8, 6);
        Trainer t(small_options(dir, last_step + 1), fresh);
        QCOMPARE(t.resume(), last_step);
        t.run();  // continues and checkpoints cleanly
        QCOMPARE(latest_valid_checkpoint(dir)->step, last_step + 1);
        fs::remove_all(dir);
    }
};

QTEST_APPLESS_MAIN(TrainerTest)
#include "test_trainer.moc"
