// rlhf bench WHAT … — dispatches to the benchmarks registered with RLHF_CLI_BENCH
// (bench_<what>.cpp files). Benchmarks print figures; they never assert timings.
#include <cstdio>

#include "app/rlhf/cli.h"
#include "core/io/error.h"

namespace rlhf::cli {

std::map<std::string, Command>& bench_registry() {
    static std::map<std::string, Command> benches;
    return benches;
}

BenchRegistrar::BenchRegistrar(const char* name, const char* usage, const char* summary, CommandFn fn) {
    bench_registry()[name] = Command{name, usage, summary, fn};
}

namespace {
int run_bench(Args& args) {
    std::vector<std::string> rest;
    // The first positional word picks the benchmark; the rest of argv belongs to it.
    const auto& argv = args.raw();
    if (argv.empty() || argv[0].rfind("--", 0) == 0) {
        std::string names;
        for (const auto& [n, b] : bench_registry()) names += "\n  " + b.usage + "  — " + b.summary;
        throw UsageError("rlhf bench: name a benchmark:" + names);
    }
    auto it = bench_registry().find(argv[0]);
    if (it == bench_registry().end()) throw UsageError("rlhf bench: unknown benchmark '" + argv[0] + "'");
    Args sub("bench " + argv[0], std::vector<std::string>(argv.begin() + 1, argv.end()));
    try {
        return it->second.run(sub);
    } catch (const UsageError& e) {
        throw UsageError(std::string(e.what()) + "\nusage: " + it->second.usage);
    }
}
}  // namespace

}  // namespace rlhf::cli

RLHF_CLI_COMMAND(bench, "rlhf bench WHAT [options]", "Run a benchmark and print its figures.",
                 rlhf::cli::run_bench);
