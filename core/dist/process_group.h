// ProcessGroup: data parallelism across processes with PyTorch's own c10d (DESIGN.md §2
// core/dist). The environment is torchrun's: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE,
// LOCAL_RANK. Without WORLD_SIZE (or with WORLD_SIZE=1) the group is a single process and every
// collective is a no-op, so the same program runs alone or under a launcher.
//
// Rendezvous is a c10d::TCPStore served by rank 0 on MASTER_ADDR:MASTER_PORT; the collectives
// are c10d::ProcessGroupGloo on CPU and c10d::ProcessGroupNCCL on CUDA (when the LibTorch has
// NCCL). Gradients are averaged in buckets: flattened into buffers of up to bucket_bytes, one
// allreduce per bucket (PyTorch DDP's scheme, Li et al. 2020, VLDB), not one per parameter.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/dist/communicator.h"

namespace rlhf::dist {

// The torchrun-style environment of one process.
struct DistEnv {
    std::string master_addr;  // MASTER_ADDR: host of rank 0's rendezvous store
    int port = 0;             // MASTER_PORT: its TCP port (1..65535)
    int64_t rank = 0;         // RANK: 0..world_size-1, global rank
    int64_t world_size = 1;   // WORLD_SIZE: number of processes
    int64_t local_rank = 0;   // LOCAL_RANK: rank on this machine (CUDA device index); default RANK
};

// Reads the environment through `getenv` (tests pass a map). nullopt when WORLD_SIZE is unset or 1
// (single process). Throws rlhf::Error naming the variable when one is missing or malformed.
using GetEnv = std::function<const char*(const char*)>;
std::optional<DistEnv> read_dist_env(const GetEnv& getenv);
std::optional<DistEnv> read_dist_env();  // from the process environment

enum class Backend {
    Auto,  // NCCL when the device is CUDA, Gloo otherwise
    Gloo,  // CPU tensors, TCP transport
    Nccl,  // CUDA tensors (needs a LibTorch built with NCCL)
};

struct ProcessGroupOptions {
    Backend backend = Backend::Auto;           // which c10d backend runs the collectives
    torch::Device device = torch::kCPU;        // where gradients live (CUDA -> NCCL under Auto)
    std::chrono::milliseconds timeout{300000}; // rendezvous and each collective; then rlhf::Error
    int64_t bucket_bytes = 25 << 20;           // gradient bucket size (DDP's default 25 MiB)
};

// Groups tensor indices into buckets of one dtype and device each, in order, each holding at most
// bucket_bytes (a tensor larger than that gets a bucket of its own). Pure; exposed for tests.
std::vector<std::vector<size_t>> plan_buckets(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes);

class ProcessGroup : public Communicator {
public:
    // From the torchrun environment; a single-process group when it is absent.
    static std::shared_ptr<ProcessGroup> from_env(const ProcessGroupOptions& options = {});
    // Joins the group described by env (blocks until all world_size ranks have joined, or throws
    // rlhf::Error after options.timeout).
    static std::shared_ptr<ProcessGroup> create(const DistEnv& env, const ProcessGroupOptions& options = {});
    // world_size 1, no c10d.
    static std::shared_ptr<ProcessGroup> single();
    ~ProcessGroup() override;

    int64_t rank() const override { return env_.rank; }
    int64_t world_size() const override { return env_.world_size; }
    int64_t local_rank() const { return env_.local_rank; }
    std::string backend_name() const override;
    const ProcessGroupOptions& options() const { return options_; }

    void allreduce_mean(std::vector<torch::Tensor>& tensors) override;
    void allreduce_sum(std::vector<double>& values) override;
    void broadcast(std::vector<torch::Tensor>& tensors, int64_t root = 0) override;
    void barrier() override;
    // root's value on every rank (e.g. the run id rank 0 created in the store).
    int64_t broadcast_value(int64_t value, int64_t root = 0);

    struct Impl;  // c10d objects; defined in process_group.cpp

private:
    ProcessGroup(DistEnv env, ProcessGroupOptions options);
    DistEnv env_;
    ProcessGroupOptions options_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rlhf::dist
