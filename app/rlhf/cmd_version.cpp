// rlhf version — for a build without LibTorch (RLHF_WITH_TORCH=OFF). The LibTorch build registers
// torch_cmd_version.cpp instead, which adds the LibTorch version, CUDA and the devices it sees.
#include <cstdio>

#include "app/rlhf/cli.h"

#ifndef RLHF_HAVE_TORCH
namespace {
int run_version(rlhf::cli::Args& args) {
    const bool json = args.flag("json");
    args.finish();
    if (json)
        std::printf("{\"rlhf\":\"%s\",\"torch\":null,\"cuda_compiled\":false,\"devices\":[]}\n", RLHF_VERSION);
    else
        std::printf("rlhf %s\nLibTorch: not built in (RLHF_WITH_TORCH=OFF)\n", RLHF_VERSION);
    return 0;
}
}  // namespace

RLHF_CLI_COMMAND(version, "rlhf version [--json]", "Print the version and build options.", run_version);
#endif
