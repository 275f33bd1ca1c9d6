// Device and precision resolution, autocast, host reads; see device.h.
#include "core/model/device.h"

#include <atomic>
#include <cctype>

#include <ATen/autocast_mode.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/torch.h>
#ifdef RLHF_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include "core/io/error.h"

namespace rlhf::model {

namespace {
std::atomic<int64_t> g_host_reads{0};

bool is_cuda_word(const std::string& s) {
    if (s == "cuda") return true;
    if (s.rfind("cuda:", 0) != 0 || s.size() == 5) return false;
    for (size_t i = 5; i < s.size(); ++i)
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    return true;
}
// bf16 tensor cores: compute capability 8.0+ (A100, H100, RTX 30xx and newer).
bool cuda_supports_bf16(const torch::Device& device) {
#ifdef RLHF_TORCH_CUDA
    const auto* props = at::cuda::getDeviceProperties(device.index() < 0 ? 0 : device.index());
    return props->major >= 8;
#else
    (void)device;
    return false;
#endif
}
}  // namespace

torch::Device resolve_device(const std::string& spec, int64_t local_rank, const std::string& field) {
    if (spec == "cpu") return torch::Device(torch::kCPU);
    if (spec == "meta") return torch::Device(torch::kMeta);
    const bool have_cuda = torch::cuda::is_available();
    auto rank_device = [&] {
        return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank >= 0 ? local_rank : 0));
    };
    if (spec == "auto") return have_cuda ? rank_device() : torch::Device(torch::kCPU);
    if (!is_cuda_word(spec))
        throw Error(field + ": '" + spec + "' is not a device (auto, cpu, cuda, cuda:N)");
    if (!have_cuda)
        throw Error(field + ": '" + spec + "' but " +
                    (torch::cuda::device_count() == 0 && !at::hasCUDA()
                         ? std::string("this LibTorch was built without CUDA (rebuild against pip's CUDA torch: installer/bootstrap-torch.sh cuda)")
                         : std::string("no CUDA device is visible")));
    if (spec == "cuda") return rank_device();
    torch::Device d(spec);
    if (d.index() >= static_cast<int64_t>(torch::cuda::device_count()))
        throw Error(field + ": '" + spec + "' but only " + std::to_string(torch::cuda::device_count()) +
                    " CUDA device(s) are visible");
    return d;
}

void use_device(const torch::Device& device) {
    if (!device.is_cuda()) return;
    // Device-generic guard implementation: no CUDA headers, so this compiles in a CPU build too.
    c10::impl::VirtualGuardImpl guard(device.type());
    guard.setDevice(device);
}

void move_to(torch::nn::Module& module, const torch::Device& device, std::optional<torch::Dtype> dtype) {
    if (!device.is_meta()) {
        if (dtype) module.to(device, *dtype);
        else module.to(device);
        return;
    }
    // Swap each tensor's implementation for an empty meta one of the same shape: the parameter
    // objects (and the module members that alias them) stay the same, requires_grad included.
    torch::NoGradGuard no_grad;
    auto swap = [&](torch::Tensor& t) {
        if (!t.defined() || t.device().is_meta()) return;
        auto meta = torch::empty(t.sizes(), t.options().device(torch::kMeta).dtype(dtype ? *dtype : t.scalar_type()));
        t.unsafeGetTensorImpl()->shallow_copy_from(meta.getIntrusivePtr());
    };
    for (auto& p : module.parameters(/*recurse=*/true)) swap(p);
    for (auto& b : module.buffers(/*recurse=*/true)) swap(b);
}

void check_device(const torch::Tensor& t, const torch::Device& device, const char* what) {
    if (!t.defined() || t.device() == device) return;
    throw Error(std::string(what) + " is on " + t.device().str() + ", the model on " + device.str() +
                " (every tensor a step creates belongs on the model's device)");
}

std::string Precision::name() const {
    if (autocast_dtype == torch::kBFloat16) return "bf16";
    if (autocast_dtype == torch::kFloat16) return "fp16";
    return "fp32";
}

Precision resolve_precision(const std::string& dtype, const torch::Device& device, const std::string& field) {
    Precision p;
    if (dtype != "auto" && dtype != "fp32" && dtype != "bf16" && dtype != "fp16")
        throw Error(field + ": '" + dtype + "' is not a dtype (auto, fp32, bf16, fp16)");
    if (!device.is_cuda() || dtype == "fp32") return p;  // the CPU trains in fp32
    if (dtype == "fp16") {
        p.autocast_dtype = torch::kFloat16;
    } else if (dtype == "bf16" || cuda_supports_bf16(device)) {
        p.autocast_dtype = torch::kBFloat16;
    }
    return p;
}

AutocastGuard::AutocastGuard(const torch::Device& device, const Precision& precision) {
    on_ = device.is_cuda() && precision.autocast();
    if (!on_) return;
    prev_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    prev_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, precision.autocast_dtype);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
}

AutocastGuard::~AutocastGuard() {
    if (!on_) return;
    at::autocast::set_autocast_enabled(at::kCUDA, prev_enabled_);
    at::autocast::set_autocast_dtype(at::kCUDA, prev_dtype_);
    at::autocast::clear_cache();
}

torch::Tensor to_host(const torch::Tensor& t) {
    g_host_reads.fetch_add(1, std::memory_order_relaxed);
    if (!t.defined() || t.device().is_cpu()) return t;
    if (t.device().is_meta()) return torch::zeros(t.sizes(), t.options().device(torch::kCPU));
    return t.to(torch::kCPU);
}

double host_scalar(const torch::Tensor& t) {
    if (t.numel() != 1) throw Error("host_scalar: expected one element, got " + std::to_string(t.numel()));
    return to_host(t).item<double>();
}

int64_t host_read_count() { return g_host_reads.load(std::memory_order_relaxed); }

std::vector<torch::Tensor> cuda_rng_states() {
    std::vector<torch::Tensor> out;
    if (!torch::cuda::is_available()) return out;
    const auto n = torch::cuda::device_count();
    for (size_t i = 0; i < n; ++i) {
        auto gen = at::globalContext().defaultGenerator(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i)));
        std::lock_guard<std::mutex> lock(gen.mutex());
        out.push_back(gen.get_state());
    }
    return out;
}

void set_cuda_rng_states(const std::vector<torch::Tensor>& states, const std::string& where) {
    if (states.empty()) return;
    const size_t n = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
    if (states.size() > n)
        throw Error(where + ": the checkpoint holds the RNG state of " + std::to_string(states.size()) +
                    " CUDA device(s), but " + std::to_string(n) + " are visible; resume on the same devices");
    for (size_t i = 0; i < states.size(); ++i) {
        auto gen = at::globalContext().defaultGenerator(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i)));
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(states[i]);
    }
}

}  // namespace rlhf::model
