// Trainer: the optimisation loop every algorithm shares (DESIGN.md §2 core/train): seeding,
// AdamW, learning-rate schedule with warmup, gradient accumulation, global-norm clipping, the
// non-finite guard, checkpoint/resume, metric/sample/checkpoint/log callbacks and cooperative
// cancellation. What is trained and how a loss is computed is the TrainTask's business: SFT, RM,
// DPO, PPO and GRPO are TrainTasks; tests use a tiny MLP task.
//
// One "step" is one optimizer update (grad_accum micro-batches). Step numbers are 0-based while
// running; checkpoint step-N holds the state after N completed steps.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "core/dist/communicator.h"
#include "core/model/device.h"
#include "core/train/config.h"

namespace torch::nn {
class Module;
}
namespace torch::optim {
class AdamW;
}

namespace rlhf::train {

using Metrics = std::map<std::string, double>;  // DESIGN.md §5 names -> value

// A generated example shown in the Runs panel (PPO/GRPO rollouts, SFT eval generations).
struct Sample {
    std::string prompt;
    std::string completion;
    double reward = 0.0;
    // Per-token rollout data (PPO/GRPO), equal-length arrays over the response tokens up to and
    // including EOS: {"tokens":[piece…],"kl":[…],"advantage":[…],"logprob":[…],"ref_logprob":[…],
    // "value":[…] (PPO)}; kl = logprob − ref_logprob. Stored as store::Sample::extra_json.
    nlohmann::json extra = nlohmann::json::object();
};

// What a task sees while computing one step.
struct StepContext {
    int64_t step = 0;              // 0-based optimizer step being computed
    int64_t micro = 0;             // micro-batch index within the step, 0..grad_accum-1
    int64_t grad_accum = 1;        // micro-batches in this step
    // Data parallelism (core/dist): this process's rank among world_size. A task draws the same
    // global batch on every rank (same seeded order) and trains on its rank's slice of it, so
    // world_size processes with batch B equal one process with batch world_size * B.
    int64_t rank = 0;
    int64_t world_size = 1;
    Metrics metrics;               // the task adds its metrics here (averaged over micro-batches by the task)
    std::vector<Sample> samples;   // the task adds samples here
    const std::atomic<bool>* cancel = nullptr;  // long tasks (generation) poll this too
    // The ranks' collectives (null in a single process). Tasks whose statistics span the batch
    // (PPO/GRPO advantage whitening, the KL controller, token-mean normalisers) use it to see the
    // global batch; every rank must call it the same number of times in the same order.
    dist::Communicator* comm = nullptr;
    std::string stop_reason;       // set to stop the run after this step (e.g. "kl_stop")
};

// Data parallelism: this rank's part of a global batch that every rank drew identically.
// Rank r gets [r·n/W, (r+1)·n/W) (contiguous; sizes differ by at most one when W does not divide n).
std::vector<size_t> shard(const std::vector<size_t>& global, const StepContext& ctx);
// The same split as a row range of a global batch of n rows: {first row, row count}.
std::pair<int64_t, int64_t> shard_range(int64_t n, const StepContext& ctx);

class TrainTask {
public:
    virtual ~TrainTask() = default;
    // The module whose parameters/buffers are checkpointed (and whose trainable parameters are
    // optimised, unless trainable_parameters() says otherwise).
    virtual torch::nn::Module& module() = 0;
    // Parameters the optimizer updates; default: every parameter with requires_grad.
    virtual std::vector<torch::Tensor> trainable_parameters();
    // Called once per step before its micro-batches (PPO generates rollouts here).
    virtual void begin_step(StepContext& ctx) { (void)ctx; }
    // Loss of one micro-batch; the Trainer divides by grad_accum and back-propagates. The task
    // reports "num_tokens" in ctx.metrics if it wants tokens_per_second.
    virtual torch::Tensor micro_batch_loss(StepContext& ctx) = 0;
    // Called after the optimizer update (or after a skipped step), e.g. KL controller updates.
    virtual void end_step(StepContext& ctx, bool applied) { (void)ctx, (void)applied; }
    // Everything else a resumed run needs to continue exactly: data cursor, own RNG states, KL
    // coefficient... Stored in trainer_state.json of each checkpoint.
    virtual nlohmann::json save_state() const { return nlohmann::json::object(); }
    virtual void load_state(const nlohmann::json& state) { (void)state; }
    // Optimizer steps for `epochs` passes over the data (used when max_steps is 0); 0 = unknown.
    virtual int64_t steps_per_epoch(int64_t grad_accum) const { (void)grad_accum; return 0; }
};

struct TrainerOptions {
    OptimizerConfig optimizer;        // AdamW hyper-parameters
    ScheduleConfig schedule;          // warmup + decay
    int64_t grad_accum = 1;           // micro-batches per optimizer step
    double max_grad_norm = 1.0;       // 0 = no clipping (grad_norm is still measured)
    int64_t max_steps = 0;            // total optimizer steps (the schedule's length)
    int64_t max_nonfinite_in_a_row = 5;  // abort after this many skipped steps in a row
    int64_t seed = 42;                // torch::manual_seed at construction
    std::string checkpoint_dir;       // runs/<id>/checkpoints; "" = no checkpoints
    int64_t checkpoint_every = 0;     // steps between checkpoints; 0 = only at the end
    int64_t keep_last = 2;            // checkpoints kept; 0 = all
    int64_t log_every = 1;            // steps between on_metrics/on_log calls
    // Where the task's modules live and what their forward computes in (core/model/device.h): on
    // CUDA, micro_batch_loss runs under autocast (bf16) over fp32 master weights.
    torch::Device device = torch::kCPU;
    model::Precision precision;
    // Data parallelism (core/dist::ProcessGroup): null or world_size 1 = one process. With more,
    // parameters are broadcast from rank 0 when run() starts, gradients are averaged after the
    // grad_accum micro-batches (before clipping), the non-finite guard, cancellation and task
    // stops are agreed by all ranks, metrics are averaged (num_tokens summed), and only rank 0
    // writes checkpoints and calls the callbacks. Every rank must call resume() and run().
    std::shared_ptr<dist::Communicator> comm;

