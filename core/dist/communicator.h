// Communicator: the few collectives a data-parallel training loop needs, as an interface.
// core/train's Trainer talks to this header only (no link dependency on core/dist, so every
// program that links rlhf_train keeps building without c10d); core/dist's ProcessGroup is the
// implementation over PyTorch's c10d (Gloo on CPU, NCCL on CUDA).
//
// Every rank must call the same collectives in the same order with tensors of the same shapes;
// a rank that does not shows up as a timeout (rlhf::Error) on the others.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace rlhf::dist {

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int64_t rank() const = 0;        // 0..world_size-1
    virtual int64_t world_size() const = 0;  // number of processes (1 = no-op collectives)
    // Replaces every tensor by its mean over ranks. The tensors are flattened into a few large
    // buffers (one collective per bucket, not one per parameter).
    virtual void allreduce_mean(std::vector<torch::Tensor>& tensors) = 0;
    // Replaces every value by its sum over ranks (metrics, the non-finite guard's vote). float64.
    virtual void allreduce_sum(std::vector<double>& values) = 0;
    // Copies root's tensors into every rank's tensors (same shapes and dtypes on all ranks).
    virtual void broadcast(std::vector<torch::Tensor>& tensors, int64_t root = 0) = 0;
    // Returns when every rank has reached it.
    virtual void barrier() = 0;
    // "gloo", "nccl" or "none" (single process).
    virtual std::string backend_name() const = 0;
};

}  // namespace rlhf::dist
