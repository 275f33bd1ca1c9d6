// rlhf bench train --algo sft|ppo (--model DIR | --random SHAPE [--save DIR]) [--device D] [--dtype T]
//                  [--steps N] [--batch B] [--prompt-len P] [--response-len R] [--threads K]
//                  [--ppo-epochs E] [--minibatches M] [--peak-tflops F]
// Training throughput of core/train's Trainer on synthetic token data (random ids, no padding),
// printed as one JSON object with everything a fair comparison needs: threads, batch, lengths,
// parameter count, tokens/s over wall time and over CPU time (the shared build machine is
// loaded, and CPU time is the steadier figure), the load average, and where the time goes:
//   sft: ms per step in forward (the task's loss), backward, and optimizer (clip + AdamW);
//   ppo: the share of a PPO iteration spent generating the rollout, scoring it (policy, value,
//        reference and reward forwards, GAE) and training (ppo_epochs × minibatches updates).
// tests/tools/bench/train_step.py prints the same JSON for the same SFT step written in PyTorch
// Python (CPU); installer/gpu-check.sh puts a plain PyTorch step next to it on a GPU. Figures
// only; nothing is asserted. The first step (SFT) or the first rollout and its updates (PPO) warm
// up allocators, the OpenMP pool and cuBLAS and are not timed. On CUDA the phase boundaries
// synchronise with the device, so the split is of finished work, not of queued kernels.
//
// --random SHAPE trains random weights of a named shape instead of a model folder: gpt2-124m and
// qwen2.5-0.5b (the shapes issue 12's GPU goals name), or a family name (gpt2, llama, mistral,
// qwen2, qwen3) for a tiny model; --save DIR writes it in Hugging Face layout first, so that
// `rlhf bench generate --model DIR` and other tools can run the same weights.
//
// MFU (SFT on CUDA): model FLOPs per second over the GPU's dense bf16 peak (Chowdhery et al. 2022,
// PaLM, appendix B). Per trained token, forward + backward cost 6·N (Kaplan et al. 2020) plus the
// attention scores and values 12·layers·heads·head_dim·L (PaLM's term, counting the causal mask's
// zeros as nanoGPT does). N counts the weights of every matmul: all parameters except the learned
// position table (GPT-2's wpe; a lookup), with the LM head counted once whether tied or not (the
// input embedding is a lookup too; tied, its matrix is the LM head's). Tokens: every position of
// the batch, B·L per step (prompt positions are computed and back-propagated too).
// The peak is looked up by device name (kPeakBf16, NVIDIA's data sheets, dense) or given with
// --peak-tflops; an unknown GPU prints no MFU.
//
// B = batch, P = prompt length, R = response length, L = P + R.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <torch/version.h>

#include "app/rlhf/cli.h"
#include "core/io/error.h"
#include "core/model/checkpoint.h"
#include "core/model/device.h"
#include "core/train/algorithms.h"
#include "core/train/trainer.h"

namespace rlhf::cli {
nlohmann::json cuda_device_json(int64_t index);  // torch_cmd_version.cpp
}

using namespace rlhf;
using namespace rlhf::train;

