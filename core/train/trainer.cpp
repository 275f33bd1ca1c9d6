// The shared optimisation loop; see trainer.h for the contract.
#include "core/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <sstream>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "core/io/error.h"
#include "core/train/checkpoint.h"

namespace rlhf::train {

namespace {

constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kOptimizerFile = "optimizer.pt";
constexpr const char* kStateFile = "trainer_state.json";

std::string to_hex(const torch::Tensor& bytes) {
    static const char* digits = "0123456789abcdef";
    auto b = bytes.contiguous();
    const uint8_t* p = b.data_ptr<uint8_t>();
    std::string out;
    out.reserve(static_cast<size_t>(b.numel()) * 2);
    for (int64_t i = 0; i < b.numel(); ++i) {
        out.push_back(digits[p[i] >> 4]);
        out.push_back(digits[p[i] & 15]);
    }
    return out;
}

torch::Tensor from_hex(const std::string& hex, const std::string& what) {
    if (hex.size() % 2) throw Error(what + ": odd-length hex string");
    auto t = torch::empty({static_cast<int64_t>(hex.size() / 2)}, torch::kUInt8);
    uint8_t* p = t.data_ptr<uint8_t>();
    auto nibble = [&](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        throw Error(what + ": bad hex digit");
    };
    for (size_t i = 0; i < hex.size() / 2; ++i) p[i] = static_cast<uint8_t>(nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]));
    return t;
}

std::vector<std::pair<std::string, torch::Tensor>> module_state(torch::nn::Module& m) {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& item : m.named_parameters(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
    for (const auto& item : m.named_buffers(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
    return out;
}

void load_module_state(torch::nn::Module& m, const std::map<std::string, torch::Tensor>& tensors, const std::string& path) {
    torch::NoGradGuard no_grad;
    for (auto& [name, dst] : module_state(m)) {
        auto it = tensors.find(name);
        if (it == tensors.end()) throw Error(path + ": tensor '" + name + "' is missing");
        if (it->second.sizes() != dst.sizes())
            throw Error(path + ": tensor '" + name + "': shape differs from the model's");
        dst.copy_(it->second);
    }
}

// Global L2 norm of the gradients, and with max_norm > 0 the gradients scaled by
// min(1, max_norm / (norm + 1e-6)) — torch.nn.utils.clip_grad_norm_'s arithmetic, op for op, but
// with one host read at the end instead of LibTorch's .item() (on CUDA the scaling is queued
// without waiting; on meta it runs at all). max_norm 0: measured in float64, not clipped.
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
    std::vector<torch::Tensor> grads;
    for (const auto& p : params)
        if (p.grad().defined()) grads.push_back(p.grad());
    if (grads.empty()) return 0.0;
    if (max_norm <= 0) {
        std::vector<torch::Tensor> sq;
        for (const auto& g : grads) sq.push_back(g.detach().to(torch::kFloat64).pow(2).sum());
        return std::sqrt(model::host_scalar(torch::stack(sq).sum()));
    }
    std::vector<torch::Tensor> norms;
    norms.reserve(grads.size());
    for (const auto& g : grads) norms.push_back(g.data().norm(2));
    auto total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2);
    auto coef = torch::clamp(max_norm / (total + 1e-6), /*min=*/std::nullopt, /*max=*/1.0);
    for (auto& g : grads) g.data().mul_(coef);
    return model::host_scalar(total);
}

}  // namespace

std::vector<size_t> shard(const std::vector<size_t>& global, const StepContext& ctx) {
    const auto [first, count] = shard_range(static_cast<int64_t>(global.size()), ctx);
    return std::vector<size_t>(global.begin() + first, global.begin() + first + count);
}

std::pair<int64_t, int64_t> shard_range(int64_t n, const StepContext& ctx) {
    if (ctx.world_size <= 1) return {0, n};
    const int64_t first = ctx.rank * n / ctx.world_size;
    const int64_t end = (ctx.rank + 1) * n / ctx.world_size;
    return {first, end - first};
}

std::vector<torch::Tensor> TrainTask::trainable_parameters() {
    std::vector<torch::Tensor> out;
    for (auto& p : module().parameters(/*recurse=*/true))
        if (p.requires_grad()) out.push_back(p);
    return out;
}

