// rlhf — the headless CLI of RLHF Workbench (DESIGN.md §6). Only dispatch lives here; each
// subcommand is in its own cmd_<name>.cpp.
#include <cstdio>
#include <exception>
#include <iostream>

#include "app/rlhf/cli.h"
#include "core/io/error.h"

namespace {
void print_usage(std::FILE* out) {
    std::fprintf(out, "usage: rlhf COMMAND [options]\n\ncommands:\n");
    for (const auto& [name, cmd] : rlhf::cli::registry())
        std::fprintf(out, "  %-10s %s\n             %s\n", name.c_str(), cmd.summary.c_str(), cmd.usage.c_str());
}
}  // namespace

int main(int argc, char** argv) {
    std::ios::sync_with_stdio(false);
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    std::string name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        print_usage(stdout);
        return 0;
    }
    auto& reg = rlhf::cli::registry();
    auto it = reg.find(name);
    if (it == reg.end()) {
        std::fprintf(stderr, "rlhf: unknown command '%s' (try 'rlhf --help')\n", name.c_str());
        return 2;
    }
    rlhf::cli::Args args(name, std::vector<std::string>(argv + 2, argv + argc));
    try {
        return it->second.run(args);
    } catch (const rlhf::UsageError& e) {
        std::fprintf(stderr, "%s\nusage: %s\n", e.what(), it->second.usage.c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rlhf %s: %s\n", name.c_str(), e.what());
        return 1;
    }
}
