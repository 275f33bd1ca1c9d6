// rlhf check --device cpu|cuda[:N] [--dtype auto|fp32|bf16] [--families gpt2,llama,...] [--threads K]
// A self-check of this build on one device (issue 12 item 6), without Qt, in a few seconds: on a
// tiny random model of each family (gpt2, llama, mistral, qwen2, qwen3) it checks
//   forward  the device's logits, in the resolved precision (bf16 autocast on a CUDA device that
//            supports it), against fp32 logits computed on the CPU;
//   decode   logits of a KV-cached decode (a prefill, then one token per call) against one full
//            forward over the same ids, on the device: fp32, and when the precision is bf16 also
//            under bf16 autocast and with bf16 weights (what `rlhf bench generate --dtype bf16` runs);
//   step     one optimizer step of SFT, RM, DPO, PPO and GRPO on the device: finite loss, the
//            step applied (parameters moved), parameters still on the device;
//   resume   2 steps, a checkpoint, a fresh task resuming for 2 more, against 4 steps straight:
//            parameters and the last two losses bitwise equal (one algorithm per family).
// One PASS/FAIL line per check with the measured numbers, then a summary. Exit 0 when all pass,
// 1 otherwise. A check that throws is a FAIL naming the error; the others still run.
//
// Tolerances. Differences are stated relative to the largest reference logit, max|Δ| / max|ref|:
//   fp32 on the CPU against the CPU: 1e-6 (the same kernels; measured 0);
//   fp32 on CUDA against the CPU, and cached decode in fp32: 1e-4 (only the summation order differs;
//     fp32 rounding is ~6e-8 per operation);
//   bf16: 3e-2, about 8 units of bf16 rounding (2^-8 = 3.9e-3): the weights and activations are
//     rounded to 8 significant bits before every matmul, through two layers and the LM head.
// On CUDA the resume check runs first with LibTorch's default kernels; some CUDA backward kernels
// accumulate with atomics (scatter_add, index_add) and are not bitwise reproducible, so when that
// run differs it is repeated with at::globalContext().setDeterministicAlgorithms(true) and the
// first run is reported as INFO (the trainer's resume is exact exactly when the kernels are).
//
// B = batch, T = positions, P = prompt (prefill) positions, V = vocab size.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <torch/version.h>

#include "app/rlhf/cli.h"
#include "core/io/error.h"
#include "core/model/device.h"
#include "core/model/heads.h"
#include "core/model/model.h"
#include "core/train/algorithms.h"
#include "core/train/trainer.h"

namespace rlhf::cli {
nlohmann::json cuda_device_json(int64_t index);  // torch_cmd_version.cpp
}