TrainerOptions TrainerOptions::from_config(const TrainConfig& c, const std::string& checkpoint_dir,
                                           int64_t steps_per_epoch) {
    TrainerOptions o;
    o.optimizer = c.optimizer;
    o.schedule = c.schedule;
    o.grad_accum = c.grad_accum;
    o.max_grad_norm = c.max_grad_norm;
    o.max_steps = c.max_steps > 0 ? c.max_steps : c.epochs * steps_per_epoch;
    o.max_nonfinite_in_a_row = c.guards.max_nonfinite_in_a_row;
    o.seed = c.seed;
    o.checkpoint_dir = checkpoint_dir;
    o.checkpoint_every = c.checkpoint.every;
    o.keep_last = c.checkpoint.keep_last;
    o.log_every = c.log_every;
    o.device = model::resolve_device(c.device);
    o.precision = model::resolve_precision(precision_name(c.precision), o.device);
    return o;
}

double lr_at_step(const ScheduleConfig& s, double lr, int64_t step, int64_t total_steps) {
    if (step < s.warmup_steps) return lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
    if (s.type == LrSchedule::Constant || total_steps <= s.warmup_steps) return lr;
    double p = static_cast<double>(step - s.warmup_steps) / static_cast<double>(total_steps - s.warmup_steps);
    p = std::min(1.0, std::max(0.0, p));
    if (s.type == LrSchedule::Linear) return lr - (lr - s.lr_min) * p;
    return s.lr_min + (lr - s.lr_min) * 0.5 * (1.0 + std::cos(M_PI * p));
}

// ---------------------------------------------------------------------------------------------

Trainer::Trainer(TrainerOptions options, TrainTask& task, TrainerCallbacks callbacks)
    : options_(std::move(options)), task_(task), callbacks_(std::move(callbacks)) {
    if (options_.grad_accum < 1) throw Error("trainer: grad_accum must be >= 1");
    torch::manual_seed(static_cast<uint64_t>(options_.seed));
    params_ = task_.trainable_parameters();
    if (params_.empty()) throw Error("trainer: the task has no trainable parameters");
    auto adam = torch::optim::AdamWOptions(options_.optimizer.lr)
                    .betas(std::make_tuple(options_.optimizer.beta1, options_.optimizer.beta2))
                    .eps(options_.optimizer.eps)
                    .weight_decay(options_.optimizer.weight_decay);
    optimizer_ = std::make_unique<torch::optim::AdamW>(params_, adam);
    if (options_.comm) {
        rank_ = options_.comm->rank();
        world_size_ = options_.comm->world_size();
    }
}

Trainer::~Trainer() = default;

torch::optim::AdamW& Trainer::optimizer() { return *optimizer_; }

nlohmann::json Trainer::trainer_state() const {
    nlohmann::json s;
    s["step"] = step_;
    s["nonfinite_in_a_row"] = nonfinite_in_a_row_;
    s["nonfinite_total"] = nonfinite_total_;
    s["seed"] = options_.seed;
    s["torch_version"] = TORCH_VERSION;
    s["torch_cpu_rng"] = to_hex(at::detail::getDefaultCPUGenerator().get_state());
    // CUDA runs draw dropout masks and samples from the devices' generators: keep them too.
    auto cuda = model::cuda_rng_states();
    if (!cuda.empty()) {
        s["torch_cuda_rng"] = nlohmann::json::array();
        for (const auto& state : cuda) s["torch_cuda_rng"].push_back(to_hex(state));
    }
    s["task"] = task_.save_state();
    return s;
}

void Trainer::load_trainer_state(const nlohmann::json& s) {
    step_ = s.at("step").get<int64_t>();
    nonfinite_in_a_row_ = s.at("nonfinite_in_a_row").get<int64_t>();
    nonfinite_total_ = s.at("nonfinite_total").get<int64_t>();
    auto gen = at::detail::getDefaultCPUGenerator();
    {
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(from_hex(s.at("torch_cpu_rng").get<std::string>(), "trainer_state.json: torch_cpu_rng"));
    }
    if (s.contains("torch_cuda_rng")) {
        std::vector<torch::Tensor> cuda;
        for (const auto& h : s.at("torch_cuda_rng")) cuda.push_back(from_hex(h.get<std::string>(), "trainer_state.json: torch_cuda_rng"));
        model::set_cuda_rng_states(cuda, "trainer_state.json: torch_cuda_rng");
    }
    task_.load_state(s.at("task"));
}

std::string Trainer::save_checkpoint() {
    if (options_.checkpoint_dir.empty() || !writer()) return "";
    CheckpointWriter w(options_.checkpoint_dir, step_);
    w.add_tensors(kModelFile, module_state(task_.module()));
    {
        torch::serialize::OutputArchive archive;
        optimizer_->save(archive);
        std::ostringstream os;
        archive.save_to(os);
        w.add_file(kOptimizerFile, os.str());
    }
    w.add_file(kStateFile, trainer_state().dump(1) + "\n");
    std::string path = w.commit(options_.keep_last);
    if (callbacks_.on_checkpoint) callbacks_.on_checkpoint(step_, path);
    return path;
}