namespace {

using Clock = std::chrono::steady_clock;

// Dense bf16 tensor-core peaks (TFLOP/s) from NVIDIA's data sheets, matched in order against the
// CUDA device name ("NVIDIA H100 80GB HBM3" is the SXM part).
struct PeakBf16 {
    const char* name_has;
    const char* or_has;  // "" = the first substring alone
    double tflops;
};
constexpr PeakBf16 kPeakBf16[] = {
    {"H100", "PCIe", 756.0},   // H100 PCIe
    {"H100", "NVL", 835.0},    // H100 NVL (per GPU)
    {"H100", "", 989.0},       // H100 SXM5 ("H100 80GB HBM3", "H100 SXM5 ...")
    {"H200", "", 989.0},       // H200 (and GH200): the H100 SXM's tensor cores, more HBM
    {"H800", "", 989.0},
    {"A100", "", 312.0},       // A100 SXM4 and PCIe
    {"A800", "", 312.0},
};

// 0 when the name is not in the table.
double peak_bf16_tflops(const std::string& device_name) {
    for (const auto& p : kPeakBf16)
        if (device_name.find(p.name_has) != std::string::npos &&
            (*p.or_has == 0 || device_name.find(p.or_has) != std::string::npos))
            return p.tflops;
    return 0.0;
}

// Random-weight shapes (--random). Tied embeddings as the originals.
model::ModelConfig random_shape(const std::string& shape) {
    model::ModelConfig c;
    if (shape == "gpt2-124m") {
        c = model::make_config("gpt2", /*hidden=*/768, /*layers=*/12, /*heads=*/12, /*kv_heads=*/12,
                               /*intermediate=*/3072, /*vocab=*/50257, /*max_positions=*/1024);
    } else if (shape == "qwen2.5-0.5b") {
        c = model::make_config("qwen2", /*hidden=*/896, /*layers=*/24, /*heads=*/14, /*kv_heads=*/2,
                               /*intermediate=*/4864, /*vocab=*/151936, /*max_positions=*/32768);
        c.rope_theta = 1000000.0;
        c.norm_eps = 1e-6;
    } else if (shape == "gpt2" || shape == "llama" || shape == "mistral" || shape == "qwen2" || shape == "qwen3") {
        const bool gpt2 = shape == "gpt2";
        c = model::make_config(shape, 128, 2, 4, gpt2 ? 4 : 2, gpt2 ? 512 : 344, 2048, 1024);
    } else {
        throw UsageError("rlhf bench train: --random must be gpt2-124m, qwen2.5-0.5b or a family (gpt2, llama, mistral, "
                         "qwen2, qwen3)");
    }
    c.tie_word_embeddings = true;
    return c;
}

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Wraps the real task and times its phases without changing what the Trainer does. The Trainer
// calls, per optimizer step: begin_step, micro_batch_loss (forward), backward, clip + AdamW,
// end_step. Backward ends when the input embedding's gradient arrives: the embedding lookup is
// the first op of the forward, so its gradient is the last one autograd computes (a tied LM head
// contributes earlier, but a leaf's hooks run once, after all contributions are summed).
class TimedTask : public TrainTask {
public:
    TimedTask(TrainTask& inner, int64_t warmup_steps, int64_t steps_per_rollout, torch::Tensor embeddings, bool cuda)
        : inner_(inner), warmup_(warmup_steps), per_rollout_(steps_per_rollout), cuda_(cuda) {
        // On CUDA the hook runs on the autograd engine's device thread when the last gradient
        // kernel has been queued; waiting there makes the stamp the end of the backward's work.
        embeddings.register_hook([this](const torch::Tensor&) {
            sync();
            backward_end_ = Clock::now();
        });
    }

    torch::nn::Module& module() override { return inner_.module(); }
    std::vector<torch::Tensor> trainable_parameters() override { return inner_.trainable_parameters(); }
    nlohmann::json save_state() const override { return inner_.save_state(); }
    void load_state(const nlohmann::json& s) override { inner_.load_state(s); }

    void begin_step(StepContext& ctx) override {
        timing_ = ctx.step >= warmup_;
        if (ctx.step == warmup_) {
            sync();
            wall_start_ = Clock::now();
            cpu_start_ = cpu_seconds();
        }
        const auto t0 = Clock::now();
        inner_.begin_step(ctx);
        sync();
        const double s = since(t0);
        if (!timing_) return;
        // PPO samples a new rollout on the first step of every ppo_epochs × minibatches.
        const bool rollout = per_rollout_ > 0 && ctx.step % per_rollout_ == 0;
        const double gen = rollout && ctx.metrics.count("timing/generate_s") ? ctx.metrics.at("timing/generate_s") : 0.0;
        generate_s += gen;
        score_s += s - gen;
    }

