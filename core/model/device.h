// Devices, compute dtypes and the one door from device memory to the host (DESIGN.md §3).
//
// resolve_device / resolve_precision are the only places that turn the user's `device:` and
// `dtype:` words into a torch::Device and a compute precision; every task, collator, sampler and
// scorer then creates its tensors on the model's device (model.device()).
//
// Host reads: every copy of device data to the host in the engine goes through to_host() /
// host_scalar(), for two reasons. On a GPU each one is a synchronisation, so they are counted
// (host_read_count(): `rlhf bench generate` prints reads per decoded token). And on PyTorch's
// `meta` device (shapes only, no data) a host read yields zeros of the right shape instead of
// throwing, so a whole training step can be dry-run on meta: any tensor created on the CPU and
// mixed with the model's tensors then fails exactly as it would on CUDA (tests/train/test_device).
#pragma once
#include <cstdint>
#include <string>
#include <optional>
#include <vector>

#include <torch/types.h>

namespace torch::nn {
class Module;
}

namespace rlhf::model {

// "auto" | "cpu" | "cuda" | "cuda:N" | "meta" -> a device. auto = CUDA when a device is visible,
// else CPU. local_rank >= 0 (torchrun's LOCAL_RANK, data parallelism over NCCL): "auto" and
// "cuda" become cuda:local_rank, one GPU per process. Throws rlhf::Error naming `field` on an
// unknown word, and when CUDA is asked for but this LibTorch has no CUDA device.
torch::Device resolve_device(const std::string& spec, int64_t local_rank = -1,
                             const std::string& field = "device");

// Makes `device` this process's current CUDA device (cuBLAS handles, NCCL communicators and
// plain "cuda" allocations follow it); nothing for other devices. A data-parallel rank calls it
// with cuda:LOCAL_RANK before it creates anything on the GPU.
void use_device(const torch::Device& device);

// Moves (and casts) every parameter and buffer of `module` to `device`/`dtype`, in place: the
// module's own tensor handles follow. Like Module::to, and also to the meta device, which
// Module::to refuses (its set_data cannot turn a CPU tensor into a meta one); on meta the values
// are dropped, only shapes remain.
void move_to(torch::nn::Module& module, const torch::Device& device, std::optional<torch::Dtype> dtype = std::nullopt);

// Throws rlhf::Error "<what> is on <t's device>, the model on <device>" unless t is undefined or
// on `device`: the first line of a forward pass, so a misplaced input names itself instead of
// failing deep inside a kernel.
void check_device(const torch::Tensor& t, const torch::Device& device, const char* what);

// What a forward pass computes in. Weights stay fp32 ("master weights") for training; on CUDA
// the forward and backward run under autocast in bf16 (fp16 needs loss scaling, which the trainer
// does not do, so fp16 is for inference). Log-softmax, losses and advantage statistics are fp32.
struct Precision {
    torch::Dtype autocast_dtype = torch::kFloat32;  // kFloat32: no autocast
    bool autocast() const { return autocast_dtype != torch::kFloat32; }
    std::string name() const;                       // "fp32" | "bf16" | "fp16"
};
// "auto" | "fp32" | "bf16" | "fp16" on `device`: auto = bf16 on a CUDA device that supports it,
// fp32 on the CPU (CPU training stays fp32 whatever is asked: the CPU has no fast bf16 path we
// rely on). Throws rlhf::Error naming `field` on an unknown word.
Precision resolve_precision(const std::string& dtype, const torch::Device& device,
                            const std::string& field = "dtype");

// RAII: autocast of the forward/backward in precision.autocast_dtype on `device` (CUDA only;
// nothing on other devices or in fp32). Restores the previous state and clears the cast cache.
class AutocastGuard {
public:
    AutocastGuard(const torch::Device& device, const Precision& precision);
    ~AutocastGuard();
    AutocastGuard(const AutocastGuard&) = delete;
    AutocastGuard& operator=(const AutocastGuard&) = delete;

private:
    bool on_ = false;
    bool prev_enabled_ = false;
    torch::Dtype prev_dtype_ = torch::kFloat32;
};

// A CPU tensor with t's values (t itself when it is on the CPU already). A meta tensor yields
// zeros of its shape and dtype. Counts one host read, whatever the device: on a GPU each is a
// synchronisation, so the count is what a GPU run would wait for.
torch::Tensor to_host(const torch::Tensor& t);
// The single element of t as a double (t.numel() must be 1); 0 for a meta tensor.
double host_scalar(const torch::Tensor& t);
// Host reads (to_host / host_scalar calls) so far in this process, all threads.
int64_t host_read_count();

// The CUDA RNG state of every visible device (CPU uint8 tensors; empty without CUDA), for
// checkpoints, and back: a resumed CUDA run draws the same dropout masks and samples. Setting
// throws rlhf::Error naming `where` when the checkpoint saw more devices than are visible now.
std::vector<torch::Tensor> cuda_rng_states();
void set_cuda_rng_states(const std::vector<torch::Tensor>& states, const std::string& where);

}  // namespace rlhf::model