int64_t Trainer::resume() {
    if (options_.checkpoint_dir.empty()) return -1;
    auto found = latest_valid_checkpoint(options_.checkpoint_dir);
    if (!found) return -1;
    const std::string dir = found->path + "/";
    load_module_state(task_.module(), read_checkpoint_tensors(dir + kModelFile), dir + kModelFile);
    {
        torch::serialize::InputArchive archive;
        std::istringstream is(read_checkpoint_file(dir + kOptimizerFile));
        archive.load_from(is);
        optimizer_->load(archive);
    }
    nlohmann::json state;
    try {
        state = nlohmann::json::parse(read_checkpoint_file(dir + kStateFile));
        load_trainer_state(state);
    } catch (const nlohmann::json::exception& e) {
        throw Error(dir + kStateFile + ": " + e.what());
    }
    if (callbacks_.on_log) callbacks_.on_log("resumed from " + found->path + " at step " + std::to_string(step_));
    return step_;
}

bool Trainer::train_one_step(StepContext& ctx, double* loss_out, double* grad_norm_out) {
    optimizer_->zero_grad();
    Metrics base = ctx.metrics;  // begin_step's metrics are reported as they are
    Metrics sums;
    double loss_sum = 0;
    bool finite = true;
    for (int64_t micro = 0; micro < options_.grad_accum; ++micro) {
        ctx.micro = micro;
        ctx.metrics.clear();
        torch::Tensor loss;
        {
            model::AutocastGuard autocast(options_.device, options_.precision);
            loss = task_.micro_batch_loss(ctx);
        }
        for (const auto& [k, v] : ctx.metrics) sums[k] += v;
        const double lv = model::host_scalar(loss);
        if (!std::isfinite(lv)) {
            finite = false;
            break;
        }
        loss_sum += lv;
        (loss / static_cast<double>(options_.grad_accum)).backward();
    }
    ctx.metrics = base;
    for (const auto& [k, v] : sums) ctx.metrics[k] = k == "num_tokens" ? v : v / static_cast<double>(options_.grad_accum);
    if (distributed()) {
        // One vote so all ranks skip a non-finite step together, and a check that the ranks agree
        // on which parameters have gradients (the buckets must match); then the gradient mean.
        std::vector<torch::Tensor> grads;
        for (const auto& p : params_)
            if (p.grad().defined()) grads.push_back(p.grad());
        std::vector<double> vote{finite ? 0.0 : 1.0, static_cast<double>(grads.size())};
        options_.comm->allreduce_sum(vote);
        finite = vote[0] == 0.0;
        // (Only a finite step ran every backward; a rank that stopped at a NaN may hold fewer.)
        if (finite && vote[1] != static_cast<double>(grads.size() * static_cast<size_t>(world_size_)))
            throw Error("trainer: step " + std::to_string(step_ + 1) + ": rank " + std::to_string(rank_) + " has " +
                        std::to_string(grads.size()) + " parameter gradients, other ranks a different number");
        if (finite) options_.comm->allreduce_mean(grads);
    }
    double grad_norm = std::nan("");
    if (finite) {
        grad_norm = clip_grad_norm(params_, options_.max_grad_norm);
        finite = std::isfinite(grad_norm);
    }
    *loss_out = finite ? loss_sum / static_cast<double>(options_.grad_accum) : std::nan("");
    *grad_norm_out = grad_norm;
    if (finite) {
        optimizer_->step();
    } else {
        optimizer_->zero_grad();  // nothing of this step may leak into the next
    }
    return finite;
}

void Trainer::reduce_metrics(Metrics& m, std::string& stop_reason) {
    // Values in key order, then a stop vote and a fingerprint of the key set: the ranks must
    // report the same metric names, or the sums would mix different metrics.
    std::vector<double> v;
    uint32_t keys_hash = 2166136261u;  // FNV-1a over the sorted names
    for (const auto& [k, x] : m) {
        v.push_back(x);
        for (char c : k) keys_hash = (keys_hash ^ static_cast<uint8_t>(c)) * 16777619u;
        keys_hash = (keys_hash ^ 0u) * 16777619u;
    }
    const double fingerprint = static_cast<double>(keys_hash & 0xffffffu);  // exact in a double sum
    v.push_back(stop_reason.empty() ? 0.0 : 1.0);
    v.push_back(fingerprint);
    options_.comm->allreduce_sum(v);
    if (v.back() != fingerprint * static_cast<double>(world_size_))
        throw Error("trainer: step " + std::to_string(step_) + ": rank " + std::to_string(rank_) +
                    " reports different metric names than other ranks");
    if (v[v.size() - 2] > 0 && stop_reason.empty()) stop_reason = "stopped by another rank";
    size_t i = 0;
    for (auto& [k, x] : m) {
        // Token counts add up over the ranks' slices; everything else is a mean over ranks (equal
        // slices, so the mean of slice means is the global batch's mean).
        x = k == "num_tokens" ? v[i] : v[i] / static_cast<double>(world_size_);
        ++i;
    }
}