namespace {

using namespace rlhf;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using train::Algo;

// ---------------------------------------------------------------------------------------------
// The tiny models and data

constexpr int64_t kVocab = 256;    // V; token 0 = EOS and padding in the training data, 1 = separator
constexpr int64_t kEos = 0;
constexpr int64_t kSeqLen = 24;    // T of the forward/decode checks
constexpr int64_t kPrefill = 8;    // P of the decode check
constexpr uint64_t kModelSeed = 3;

const std::vector<std::string> kFamilies = {"gpt2", "llama", "mistral", "qwen2", "qwen3"};
const std::vector<Algo> kAlgos = {Algo::Sft, Algo::Rm, Algo::Dpo, Algo::Ppo, Algo::Grpo};

model::ModelConfig tiny_config(const std::string& family) {
    const bool gpt2 = family == "gpt2";
    auto c = model::make_config(family, /*hidden=*/64, /*layers=*/2, /*heads=*/4, /*kv_heads=*/gpt2 ? 4 : 2,
                                /*intermediate=*/gpt2 ? 256 : 128, kVocab, /*max_positions=*/64);
    // Shorter than kSeqLen and the training rows, so the window's mask is exercised too.
    if (family == "mistral") c.sliding_window = 16;
    return c;
}

std::shared_ptr<model::CausalLM> tiny_model(const std::string& family, uint64_t seed, torch::Device device,
                                            torch::Dtype dtype = torch::kFloat32) {
    return model::make_random_model(tiny_config(family), seed, dtype, device);
}

// ---------------------------------------------------------------------------------------------
// Reporting

struct Report {
    int passed = 0, failed = 0, info = 0;
    Clock::time_point started = Clock::now();  // of the running check
    std::string fmt_seconds() const {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f s", std::chrono::duration<double>(Clock::now() - started).count());
        return buf;
    }
    void line(const char* status, const std::string& what, const std::string& family, const std::string& detail) {
        std::printf("%-4s  %-24s %-8s %s\n", status, what.c_str(), family.c_str(), detail.c_str());
        std::fflush(stdout);
    }
    // Ends with the seconds since the check began.
    void result(bool pass, const std::string& what, const std::string& family, const std::string& detail) {
        (pass ? passed : failed)++;
        line(pass ? "PASS" : "FAIL", what, family, detail + " [" + fmt_seconds() + "]");
    }
    void note(const std::string& what, const std::string& family, const std::string& detail) {
        info++;
        line("INFO", what, family, detail);
    }
    // Runs one check; an exception is a FAIL that names it.
    template <class F>
    void run(const std::string& what, const std::string& family, F&& check) {
        started = Clock::now();
        try {
            check();
        } catch (const std::exception& e) {
            std::string msg = e.what();
            if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);  // c10 backtraces
            result(false, what, family, "threw: " + msg);
        }
    }
};

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

// max|a − b| / max|b| over float32 copies on the CPU, and the two maxima.
struct Diff {
    double max_abs = 0, ref_max = 0, rel = 0;
};
Diff compare(const torch::Tensor& a, const torch::Tensor& b) {
    auto fa = model::to_host(a.to(torch::kFloat32)), fb = model::to_host(b.to(torch::kFloat32));
    Diff d;
    d.max_abs = (fa - fb).abs().max().item<double>();
    d.ref_max = fb.abs().max().item<double>();
    d.rel = d.ref_max > 0 ? d.max_abs / d.ref_max : d.max_abs;
    if (!std::isfinite(d.rel)) d.rel = INFINITY;  // NaN compares false with every tolerance
    return d;
}
std::string describe(const Diff& d, double tol) {
    return "max|Δ| " + fmt("%.2e", d.max_abs) + " = " + fmt("%.2e", d.rel) + " of max|ref| " + fmt("%.3f", d.ref_max) +
           " (tolerance " + fmt("%.0e", tol) + ")";
}

// ---------------------------------------------------------------------------------------------
// forward: device logits in the resolved precision against fp32 CPU logits

void check_forward(Report& rep, const std::string& family, torch::Device device, const model::Precision& prec) {
    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(11);
    auto ids = torch::randint(1, kVocab, {2, kSeqLen}, gen, torch::kLong);  // (B, T)
    auto ref = tiny_model(family, kModelSeed, torch::kCPU)->forward(ids);   // (B, T, V) fp32
    auto dev_model = tiny_model(family, kModelSeed, device);
    torch::Tensor out;
    {
        model::AutocastGuard autocast(device, prec);
        out = dev_model->forward(ids.to(device));
    }
    const double tol = prec.autocast() ? 3e-2 : device.is_cpu() ? 1e-6 : 1e-4;
    auto d = compare(out, ref);
    rep.result(d.rel <= tol, "forward " + prec.name(), family,
               describe(d, tol) + "; " + prec.name() + " on " + device.str() + " vs fp32 on cpu");
}

// ---------------------------------------------------------------------------------------------
// decode: KV-cached decode against one full forward, on the device

