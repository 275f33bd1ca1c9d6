// rlhf bench tokenizer --tokenizer PATH --text FILE [--chunk-bytes N] [--passes N]
// Single-thread encode throughput. The text is cut at line ends into chunks of about
// --chunk-bytes (each chunk is one encode call, like a dataset document). The first pass runs
// with a cold pre-token cache; the later passes are the steady state. Prints MB/s and tokens/s
// for both (tests/tools/tokenizer/bench_hf.js measures Hugging Face tokenizers the same way).
// Rates are given per wall second and per CPU second of the process: on a shared, loaded
// machine the CPU-time figure is the one to compare.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "app/rlhf/cli.h"
#include "core/io/error.h"
#include "core/text/tokenizer.h"

namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds used by this process (all threads; encode runs on one).
double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int run_bench_tokenizer(rlhf::cli::Args& args) {
    const std::string path = args.require("tokenizer");
    const std::string text_path = args.require("text");
    const long long chunk_bytes = args.get_int("chunk-bytes", 8192);
    const long long passes = args.get_int("passes", 4);
    args.finish();
    if (chunk_bytes < 1) throw rlhf::UsageError("--chunk-bytes must be >= 1");
    if (passes < 2) throw rlhf::UsageError("--passes must be >= 2 (one cold, then steady state)");

    std::ifstream in(text_path, std::ios::binary);
    if (!in) throw rlhf::Error(text_path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();

    std::vector<std::string_view> chunks;
    for (size_t pos = 0; pos < text.size();) {
        size_t end = std::min(text.size(), pos + static_cast<size_t>(chunk_bytes));
        size_t nl = text.find('\n', end);
        end = nl == std::string::npos ? text.size() : nl + 1;
        chunks.push_back(std::string_view(text).substr(pos, end - pos));
        pos = end;
    }

    auto t0 = Clock::now();
    auto tok = rlhf::text::Tokenizer::from_file(path);
    const double load_s = seconds_since(t0);
    const double mb = static_cast<double>(text.size()) / 1e6;
    std::printf("tokenizer %s\ntext %s: %.2f MB in %zu chunks\nload %.3f s\n", path.c_str(), text_path.c_str(), mb,
                chunks.size(), load_s);

    double steady_s = 0, steady_cpu = 0;
    size_t tokens = 0;
    for (long long pass = 0; pass < passes; ++pass) {
        size_t n = 0;
        auto p0 = Clock::now();
        double c0 = cpu_seconds();
        for (std::string_view c : chunks) n += tok->encode(c, false).size();
        double s = seconds_since(p0), cpu = cpu_seconds() - c0;
        tokens = n;
        if (pass == 0) {
            std::printf("encode first pass (cold cache): %.2f MB/s, %.0f tokens/s wall; %.2f MB/s, %.0f tokens/s cpu (%zu tokens)\n",
                        mb / s, static_cast<double>(n) / s, mb / cpu, static_cast<double>(n) / cpu, n);
        } else {
            steady_s += s;
            steady_cpu += cpu;
        }
    }
    const double per_pass = steady_s / static_cast<double>(passes - 1);
    const double per_pass_cpu = steady_cpu / static_cast<double>(passes - 1);
    std::printf("encode steady state (warm cache, %lld passes): %.2f MB/s, %.0f tokens/s wall; %.2f MB/s, %.0f tokens/s cpu\n",
                passes - 1, mb / per_pass, static_cast<double>(tokens) / per_pass, mb / per_pass_cpu,
                static_cast<double>(tokens) / per_pass_cpu);

    // Decode throughput on the same ids, for completeness.
    std::vector<std::vector<int32_t>> all;
    for (std::string_view c : chunks) all.push_back(tok->encode(c, false));
    auto d0 = Clock::now();
    size_t out_bytes = 0;
    for (const auto& ids : all) out_bytes += tok->decode(ids).size();
    double ds = seconds_since(d0);
    std::printf("decode: %.2f MB/s, %.0f tokens/s\n", static_cast<double>(out_bytes) / 1e6 / ds, static_cast<double>(tokens) / ds);
    return 0;
}
}  // namespace

RLHF_CLI_BENCH(tokenizer, "rlhf bench tokenizer --tokenizer PATH --text FILE [--chunk-bytes N] [--passes N]",
               "Single-thread encode/decode throughput (cold and warm cache).", run_bench_tokenizer);
