// rlhf version — what this build is and which engines it was built with.
#include <cstdio>

#include "app/rlhf/cli.h"

namespace {
int run_version(rlhf::cli::Args& args) {
    args.finish();
    std::printf("rlhf 0.1.0 (torch: %s)\n",
#ifdef RLHF_HAVE_TORCH
                "yes"
#else
                "no"
#endif
    );
    return 0;
}
}  // namespace

RLHF_CLI_COMMAND(version, "rlhf version", "Print the version and build options.", run_version);