void check_decode(Report& rep, const std::string& family, torch::Device device, const std::string& variant,
                  torch::Dtype weights, const model::Precision& prec) {
    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(12);
    auto ids = torch::randint(1, kVocab, {2, kSeqLen}, gen, torch::kLong).to(device);  // (B, T)
    auto m = tiny_model(family, kModelSeed, device, weights);
    model::AutocastGuard autocast(device, prec);
    auto full = m->forward(ids);  // (B, T, V)
    auto cache = model::KvCache::allocate(m->config(), 2, kSeqLen, m->dtype(), device);
    std::vector<torch::Tensor> parts = {m->forward(ids.narrow(1, 0, kPrefill), {}, &cache)};  // (B, P, V)
    for (int64_t t = kPrefill; t < kSeqLen; ++t) parts.push_back(m->forward(ids.narrow(1, t, 1), {}, &cache));
    auto cached = torch::cat(parts, 1);  // (B, T, V)
    const double tol = variant == "fp32" ? 1e-4 : 3e-2;
    auto d = compare(cached, full);
    rep.result(d.rel <= tol, "decode " + variant, family,
               describe(d, tol) + "; prefill " + std::to_string(kPrefill) + " + " + std::to_string(kSeqLen - kPrefill) +
                   " cached steps vs full forward on " + device.str());
}

// ---------------------------------------------------------------------------------------------
// Training tasks, built as tests/train/test_algorithms.cpp builds them, on the device

train::TrainConfig train_config(Algo algo, int64_t steps, torch::Device device, const model::Precision& prec) {
    train::TrainConfig c;
    c.algo = algo;
    c.seed = 7;
    c.device = device.str();
    c.precision = prec.autocast() ? train::Precision::Bf16 : train::Precision::Fp32;
    c.batch_size = 4;
    c.max_steps = steps;
    c.optimizer.lr = 1e-3;
    c.data.max_length = 32;
    c.ppo.response_length = 4;
    c.ppo.temperature = 1.0;
    c.ppo.kl_coef = 0.05;
    c.ppo.ppo_epochs = 2;
    c.ppo.minibatches = 2;  // 4 optimizer steps per rollout: the resume checkpoint falls inside one
    c.grpo.group_size = 4;
    c.grpo.response_length = 4;
    c.grpo.temperature = 1.0;
    c.grpo.iterations = 2;
    return c;
}

// Preference pairs: the chosen response ends in token 3, the rejected one in token 4.
std::vector<train::PreferenceIds> toy_pairs() {
    std::vector<train::PreferenceIds> out;
    for (int64_t a = 5; a < 21; ++a) out.push_back({{a, a + 1, 1}, {a + 2, 3, kEos}, {a + 2, 4, kEos}, 0.0});
    return out;
}
std::vector<train::TokenIds> toy_prompts() {
    std::vector<train::TokenIds> out;
    for (int64_t a = 2; a < 10; ++a) out.push_back({a, 1});
    return out;
}
train::RlOptions rl_options() {
    train::RlOptions o;
    o.eos_ids = {kEos};
    o.pad_id = kEos;
    // Share of response tokens equal to 7.
    o.rule_reward = [](const train::TokenIds&, const train::TokenIds& r) {
        double n = 0;
        for (auto t : r) n += t == 7;
        return r.empty() ? 0.0 : n / static_cast<double>(r.size());
    };
    return o;
}

// A task of `algo` whose trained model starts from init_seed; the frozen reference (DPO, PPO,
// GRPO) is always the seed-6 model, as a resumed run reloads it from its folder.
std::unique_ptr<train::TrainTask> make_task(Algo algo, const std::string& family, const train::TrainConfig& c,
                                            torch::Device device, uint64_t init_seed) {
    auto policy = tiny_model(family, init_seed, device);
    switch (algo) {
    case Algo::Sft: {
        std::vector<train::SftExampleIds> data;
        for (int64_t a = 2; a < 10; ++a)
            for (int64_t b = 2; b < 4; ++b) data.push_back({{a, b, 1}, {a + 6, b + 6, kEos}});
        return std::make_unique<train::SftTask>(policy, std::move(data), c, kEos);
    }
    case Algo::Rm: {
        auto rm = model::make_reward_model(policy, init_seed);
        rm->to(device);
        return std::make_unique<train::RmTask>(rm, toy_pairs(), c, kEos);
    }
    case Algo::Dpo: {
        auto reference = tiny_model(family, 6, device);
        train::freeze(*reference);
        return std::make_unique<train::DpoTask>(policy, *reference, toy_pairs(), c, kEos);
    }
    case Algo::Ppo: {
        train::PolicyWithValue pv(policy);
        pv->to(device);
        return std::make_unique<train::PpoTask>(pv, tiny_model(family, 6, device), toy_prompts(), c, rl_options());
    }
    case Algo::Grpo:
        return std::make_unique<train::GrpoTask>(policy, tiny_model(family, 6, device), toy_prompts(), c, rl_options());
    }
    throw Error("rlhf check: unknown algorithm");
}