    // Fills everything from a run config; steps_per_epoch resolves `epochs` when max_steps is 0.
    // The device is c.device resolved (core/model/device.h; "cuda" means cuda:0 here, which only
    // matters for autocast's device type), the precision c.precision on it.
    static TrainerOptions from_config(const TrainConfig& config, const std::string& checkpoint_dir,
                                      int64_t steps_per_epoch);
};

struct TrainerCallbacks {
    std::function<void(int64_t step, const Metrics& metrics)> on_metrics;       // step is 1-based (completed steps)
    std::function<void(int64_t step, const std::vector<Sample>& samples)> on_samples;
    std::function<void(int64_t step, const std::string& path)> on_checkpoint;   // after it is durable
    std::function<void(const std::string& line)> on_log;                        // human-readable line
};

struct TrainResult {
    int64_t steps = 0;              // completed optimizer steps (including resumed ones)
    int64_t skipped_steps = 0;      // non-finite steps skipped in this run
    std::string stop_reason;        // "max_steps", "cancelled", or the task's reason ("kl_stop")
    Metrics last_metrics;           // metrics of the final step
};

// Learning rate of 0-based optimizer step `step` (what optimizer step step+1 uses):
//   step < warmup:  lr · (step + 1) / warmup                       (reaches lr at step warmup−1)
//   after: p = (step − warmup) / (total − warmup) ∈ [0, 1)
//     constant: lr; linear: lr − (lr − lr_min) p; cosine: lr_min + (lr − lr_min) · ½ (1 + cos π p)
// (as transformers' get_{linear,cosine}_schedule_with_warmup after warmup: lr_min is reached
// just after the last step, so no step is wasted at lr 0). total_steps = 0 (unknown): constant.
double lr_at_step(const ScheduleConfig& schedule, double lr, int64_t step, int64_t total_steps);

class Trainer {
public:
    Trainer(TrainerOptions options, TrainTask& task, TrainerCallbacks callbacks = {});
    ~Trainer();
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    // Loads the newest checkpoint under checkpoint_dir whose manifest verifies (partial or
    // corrupt ones are skipped). Returns the step it holds, or -1 when there is none.
    int64_t resume();
    // Runs until max_steps, a task stop, or cancellation (throws rlhf::Cancelled after saving a
    // checkpoint when checkpoint_dir is set). Throws rlhf::Error after max_nonfinite_in_a_row
    // skipped steps in a row.
    TrainResult run(const std::atomic<bool>* cancel = nullptr);
    // Writes a checkpoint of the current state now; returns its directory ("" without a dir, and
    // on ranks other than 0: the ranks hold the same state, rank 0 writes it).
    std::string save_checkpoint();

    int64_t step() const { return step_; }  // completed optimizer steps
    torch::optim::AdamW& optimizer();
    const TrainerOptions& options() const { return options_; }

private:
    bool train_one_step(StepContext& ctx, double* loss, double* grad_norm);
    bool distributed() const { return world_size_ > 1; }
    bool writer() const { return rank_ == 0; }  // rank 0 writes checkpoints, metrics, logs
    void reduce_metrics(Metrics& m, std::string& stop_reason);
    nlohmann::json trainer_state() const;
    void load_trainer_state(const nlohmann::json& state);

    TrainerOptions options_;
    TrainTask& task_;
    TrainerCallbacks callbacks_;
    std::vector<torch::Tensor> params_;
    std::unique_ptr<torch::optim::AdamW> optimizer_;
    int64_t step_ = 0;
    int64_t nonfinite_in_a_row_ = 0;
    int64_t nonfinite_total_ = 0;
    int64_t rank_ = 0;
    int64_t world_size_ = 1;
};

}  // namespace rlhf::train
