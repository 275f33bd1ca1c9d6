// rlhf version [--json] — what this build is: the rlhf version, the LibTorch it was built against
// (TORCH_VERSION), whether that LibTorch has CUDA compiled in (and the CUDA runtime and cuDNN it
// was built with), and the devices it sees: the CPU with its intra-op thread count, and every
// visible CUDA device with its name, memory, compute capability and multiprocessors.
// Plain text by default; --json prints the same as one JSON line (tests and scripts read it).
//
// cuda_device_json() is also what `rlhf check` and `rlhf bench train` print about a GPU (the
// latter looks its bf16 peak up by name).
#include <cstdio>
#include <string>

#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <nlohmann/json.hpp>
#include <torch/cuda.h>
#include <torch/version.h>

#ifdef RLHF_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include "app/rlhf/cli.h"

namespace rlhf::cli {

// {"index", "name", "memory_bytes", "compute_capability", "multiprocessors"} of CUDA device
// `index`; only the index when this build has no CUDA headers (a CPU LibTorch sees no device).
nlohmann::json cuda_device_json(int64_t index) {
    nlohmann::json d = {{"type", "cuda"}, {"index", index}};
#ifdef RLHF_TORCH_CUDA
    const cudaDeviceProp* p = at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(index));
    d["name"] = std::string(p->name);
    d["memory_bytes"] = static_cast<int64_t>(p->totalGlobalMem);
    d["compute_capability"] = std::to_string(p->major) + "." + std::to_string(p->minor);
    d["multiprocessors"] = p->multiProcessorCount;
#endif
    return d;
}

}  // namespace rlhf::cli

namespace {

// "13.0" from CUDART_VERSION-style 13000; cuDNN's 90400 -> "9.4.0".
std::string cuda_version_string(long v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }
std::string cudnn_version_string(long v) {
    // cuDNN 9 encodes major*10000 + minor*100 + patch; cuDNN 8 used major*1000 + minor*100 + patch.
    if (v >= 90000) return std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100);
    return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 100) + "." + std::to_string(v % 100);
}

nlohmann::json version_json() {
    const auto& hooks = at::detail::getCUDAHooks();
    // hasCUDART(): the CUDA half of LibTorch (libtorch_cuda) is linked in, whether or not a
    // driver or a device is present; torch::cuda::is_available(): a device can be used now.
    const bool compiled = hooks.hasCUDART();
    nlohmann::json j;
    j["rlhf"] = RLHF_VERSION;
    j["torch"] = TORCH_VERSION;
    j["cuda_compiled"] = compiled;
    j["cuda_version"] = compiled ? nlohmann::json(cuda_version_string(hooks.versionCUDART())) : nlohmann::json();
    j["cudnn_version"] = compiled && hooks.hasCuDNN() ? nlohmann::json(cudnn_version_string(hooks.versionCuDNN()))
                                                      : nlohmann::json();
    j["cuda_available"] = torch::cuda::is_available();
    nlohmann::json devices = nlohmann::json::array();
    devices.push_back({{"type", "cpu"}, {"threads", at::get_num_threads()}});
    if (torch::cuda::is_available())
        for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i)
            devices.push_back(rlhf::cli::cuda_device_json(i));
    j["devices"] = devices;
    return j;
}

int run_version(rlhf::cli::Args& args) {
    const bool json = args.flag("json");
    args.finish();
    const auto j = version_json();
    if (json) {
        std::printf("%s\n", j.dump().c_str());
        return 0;
    }
    std::printf("rlhf %s\n", j["rlhf"].get<std::string>().c_str());
    std::printf("LibTorch %s, CUDA compiled in: %s", TORCH_VERSION, j["cuda_compiled"].get<bool>() ? "yes" : "no");
    if (j["cuda_compiled"].get<bool>()) {
        std::printf(" (CUDA %s", j["cuda_version"].get<std::string>().c_str());
        if (!j["cudnn_version"].is_null()) std::printf(", cuDNN %s", j["cudnn_version"].get<std::string>().c_str());
        std::printf(")");
    }
    std::printf("\n");
    for (const auto& d : j["devices"]) {
        if (d["type"] == "cpu") {
            std::printf("device cpu: %d threads\n", d["threads"].get<int>());
        } else if (d.contains("name")) {
            std::printf("device cuda:%lld: %s, %.1f GiB, compute capability %s, %d multiprocessors\n",
                        static_cast<long long>(d["index"].get<int64_t>()), d["name"].get<std::string>().c_str(),
                        static_cast<double>(d["memory_bytes"].get<int64_t>()) / (1024.0 * 1024.0 * 1024.0),
                        d["compute_capability"].get<std::string>().c_str(), d["multiprocessors"].get<int>());
        } else {
            std::printf("device cuda:%lld\n", static_cast<long long>(d["index"].get<int64_t>()));
        }
    }
    if (j["cuda_compiled"].get<bool>() && !j["cuda_available"].get<bool>())
        std::printf("no CUDA device is visible (driver, CUDA_VISIBLE_DEVICES?)\n");
    return 0;
}

}  // namespace

RLHF_CLI_COMMAND(version, "rlhf version [--json]",
                 "Print the version, the LibTorch version, whether CUDA is compiled in, and the devices seen.",
                 run_version);
