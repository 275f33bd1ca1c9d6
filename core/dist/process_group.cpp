// ProcessGroup over PyTorch's c10d; see process_group.h for the contract.
//
// The backends (ProcessGroupGloo, ProcessGroupNCCL) derive from c10d::Backend; we hold the
// concrete backend and call its collectives directly.
#include "core/dist/process_group.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>

#include <torch/torch.h>
#include <torch/version.h>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef RLHF_DIST_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "core/io/error.h"

namespace rlhf::dist {

namespace {

constexpr const char* kTorchrunVars = "torchrun sets MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE and LOCAL_RANK";

using C10dGroup = c10d::Backend;

// Parses a whole decimal integer; false on anything else (empty, sign junk, trailing text).
bool parse_int(const char* text, int64_t* out) {
    if (!text || !*text) return false;
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(text, &end, 10);
    if (errno || *end != '\0') return false;
    *out = v;
    return true;
}

std::string env_error(const std::string& var, const std::string& what) {
    return "dist: environment variable " + var + ": " + what + " (" + kTorchrunVars + ")";
}

// Message of a c10d / Gloo exception without c10's multi-line C++ backtrace.
std::string short_what(const std::exception& e) {
    if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
    return e.what();
}

bool is_loopback(const std::string& addr) {
    return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Environment

std::optional<DistEnv> read_dist_env(const GetEnv& getenv) {
    const char* ws = getenv("WORLD_SIZE");
    if (!ws) return std::nullopt;
    DistEnv env;
    if (!parse_int(ws, &env.world_size) || env.world_size < 1)
        throw Error(env_error("WORLD_SIZE", std::string("'") + ws + "' is not a positive integer"));
    if (env.world_size == 1) return std::nullopt;
    const char* rank = getenv("RANK");
    if (!rank) throw Error(env_error("RANK", "not set, but WORLD_SIZE=" + std::string(ws) + " is"));
    if (!parse_int(rank, &env.rank) || env.rank < 0 || env.rank >= env.world_size)
        throw Error(env_error("RANK", std::string("'") + rank + "' is not in 0.." + std::to_string(env.world_size - 1) +
                                          " (WORLD_SIZE=" + ws + ")"));
    const char* addr = getenv("MASTER_ADDR");
    if (!addr || !*addr) throw Error(env_error("MASTER_ADDR", "not set, but WORLD_SIZE=" + std::string(ws) + " is"));
    env.master_addr = addr;
    const char* port = getenv("MASTER_PORT");
    if (!port) throw Error(env_error("MASTER_PORT", "not set, but WORLD_SIZE=" + std::string(ws) + " is"));
    int64_t p = 0;
    if (!parse_int(port, &p) || p < 1 || p > 65535)
        throw Error(env_error("MASTER_PORT", std::string("'") + port + "' is not a TCP port (1..65535)"));
    env.port = static_cast<int>(p);
    env.local_rank = env.rank;
    if (const char* lr = getenv("LOCAL_RANK")) {
        if (!parse_int(lr, &env.local_rank) || env.local_rank < 0)
            throw Error(env_error("LOCAL_RANK", std::string("'") + lr + "' is not a non-negative integer"));
    }
    return env;
}

std::optional<DistEnv> read_dist_env() {
    return read_dist_env([](const char* name) -> const char* { return std::getenv(name); });
}

// ---------------------------------------------------------------------------------------------
// Buckets

std::vector<std::vector<size_t>> plan_buckets(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
    // One open bucket per (dtype, device): tensors keep their order within a bucket, so every
    // rank, seeing the same list, builds the same buckets.
    std::vector<std::vector<size_t>> out;
    std::map<std::string, std::pair<size_t, int64_t>> open;  // key -> (bucket index, bytes so far)
    for (size_t i = 0; i < tensors.size(); ++i) {
        const auto& t = tensors[i];
        const std::string key = std::string(c10::toString(t.scalar_type())) + "@" + t.device().str();
        const int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
        auto it = open.find(key);
        if (it == open.end() || it->second.second + bytes > bucket_bytes) {
            out.emplace_back();
            it = open.insert_or_assign(key, std::make_pair(out.size() - 1, int64_t{0})).first;
        }
        out[it->second.first].push_back(i);
        it->second.second += bytes;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// ProcessGroup

struct ProcessGroup::Impl {
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<C10dGroup> group;
    std::string backend;  // "gloo" / "nccl"
};

ProcessGroup::ProcessGroup(DistEnv env, ProcessGroupOptions options)
    : env_(std::move(env)), options_(std::move(options)) {}

ProcessGroup::~ProcessGroup() {
    if (impl_) {
        impl_->group.reset();  // the backend's threads and pairs before the store they met through
        impl_->store.reset();
    }
}

std::shared_ptr<ProcessGroup> ProcessGroup::single() {
    return std::shared_ptr<ProcessGroup>(new ProcessGroup(DistEnv{}, ProcessGroupOptions{}));
}

std::shared_ptr<ProcessGroup> ProcessGroup::from_env(const ProcessGroupOptions& options) {
    auto env = read_dist_env();
    if (!env) {
        auto pg = single();
        pg->options_ = options;
        return pg;
    }
    return create(*env, options);
}

std::shared_ptr<ProcessGroup> ProcessGroup::create(const DistEnv& env, const ProcessGroupOptions& options) {
    std::shared_ptr<ProcessGroup> pg(new ProcessGroup(env, options));
    if (env.world_size <= 1) return pg;
    const std::string where = "dist: rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                              ", MASTER_ADDR:MASTER_PORT " + env.master_addr + ":" + std::to_string(env.port);
    Backend backend = options.backend;
    if (backend == Backend::Auto) backend = options.device.is_cuda() ? Backend::Nccl : Backend::Gloo;
    auto impl = std::make_unique<Impl>();
    try {
        // Rendezvous: rank 0 serves the store and waits (up to the timeout) for the others.
        c10d::TCPStoreOptions so;
        so.port = static_cast<std::uint16_t>(env.port);
        so.isServer = env.rank == 0;
        so.numWorkers = static_cast<std::size_t>(env.world_size);
        so.waitWorkers = true;
        so.timeout = options.timeout;
        impl->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    } catch (const std::exception& e) {
        throw Error(where + ": rendezvous (TCPStore) failed: " + short_what(e));
    }
    try {
        if (backend == Backend::Gloo) {
            auto o = c10d::ProcessGroupGloo::Options::create(options.timeout);
            // Bind Gloo's pairs where the peers can reach us: GLOO_SOCKET_IFNAME when the user
            // names an interface (as PyTorch does), loopback for a single-machine MASTER_ADDR.
            if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
                o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
            else if (is_loopback(env.master_addr))
                o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
            else
                o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
            impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, static_cast<int>(env.rank),
                                                                      static_cast<int>(env.world_size), o);
            impl->backend = "gloo";
        } else {
#ifdef RLHF_DIST_NCCL
            auto o = c10d::ProcessGroupNCCL::Options::create();
            o->timeout = options.timeout;
            impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, static_cast<int>(env.rank),
                                                                      static_cast<int>(env.world_size), o);
            impl->backend = "nccl";
#else
            throw Error("this LibTorch was built without NCCL (use the Gloo backend / a CPU device)");
#endif
        }
    } catch (const std::exception& e) {
        throw Error(where + ": creating the " + std::string(backend == Backend::Gloo ? "Gloo" : "NCCL") +
                    " process group failed: " + short_what(e));
    }
    pg->impl_ = std::move(impl);
    return pg;
}

std::string ProcessGroup::backend_name() const { return impl_ ? impl_->backend : "none"; }

namespace {
// Waits for c10d work items, turning their failures (peer gone, timeout) into rlhf::Error.
template <class Works>
void wait_all(Works& works, const std::string& stage, const DistEnv& env, std::chrono::milliseconds timeout) {
    try {
        for (auto& w : works) w->wait(timeout);
    } catch (const std::exception& e) {
        throw Error("dist: rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) + ": " + stage +
                    " failed (a peer exited or the " + std::to_string(timeout.count()) + " ms timeout passed): " +
                    short_what(e));
    }
}

// Bucket b's tensors flattened into one new buffer: (sum of numel).
torch::Tensor flatten_bucket(const std::vector<torch::Tensor>& tensors, const std::vector<size_t>& bucket) {
    std::vector<torch::Tensor> flat;
    flat.reserve(bucket.size());
    for (size_t i : bucket) flat.push_back(tensors[i].detach().reshape({-1}));
    return torch::cat(flat);
}

void unflatten_bucket(const torch::Tensor& buffer, std::vector<torch::Tensor>& tensors, const std::vector<size_t>& bucket) {
    int64_t offset = 0;
    for (size_t i : bucket) {
        const int64_t n = tensors[i].numel();
        tensors[i].detach().copy_(buffer.narrow(0, offset, n).view(tensors[i].sizes()));
        offset += n;
    }
}
}  // namespace

void ProcessGroup::allreduce_mean(std::vector<torch::Tensor>& tensors) {
    if (!impl_ || tensors.empty()) return;
    torch::NoGradGuard no_grad;
    const auto buckets = plan_buckets(tensors, options_.bucket_bytes);
    std::vector<torch::Tensor> buffers;
    std::vector<decltype(impl_->group->allreduce(buffers))> works;
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = options_.timeout;
    // All buckets are queued before waiting on any: the backend works through them in order.
    for (const auto& b : buckets) {
        buffers.push_back(flatten_bucket(tensors, b));
        std::vector<at::Tensor> one{buffers.back()};
        works.push_back(impl_->group->allreduce(one, opts));
    }
    wait_all(works, "allreduce of " + std::to_string(tensors.size()) + " tensors", env_, options_.timeout);
    for (size_t k = 0; k < buckets.size(); ++k) {
        // Sum then one division by world_size (exact for a power of two): the mean PyTorch DDP uses.
        buffers[k].div_(static_cast<double>(env_.world_size));
        unflatten_bucket(buffers[k], tensors, buckets[k]);
    }
}

void ProcessGroup::allreduce_sum(std::vector<double>& values) {
    if (!impl_ || values.empty()) return;
    auto t = torch::tensor(values, torch::kFloat64).to(options_.device);  // (N)
    std::vector<at::Tensor> one{t};
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = options_.timeout;
    std::vector<decltype(impl_->group->allreduce(one))> works{impl_->group->allreduce(one, opts)};
    wait_all(works, "allreduce of " + std::to_string(values.size()) + " scalars", env_, options_.timeout);
    auto host = t.to(torch::kCPU).contiguous();
    std::copy(host.data_ptr<double>(), host.data_ptr<double>() + values.size(), values.begin());
}

void ProcessGroup::broadcast(std::vector<torch::Tensor>& tensors, int64_t root) {
    if (!impl_ || tensors.empty()) return;
    torch::NoGradGuard no_grad;
    const auto buckets = plan_buckets(tensors, options_.bucket_bytes);
    std::vector<torch::Tensor> buffers;
    std::vector<decltype(impl_->group->broadcast(buffers))> works;
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.rootTensor = 0;
    opts.timeout = options_.timeout;
    for (const auto& b : buckets) {
        buffers.push_back(flatten_bucket(tensors, b));
        std::vector<at::Tensor> one{buffers.back()};
        works.push_back(impl_->group->broadcast(one, opts));
    }
    wait_all(works, "broadcast of " + std::to_string(tensors.size()) + " tensors", env_, options_.timeout);
    if (env_.rank == root) return;
    for (size_t k = 0; k < buckets.size(); ++k) unflatten_bucket(buffers[k], tensors, buckets[k]);
}

void ProcessGroup::barrier() {
    if (!impl_) return;
    c10d::BarrierOptions opts;
    opts.timeout = options_.timeout;
    std::vector<decltype(impl_->group->barrier(opts))> works{impl_->group->barrier(opts)};
    wait_all(works, "barrier", env_, options_.timeout);
}

int64_t ProcessGroup::broadcast_value(int64_t value, int64_t root) {
    if (!impl_) return value;
    std::vector<torch::Tensor> one{torch::tensor({value}, torch::kInt64).to(options_.device)};
    broadcast(one, root);
    return one[0].to(torch::kCPU).item<int64_t>();
}

}  // namespace rlhf::dist
