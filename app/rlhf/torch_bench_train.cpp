// rlhf bench train --algo sft|ppo --model DIR [--steps N] [--batch B] [--prompt-len P]
//                  [--response-len R] [--threads K] — training throughput on synthetic token data.
// Prints one JSON object: tokens/s over the timed steps (the first step is a warm-up and is
// not timed). Figures only; nothing is asserted.
#include <chrono>
#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "app/rlhf/cli.h"
#include "core/io/error.h"
#include "core/model/checkpoint.h"
#include "core/train/algorithms.h"
#include "core/train/trainer.h"

using namespace rlhf;
using namespace rlhf::train;

namespace {

int run_bench_train(cli::Args& args) {
    const std::string algo = args.get("algo", "sft");
    const std::string dir = args.require("model");
    const int64_t steps = args.get_int("steps", 5);
    const int64_t batch = args.get_int("batch", 4);
    const int64_t prompt_len = args.get_int("prompt-len", 64);
    const int64_t response_len = args.get_int("response-len", 64);
    const int64_t threads = args.get_int("threads", 0);
    args.finish();
    if (algo != "sft" && algo != "ppo") throw UsageError("rlhf bench train: --algo must be sft or ppo");
    if (steps < 2 || batch < 1 || prompt_len < 1 || response_len < 1)
        throw UsageError("rlhf bench train: --steps >= 2, --batch, --prompt-len, --response-len >= 1");
    if (threads > 0) at::set_num_threads(static_cast<int>(threads));

    auto policy = model::load_causal_lm(dir);
    const int64_t vocab = policy->config().vocab_size;
    std::mt19937 rng(1);
    std::uniform_int_distribution<int64_t> tok(0, vocab - 1);
    auto random_ids = [&](int64_t n) {
        TokenIds v(static_cast<size_t>(n));
        for (auto& t : v) t = tok(rng);
        return v;
    };
    TrainConfig c;
    c.algo = algo == "sft" ? Algo::Sft : Algo::Ppo;
    c.batch_size = batch;
    c.max_steps = steps;
    c.optimizer.lr = 1e-6;
    c.data.max_length = prompt_len + response_len;
    c.data.max_prompt_length = prompt_len;
    c.ppo.response_length = response_len;
    c.ppo.ppo_epochs = 1;
    c.ppo.minibatches = 1;
    c.ppo.temperature = 1.0;
    c.ppo.eos_penalty = 0.0;

    std::unique_ptr<TrainTask> task;
    std::shared_ptr<model::CausalLM> reference;
    if (c.algo == Algo::Sft) {
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
    using Clock = std::chrono::steady_clock;
    double timed_s = 0, timed_tokens = 0;
    Clock::time_point t_prev = Clock::now();
    TrainerCallbacks cb;
    cb.on_metrics = [&](int64_t step, const Metrics& m) {
        const auto t = Clock::now();
        if (step > 1) {  // step 1 warms up allocators and caches
            timed_s += std::chrono::duration<double>(t - t_prev).count();
            // SFT: every token of the batch is processed; PPO: generated response tokens.
            timed_tokens += c.algo == Algo::Sft ? m.at("num_tokens") : m.at("response_length") * static_cast<double>(batch);
        }
        t_prev = t;
    };
    Trainer trainer(TrainerOptions::from_config(c, "", 0), *task, cb);
    trainer.run();
    nlohmann::json out;
    out["bench"] = "train";
    out["algo"] = algo;
    out["model"] = dir;
    out["batch"] = batch;
    out["prompt_len"] = prompt_len;
    out["response_len"] = response_len;
    out["threads"] = at::get_num_threads();
    out["timed_steps"] = steps - 1;
    out["seconds_per_step"] = timed_s / static_cast<double>(steps - 1);
    out["tokens_per_second"] = timed_s > 0 ? timed_tokens / timed_s : 0.0;
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

}  // namespace

RLHF_CLI_BENCH(train,
               "rlhf bench train --algo sft|ppo --model DIR [--steps N] [--batch B] [--prompt-len P] [--response-len R] [--threads K]",
               "Training throughput (tokens/s) of SFT or PPO on synthetic data.", run_bench_train);