std::vector<torch::Tensor> snapshot(torch::nn::Module& m) {
    std::vector<torch::Tensor> out;
    for (auto& p : m.parameters(true)) out.push_back(p.detach().clone());
    return out;
}

// step: one optimizer step on the device.
void check_step(Report& rep, Algo algo, const std::string& family, torch::Device device, const model::Precision& prec) {
    auto c = train_config(algo, 1, device, prec);
    auto task = make_task(algo, family, c, device, kModelSeed);
    auto before = snapshot(task->module());
    train::Metrics metrics;
    train::TrainerCallbacks cb;
    cb.on_metrics = [&](int64_t, const train::Metrics& m) { metrics = m; };
    train::Trainer trainer(train::TrainerOptions::from_config(c, "", 0), *task, cb);
    auto result = trainer.run();
    const double loss = metrics.count("loss") ? metrics.at("loss") : NAN;
    const double grad_norm = metrics.count("grad_norm") ? metrics.at("grad_norm") : NAN;
    auto after = task->module().parameters(true);
    double moved = 0;
    bool on_device = true;
    for (size_t i = 0; i < after.size(); ++i) {
        on_device = on_device && after[i].device() == device;
        if (after[i].device() == before[i].device())
            moved = std::max(moved, model::host_scalar((after[i].detach() - before[i]).abs().max()));
    }
    const bool pass = result.steps == 1 && result.skipped_steps == 0 && std::isfinite(loss) && moved > 0 && on_device;
    std::string detail = "loss " + fmt("%.4f", loss) + ", grad_norm " + fmt("%.4f", grad_norm) + ", max param change " +
                         fmt("%.2e", moved) + "; " + prec.name() + " on " + device.str();
    if (result.skipped_steps) detail += "; the step was skipped (non-finite)";
    if (!on_device) detail += "; a parameter left the device";
    rep.result(pass, std::string("step ") + train::algo_name(algo), family, detail);
}

// ---------------------------------------------------------------------------------------------
// resume: 2 steps + checkpoint + resume + 2 steps == 4 steps straight, bitwise

struct ResumeOutcome {
    bool exact = false;
    std::string detail;
};