    torch::Tensor micro_batch_loss(StepContext& ctx) override {
        const auto t0 = Clock::now();
        auto loss = inner_.micro_batch_loss(ctx);
        sync();
        forward_end_ = Clock::now();
        if (timing_) forward_s += std::chrono::duration<double>(forward_end_ - t0).count();
        return loss;
    }

    void end_step(StepContext& ctx, bool applied) override {
        sync();
        const auto t = Clock::now();
        inner_.end_step(ctx, applied);
        sync();
        if (!timing_) return;
        backward_s += std::chrono::duration<double>(backward_end_ - forward_end_).count();
        optimizer_s += std::chrono::duration<double>(t - backward_end_).count();
        if (ctx.metrics.count("num_tokens")) tokens += ctx.metrics.at("num_tokens");
        if (ctx.metrics.count("response_length")) response_tokens_per_row = ctx.metrics.at("response_length");
        wall_s = since(wall_start_);
        cpu_s = cpu_seconds() - cpu_start_;
    }

    // Seconds summed over the timed steps.
    double generate_s = 0, score_s = 0, forward_s = 0, backward_s = 0, optimizer_s = 0;
    double wall_s = 0, cpu_s = 0;  // from the first timed begin_step to the last end_step
    double tokens = 0;             // num_tokens the task reported over the timed steps
    double response_tokens_per_row = 0;

private:
    void sync() const {
        if (cuda_) torch::cuda::synchronize();
    }
    TrainTask& inner_;
    int64_t warmup_, per_rollout_;
    bool cuda_;
    bool timing_ = false;
    Clock::time_point wall_start_, forward_end_, backward_end_;
    double cpu_start_ = 0;
};

int run_bench_train(cli::Args& args) {
    const std::string algo = args.get("algo", "sft");
    const std::string dir = args.get("model", "");
    const std::string random = args.get("random", "");
    const std::string save_dir = args.get("save", "");
    const std::string device_word = args.get("device", "cpu");
    const std::string dtype_word = args.get("dtype", "auto");
    const double peak_override = args.get_double("peak-tflops", 0.0);
    const int64_t steps = args.get_int("steps", 5);
    const int64_t batch = args.get_int("batch", 4);
    const int64_t prompt_len = args.get_int("prompt-len", 64);
    const int64_t response_len = args.get_int("response-len", 64);
    const int64_t threads = args.get_int("threads", 0);
    const int64_t ppo_epochs = args.get_int("ppo-epochs", 4);
    const int64_t minibatches = args.get_int("minibatches", 1);
    args.finish();
    if (algo != "sft" && algo != "ppo") throw UsageError("rlhf bench train: --algo must be sft or ppo");
    if (dir.empty() == random.empty()) throw UsageError("rlhf bench train: give exactly one of --model DIR or --random SHAPE");
    if (!save_dir.empty() && random.empty()) throw UsageError("rlhf bench train: --save needs --random");
    if (dtype_word != "auto" && dtype_word != "fp32" && dtype_word != "bf16")
        throw UsageError("rlhf bench train: --dtype must be auto, fp32 or bf16");
    if (peak_override < 0) throw UsageError("rlhf bench train: --peak-tflops must be positive");
    if (steps < 2 || batch < 1 || prompt_len < 1 || response_len < 1)
        throw UsageError("rlhf bench train: --steps >= 2, --batch, --prompt-len, --response-len >= 1");
    if (ppo_epochs < 1 || minibatches < 1 || batch % minibatches != 0)
        throw UsageError("rlhf bench train: --ppo-epochs >= 1 and --minibatches must divide --batch");
    if (threads > 0) at::set_num_threads(static_cast<int>(threads));

    const torch::Device device = model::resolve_device(device_word, -1, "--device");
    const model::Precision precision = model::resolve_precision(dtype_word, device, "--dtype");
    std::shared_ptr<model::CausalLM> policy;
    if (!dir.empty()) {
        model::LoadOptions lo;
        lo.device = device;
        policy = model::load_causal_lm(dir, lo);
    } else {
        policy = model::make_random_model(random_shape(random), /*seed=*/1, torch::kFloat32, device);
        if (!save_dir.empty()) model::save_causal_lm(*policy, save_dir);
    }
    const auto& mc = policy->config();
    if (mc.is_gpt2() && prompt_len + response_len > mc.max_position_embeddings)
        throw UsageError("rlhf bench train: --prompt-len + --response-len exceed the model's n_positions (" +
                         std::to_string(mc.max_position_embeddings) + ")");
    int64_t n_params = 0;
    int64_t n_position_table = 0;  // GPT-2's learned positions: a lookup, no FLOPs
    for (auto& [name, p] : policy->hf_parameters()) {
        n_params += p.numel();
        if (name.find("wpe.") != std::string::npos) n_position_table += p.numel();
    }
    const int64_t vocab = mc.vocab_size;
    std::mt19937 rng(1);
    std::uniform_int_distribution<int64_t> tok(0, vocab - 1);
    auto random_ids = [&](int64_t n) {
        TokenIds v(static_cast<size_t>(n));
        for (auto& t : v) t = tok(rng);
        return v;
    };
    const bool sft = algo == "sft";
    // PPO: one iteration = one rollout + ppo_epochs × minibatches optimizer steps.
    const int64_t per_rollout = sft ? 1 : ppo_epochs * minibatches;
    TrainConfig c;
    c.algo = sft ? Algo::Sft : Algo::Ppo;
    c.device = device.str();
    c.precision = precision.autocast() ? Precision::Bf16 : Precision::Fp32;  // resolved above from --dtype
    c.batch_size = batch;
    c.max_steps = steps * per_rollout;
    c.optimizer.lr = 1e-6;
    c.data.max_length = prompt_len + response_len;
    c.data.max_prompt_length = prompt_len;
    c.ppo.response_length = response_len;
    c.ppo.ppo_epochs = ppo_epochs;
    c.ppo.minibatches = minibatches;
    c.ppo.temperature = 1.0;
    c.ppo.eos_penalty = 0.0;

    std::unique_ptr<TrainTask> task;
    std::shared_ptr<model::CausalLM> reference;
    if (sft) {
        std::vector<SftExampleIds> data;
        for (int64_t i = 0; i < batch * 4; ++i) data.push_back({random_ids(prompt_len), random_ids(response_len)});
        task = std::make_unique<SftTask>(policy, std::move(data), c, /*pad_id=*/0);
    } else {
        std::vector<TokenIds> prompts;
        for (int64_t i = 0; i < batch * 4; ++i) prompts.push_back(random_ids(prompt_len));
        RlOptions o;  // no EOS: every response has response_len tokens, so tokens/s is comparable
        o.pad_id = 0;
        o.rule_reward = [](const TokenIds&, const TokenIds& r) { return r.empty() ? 0.0 : static_cast<double>(r[0] % 2); };
        reference = clone_model(*policy);
        task = std::make_unique<PpoTask>(PolicyWithValue(policy), reference, prompts, c, o);
    }
    TimedTask timed(*task, /*warmup_steps=*/per_rollout, per_rollout, policy->input_embeddings(), device.is_cuda());
    Trainer trainer(TrainerOptions::from_config(c, "", 0), timed, {});
    trainer.run();

    const int64_t timed_steps = (steps - 1) * per_rollout;
    nlohmann::json out;
    out["bench"] = "train";
    out["impl"] = std::string("rlhf libtorch ") + TORCH_VERSION;
    out["algo"] = algo;
    out["model"] = dir.empty() ? "random " + random : dir;
    out["params"] = n_params;
    out["device"] = device.str();
    out["precision"] = precision.name();
    double peak_tflops = peak_override;
    if (device.is_cuda()) {
        auto d = cli::cuda_device_json(device.index() < 0 ? 0 : device.index());
        if (d.contains("name")) {
            out["device_name"] = d["name"];
            if (peak_tflops == 0) peak_tflops = peak_bf16_tflops(d["name"].get<std::string>());
        }
    }
    out["batch"] = batch;
    out["prompt_len"] = prompt_len;
    out["response_len"] = response_len;
    out["seq_len"] = prompt_len + response_len;
    out["threads"] = at::get_num_threads();
    out["timed_steps"] = timed_steps;
    out["seconds_per_step"] = timed.wall_s / static_cast<double>(timed_steps);
    double load[1] = {0};
    if (getloadavg(load, 1) != 1) load[0] = -1;
    if (sft) {
        // Every token of the batch goes through forward and backward.
        const double n = static_cast<double>(timed_steps);
        out["ms_forward"] = 1000 * timed.forward_s / n;
        out["ms_backward"] = 1000 * timed.backward_s / n;
        out["ms_optimizer"] = 1000 * timed.optimizer_s / n;
        out["tokens_per_second"] = timed.tokens / timed.wall_s;
        out["tokens_per_cpu_second"] = timed.tokens / timed.cpu_s;
        // MFU over every position of the batch (see the top of the file).
        const double seq = static_cast<double>(prompt_len + response_len);
        const double positions_per_s = n * static_cast<double>(batch) * seq / timed.wall_s;
        const double flops_per_token = 6.0 * static_cast<double>(n_params - n_position_table) +
                                       12.0 * static_cast<double>(mc.num_hidden_layers * mc.num_attention_heads * mc.head_dim) * seq;
        out["positions_per_second"] = positions_per_s;
        out["flops_per_token"] = flops_per_token;
        out["model_tflops_per_second"] = flops_per_token * positions_per_s / 1e12;
        if (peak_tflops > 0) {
            out["peak_bf16_tflops"] = peak_tflops;
            out["mfu"] = flops_per_token * positions_per_s / (peak_tflops * 1e12);
        }
    } else {
        // Generated response tokens per second of whole PPO iterations.
        const double iterations = static_cast<double>(steps - 1);
        const double generated = iterations * static_cast<double>(batch) * timed.response_tokens_per_row;
        const double train_s = timed.forward_s + timed.backward_s + timed.optimizer_s;
        const double total = timed.generate_s + timed.score_s + train_s;
        out["ppo_epochs"] = ppo_epochs;
        out["minibatches"] = minibatches;
        out["timed_iterations"] = steps - 1;
        out["seconds_per_iteration"] = timed.wall_s / iterations;
        out["tokens_per_second"] = generated / timed.wall_s;
        out["tokens_per_cpu_second"] = generated / timed.cpu_s;
        out["percent_generate"] = 100 * timed.generate_s / total;
        out["percent_score"] = 100 * timed.score_s / total;
        out["percent_train"] = 100 * train_s / total;
        out["s_generate_per_iteration"] = timed.generate_s / iterations;
        out["s_score_per_iteration"] = timed.score_s / iterations;
        out["s_train_per_iteration"] = train_s / iterations;
    }
    out["load_average"] = load[0];
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

}  // namespace

RLHF_CLI_BENCH(train,
               "rlhf bench train --algo sft|ppo (--model DIR | --random gpt2-124m|qwen2.5-0.5b|FAMILY [--save DIR]) "
               "[--device cpu|cuda[:N]] [--dtype auto|fp32|bf16] [--steps N] [--batch B] [--prompt-len P] "
               "[--response-len R] [--threads K] [--ppo-epochs E] [--minibatches M] [--peak-tflops F]",
               "Training throughput (tokens/s, per CPU second too) of SFT or PPO on synthetic data, with the time "
               "split (SFT: forward/backward/optimizer; PPO: generate/score/train) and, for SFT on CUDA, MFU.",
               run_bench_train);