TrainResult Trainer::run(const std::atomic<bool>* cancel) {
    TrainResult result;
    int64_t last_saved = -1;
    using Clock = std::chrono::steady_clock;
    if (distributed()) {
        // Every rank starts from rank 0's weights (ranks resumed from one checkpoint already agree).
        torch::NoGradGuard no_grad;
        std::vector<torch::Tensor> state;
        for (auto& [name, t] : module_state(task_.module())) state.push_back(t);
        options_.comm->broadcast(state, 0);
    }
    while (step_ < options_.max_steps) {
        bool cancelled = cancel && cancel->load();
        if (distributed()) {
            std::vector<double> vote{cancelled ? 1.0 : 0.0};  // one rank's cancel stops them all
            options_.comm->allreduce_sum(vote);
            cancelled = vote[0] > 0;
        }
        if (cancelled) {
            if (last_saved != step_) save_checkpoint();
            throw Cancelled();
        }
        StepContext ctx;
        ctx.step = step_;
        ctx.grad_accum = options_.grad_accum;
        ctx.rank = rank_;
        ctx.world_size = world_size_;
        ctx.cancel = cancel;
        ctx.comm = distributed() ? options_.comm.get() : nullptr;
        const double lr = lr_at_step(options_.schedule, options_.optimizer.lr, step_, options_.max_steps);
        for (auto& group : optimizer_->param_groups())
            static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
        const auto t0 = Clock::now();
        task_.begin_step(ctx);
        double loss = 0, grad_norm = 0;
        const bool applied = train_one_step(ctx, &loss, &grad_norm);
        task_.end_step(ctx, applied);
        const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        ++step_;
        if (applied) {
            nonfinite_in_a_row_ = 0;
        } else {
            ++nonfinite_in_a_row_;
            ++nonfinite_total_;
            ++result.skipped_steps;
        }
        Metrics m = ctx.metrics;
        m["loss"] = loss;
        m["grad_norm"] = grad_norm;
        m["learning_rate"] = lr;
        m["timing/step_s"] = seconds;
        m["train/nonfinite_steps"] = static_cast<double>(nonfinite_total_);
        if (distributed()) reduce_metrics(m, ctx.stop_reason);
        if (m.count("num_tokens") && seconds > 0) m["tokens_per_second"] = m["num_tokens"] / seconds;
        result.last_metrics = m;
        if (callbacks_.on_samples && !ctx.samples.empty() && writer()) callbacks_.on_samples(step_, ctx.samples);
        if (writer() && (step_ % options_.log_every == 0 || step_ == options_.max_steps)) {
            if (callbacks_.on_metrics) callbacks_.on_metrics(step_, m);
            if (callbacks_.on_log) {
                char line[200];
                std::snprintf(line, sizeof line, "step %lld/%lld  loss %.4f  grad_norm %.3f  lr %.3g  %.2fs%s",
                              static_cast<long long>(step_), static_cast<long long>(options_.max_steps), m["loss"], grad_norm,
                              lr, seconds, applied ? "" : "  (skipped: non-finite)");
                callbacks_.on_log(line);
            }
        }
        if (nonfinite_in_a_row_ >= options_.max_nonfinite_in_a_row)
            throw Error("trainer: step " + std::to_string(step_) + ": " + std::to_string(nonfinite_in_a_row_) +
                        " non-finite steps in a row (guards.max_nonfinite_in_a_row); stopping");
        if (options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0) {
            save_checkpoint();
            last_saved = step_;
        }
        if (!ctx.stop_reason.empty()) {
            result.stop_reason = ctx.stop_reason;
            break;
        }
    }
    if (result.stop_reason.empty()) result.stop_reason = "max_steps";
    if (!options_.checkpoint_dir.empty() && last_saved != step_) save_checkpoint();
    result.steps = step_;
    return result;
}

}  // namespace rlhf::train