ResumeOutcome resume_once(Algo algo, const std::string& family, torch::Device device, const model::Precision& prec,
                          const fs::path& dir) {
    constexpr int64_t n = 2;
    auto c = train_config(algo, 2 * n, device, prec);
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::vector<double> straight, resumed;
    auto a = make_task(algo, family, c, device, kModelSeed);
    {
        train::TrainerCallbacks cb;
        cb.on_metrics = [&](int64_t, const train::Metrics& m) { straight.push_back(m.at("loss")); };
        train::Trainer(train::TrainerOptions::from_config(c, "", 0), *a, cb).run();
    }
    {
        auto b = make_task(algo, family, c, device, kModelSeed);
        std::atomic<bool> cancel{false};
        train::TrainerCallbacks cb;
        cb.on_metrics = [&](int64_t step, const train::Metrics&) {
            if (step == n) cancel = true;  // the trainer saves the step-n checkpoint and throws Cancelled
        };
        try {
            train::Trainer(train::TrainerOptions::from_config(c, dir.string(), 0), *b, cb).run(&cancel);
            throw Error("the first half ran to the end instead of stopping at step 2");
        } catch (const Cancelled&) {
        }
    }
    torch::manual_seed(31337);  // the resumed run must restore every RNG, not rely on this
    auto r = make_task(algo, family, c, device, /*init_seed=*/99);
    train::TrainerCallbacks cb;
    cb.on_metrics = [&](int64_t, const train::Metrics& m) { resumed.push_back(m.at("loss")); };
    train::Trainer t(train::TrainerOptions::from_config(c, dir.string(), 0), *r, cb);
    const int64_t from = t.resume();
    if (from != n) throw Error("resume() found step " + std::to_string(from) + ", expected " + std::to_string(n));
    t.run();
    fs::remove_all(dir);

    auto pa = a->module().named_parameters(true), pr = r->module().named_parameters(true);
    int64_t differ = 0;
    double max_abs = 0;
    for (const auto& item : pa) {
        auto* other = pr.find(item.key());
        if (!other) throw Error("the resumed model has no parameter " + item.key());
        if (!torch::equal(item.value(), *other)) {
            ++differ;
            max_abs = std::max(max_abs, model::host_scalar((item.value() - *other).abs().max()));
        }
    }
    bool losses_equal = straight.size() == 2 * n && resumed.size() == n;
    for (size_t i = 0; losses_equal && i < n; ++i) losses_equal = straight[n + i] == resumed[i];
    ResumeOutcome out;
    out.exact = differ == 0 && losses_equal;
    out.detail = std::to_string(pa.size() - differ) + "/" + std::to_string(pa.size()) + " parameter tensors bitwise equal";
    if (differ) out.detail += " (max|Δ| " + fmt("%.2e", max_abs) + ")";
    out.detail += losses_equal ? ", steps 3-4 losses equal" : ", steps 3-4 losses differ";
    if (resumed.size() == n) out.detail += " (" + fmt("%.6f", resumed[0]) + ", " + fmt("%.6f", resumed[1]) + ")";
    return out;
}

void check_resume(Report& rep, Algo algo, const std::string& family, torch::Device device, const model::Precision& prec,
                  const fs::path& dir) {
    const std::string what = std::string("resume ") + train::algo_name(algo);
    const std::string how = "; 2 steps + checkpoint + resume + 2 vs 4 straight, " + prec.name() + " on " + device.str();
    auto first = resume_once(algo, family, device, prec, dir);
    if (first.exact || !device.is_cuda()) {
        rep.result(first.exact, what, family, first.detail + how);
        return;
    }
    rep.note(what, family, first.detail + how + ", default kernels");
    auto& ctx = at::globalContext();
    const bool was = ctx.deterministicAlgorithms(), was_warn = ctx.deterministicAlgorithmsWarnOnly();
    ctx.setDeterministicAlgorithms(true, /*warn_only=*/true);
    ResumeOutcome second;
    try {
        second = resume_once(algo, family, device, prec, dir);
    } catch (...) {
        ctx.setDeterministicAlgorithms(was, was_warn);
        throw;
    }
    ctx.setDeterministicAlgorithms(was, was_warn);
    rep.result(second.exact, what + " (determ.)", family, second.detail + how + ", deterministic algorithms");
}

// ---------------------------------------------------------------------------------------------

std::vector<std::string> split_families(const std::string& list) {
    std::vector<std::string> out;
    std::stringstream s(list);
    std::string f;
    while (std::getline(s, f, ',')) {
        if (f.empty()) continue;
        if (std::find(kFamilies.begin(), kFamilies.end(), f) == kFamilies.end())
            throw UsageError("rlhf check: --families: unknown family '" + f + "' (gpt2, llama, mistral, qwen2, qwen3)");
        out.push_back(f);
    }
    if (out.empty()) throw UsageError("rlhf check: --families is empty");
    return out;
}

