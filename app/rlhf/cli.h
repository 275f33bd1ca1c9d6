// The `rlhf` CLI's command table and argument parsing (DESIGN.md §6). A command is a function
// `int run(Args&)` in its own cmd_<name>.cpp, registered with RLHF_CLI_COMMAND. Exit codes:
// 0 success, 2 bad usage (UsageError), 1 any other failure (one line on stderr naming the
// file and line/field at fault).
#pragma once
#include <map>
#include <string>
#include <vector>

namespace rlhf::cli {

// "--name value" options, "--flag" switches and positional arguments, in any order.
class Args {
public:
    Args(std::string command, std::vector<std::string> argv) : command_(std::move(command)), argv_(std::move(argv)) {}

    // Declare what the command accepts before reading; unknown options are usage errors.
    std::string get(const std::string& name, const std::string& fallback);   // optional "--name V"
    std::string require(const std::string& name);                            // required "--name V"
    bool has(const std::string& name);                                       // "--name" or "--name V" given
    bool flag(const std::string& name);                                      // switch "--name"
    long long get_int(const std::string& name, long long fallback);
    double get_double(const std::string& name, double fallback);
    std::vector<std::string> positional(size_t min_count, size_t max_count);
    // Call after all get/flag/positional: unknown options or stray values -> UsageError.
    void finish();

    const std::string& command() const { return command_; }
    const std::vector<std::string>& raw() const { return argv_; }

private:
    void parse();
    std::string command_;
    std::vector<std::string> argv_;
    bool parsed_ = false;
    std::map<std::string, std::string> values_;   // "--name value"
    std::map<std::string, bool> switches_;        // "--flag"
    std::vector<std::string> positional_;
    std::map<std::string, bool> known_values_, known_switches_;
    bool positional_declared_ = false;
};

using CommandFn = int (*)(Args&);

struct Command {
    std::string name;
    std::string usage;    // one line: "rlhf tokenize --tokenizer PATH [--add-special-tokens]"
    std::string summary;  // one sentence
    CommandFn run;
};

std::map<std::string, Command>& registry();

struct Registrar {
    Registrar(const char* name, const char* usage, const char* summary, CommandFn fn);
};

#define RLHF_CLI_COMMAND(ident, usage, summary, fn) \
    static ::rlhf::cli::Registrar rlhf_cli_registrar_##ident(#ident, usage, summary, fn)

}  // namespace rlhf::cli

// `rlhf bench WHAT ...`: each benchmark registers itself like a command and prints figures.
namespace rlhf::cli {
std::map<std::string, Command>& bench_registry();
struct BenchRegistrar {
    BenchRegistrar(const char* name, const char* usage, const char* summary, CommandFn fn);
};
#define RLHF_CLI_BENCH(ident, usage, summary, fn) \
    static ::rlhf::cli::BenchRegistrar rlhf_cli_bench_##ident(#ident, usage, summary, fn)
}  // namespace rlhf::cli