int run_check(cli::Args& args) {
    const std::string device_word = args.require("device");
    const std::string dtype_word = args.get("dtype", "auto");
    const auto families = split_families(args.get("families", "gpt2,llama,mistral,qwen2,qwen3"));
    const long long threads = args.get_int("threads", 1);
    args.finish();
    if (dtype_word != "auto" && dtype_word != "fp32" && dtype_word != "bf16")
        throw UsageError("rlhf check: --dtype must be auto, fp32 or bf16");
    if (threads < 1) throw UsageError("rlhf check: --threads must be at least 1");
    // The models are tiny: one intra-op thread is fastest, and OpenMP's spinning threads slow
    // down a hundredfold on a machine whose cores are busy with something else (a build).
    at::set_num_threads(static_cast<int>(threads));
    // cuBLAS is reproducible on one stream only with a fixed workspace; it reads this when its
    // first handle is created, so it must be set before any CUDA work (the resume check needs it).
    ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
    const torch::Device device = model::resolve_device(device_word, -1, "--device");
    const model::Precision prec = model::resolve_precision(dtype_word, device, "--dtype");

    std::string where = device.str();
    if (device.is_cuda()) {
        auto d = cli::cuda_device_json(device.index() < 0 ? 0 : device.index());
        if (d.contains("name"))
            where += " (" + d["name"].get<std::string>() + ", compute capability " + d["compute_capability"].get<std::string>() + ")";
    } else {
        where += " (" + std::to_string(at::get_num_threads()) + (at::get_num_threads() == 1 ? " thread)" : " threads)");
    }
    std::printf("rlhf check on %s, precision %s, LibTorch %s; tiny random models (hidden 64, 2 layers, vocab %lld)\n",
                where.c_str(), prec.name().c_str(), TORCH_VERSION, static_cast<long long>(kVocab));
    std::fflush(stdout);

    const auto t0 = Clock::now();
    const fs::path tmp = fs::temp_directory_path() / ("rlhf-check-" + std::to_string(::getpid()));
    Report rep;
    for (const auto& f : families) rep.run("forward " + prec.name(), f, [&] { check_forward(rep, f, device, prec); });
    for (const auto& f : families) {
        const model::Precision fp32;
        rep.run("decode fp32", f, [&] { check_decode(rep, f, device, "fp32", torch::kFloat32, fp32); });
        if (prec.autocast()) {
            rep.run("decode " + prec.name() + " autocast", f,
                    [&] { check_decode(rep, f, device, prec.name() + " autocast", torch::kFloat32, prec); });
            rep.run("decode " + prec.name() + " weights", f,
                    [&] { check_decode(rep, f, device, prec.name() + " weights", prec.autocast_dtype, fp32); });
        }
    }
    for (Algo algo : kAlgos)
        for (const auto& f : families)
            rep.run(std::string("step ") + train::algo_name(algo), f, [&] { check_step(rep, algo, f, device, prec); });
    // One algorithm per family, so every algorithm and every family resumes once.
    for (size_t i = 0; i < kAlgos.size(); ++i) {
        const std::string& f = families[i % families.size()];
        rep.run(std::string("resume ") + train::algo_name(kAlgos[i]), f,
                [&] { check_resume(rep, kAlgos[i], f, device, prec, tmp / train::algo_name(kAlgos[i])); });
    }
    fs::remove_all(tmp);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("check: %d passed, %d failed (%d INFO) on %s in %.1f s\n", rep.passed, rep.failed, rep.info,
                device.str().c_str(), seconds);
    return rep.failed == 0 ? 0 : 1;
}

}  // namespace

RLHF_CLI_COMMAND(check, "rlhf check --device cpu|cuda[:N] [--dtype auto|fp32|bf16] [--families gpt2,llama,...] [--threads K]",
                 "Self-check on a device: forward vs CPU fp32, cached decode vs full forward, one step of every "
                 "algorithm, and a bitwise checkpoint resume, on tiny models of each family.",
                 run_check);
