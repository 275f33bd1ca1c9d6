// rlhf bench import [--pairs 200000] [--small 50000] [--large 0] [--seed 1] [--dir DIR] — import
// throughput and memory.
// Writes a seeded HH-RLHF-shaped JSONL ({"chosen": "\n\nHuman: …\n\nAssistant: …", "rejected": …},
// multi-turn, a few hundred words a pair) into a temp folder, imports it into a fresh project with
// the same path as `rlhf import`, and prints rows/s and peak RSS. The small size runs first and the
// peak is reset in between (/proc/self/clear_refs), so equal peaks show that memory does not grow
// with the file: the importer streams and the store writes in fixed-size batches. --large adds a
// third, bigger size after them. Each line also carries the 1-minute load average at its start
// (wall time on a shared machine depends on it; CPU seconds per thread much less).
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "app/rlhf/cli.h"
#include "core/io/error.h"
#include "core/store/import_file.h"
#include "core/store/project.h"

namespace {

namespace fs = std::filesystem;

// Peak resident set (VmHWM) in MiB, from /proc; getrusage's ru_maxrss when /proc is missing.
double peak_rss_mib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// User + system CPU seconds of this process so far. On a shared machine wall time includes waiting
// for a core; CPU time says what the import itself costs.
double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Writing "5" to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
    f.flush();
    return static_cast<bool>(f);
}

const char* const kWords[] = {
    "the", "a", "model", "reward", "policy", "human", "assistant", "please", "explain", "why", "how", "what",
    "data", "training", "language", "learning", "is", "are", "can", "you", "help", "me", "with", "this",
    "question", "answer", "because", "of", "and", "or", "not", "good", "bad", "better", "safe", "kind",
    "cat", "dog", "weather", "recipe", "code", "python", "history", "science", "music", "travel", "tell",
    "story", "about", "moon", "river", "mountain", "quickly", "carefully", "honest", "helpful", "harmless"};

std::string sentence(std::mt19937_64& rng, int min_words, int max_words) {
    std::uniform_int_distribution<int> n_words(min_words, max_words);
    std::uniform_int_distribution<size_t> word(0, std::size(kWords) - 1);
    std::string s;
    int n = n_words(rng);
    for (int i = 0; i < n; ++i) {
        if (i) s += ' ';
        s += kWords[word(rng)];
    }
    s += '.';
    return s;
}

// One HH-RLHF line: a shared dialogue of 1-3 exchanges, then two different final replies.
std::string hh_line(std::mt19937_64& rng, uint64_t index) {
    std::string shared;
    int turns = 1 + static_cast<int>(rng() % 3);
    for (int t = 0; t < turns; ++t) {
        shared += "\n\nHuman: " + sentence(rng, 6, 30) + " #" + std::to_string(index);
        if (t + 1 < turns) shared += "\n\nAssistant: " + sentence(rng, 10, 60);
    }
    nlohmann::json j = {{"chosen", shared + "\n\nAssistant: " + sentence(rng, 10, 80)},
                        {"rejected", shared + "\n\nAssistant: " + sentence(rng, 5, 60)}};
    return j.dump();
}

uint64_t write_dataset(const std::string& path, uint64_t pairs, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::ofstream out(path, std::ios::binary);
    for (uint64_t i = 0; i < pairs; ++i) out << hh_line(rng, i) << '\n';
    out.close();
    if (!out) throw rlhf::Error(path + ": bench import: cannot write the generated dataset");
    return fs::file_size(path);
}

// /proc/loadavg's first field (-1 without /proc).
double load_average() {
    std::ifstream f("/proc/loadavg");
    double load = -1;
    f >> load;
    return load;
}

nlohmann::json bench_one(const fs::path& root, uint64_t pairs, uint64_t seed) {
    // With --dir the generated file is kept and reused by the next run with the same size and seed
    // (profiling the import alone); the project is always fresh.
    fs::path file = root / ("hh-" + std::to_string(pairs) + "-s" + std::to_string(seed) + ".jsonl");
    std::error_code ec;
    uint64_t bytes = fs::exists(file, ec) ? fs::file_size(file) : write_dataset(file.string(), pairs, seed);
    fs::path project_dir = root / ("project-" + std::to_string(pairs));
    fs::remove_all(project_dir, ec);
    double load = load_average();
#ifdef __GLIBC__
    // Hand the previous size's freed heap back to the kernel (glibc keeps it in its arenas), so
    // rss_before and the peak measure this import, not what the process kept from the last one.
    malloc_trim(0);
#endif
    bool reset = reset_peak_rss();
    double rss_before = peak_rss_mib();
    double cpu_before = cpu_seconds();
    std::optional<rlhf::store::Project> project(rlhf::store::Project::open(project_dir.string()));
    rlhf::data::ImportOptions options;
    rlhf::store::ProjectImport r = rlhf::store::import_file_into(*project, file.string(), "hh", options);
    double peak = peak_rss_mib();
    double cpu = cpu_seconds() - cpu_before;
    uint64_t db_bytes = fs::file_size(project->database_path());
    uint64_t wal_bytes = fs::file_size(project->database_path() + "-wal", ec);
    if (ec) wal_bytes = 0;
    project.reset();
    fs::remove_all(project_dir, ec);  // the generated file stays with --dir; projects are large
    return {{"pairs", pairs},
            {"load_avg_1m", load},
            {"file_mib", static_cast<double>(bytes) / (1 << 20)},
            {"format", r.summary.format},
            {"inserted", r.counts.inserted},
            {"duplicates", r.counts.duplicates},
            {"skipped", r.summary.records_skipped},
            {"seconds", r.seconds},
            {"rows_per_s", static_cast<double>(r.summary.records_ok) / r.seconds},
            {"cpu_seconds", cpu},
            {"rows_per_cpu_s", static_cast<double>(r.summary.records_ok) / cpu},
            {"reader_cpu_seconds", r.reader_cpu_seconds},
            {"writer_cpu_seconds", r.writer_cpu_seconds},
            // The WAL checkpoint helper and the rest of the process.
            {"other_cpu_seconds", cpu - r.reader_cpu_seconds - r.writer_cpu_seconds},
            {"mib_per_s", static_cast<double>(bytes) / (1 << 20) / r.seconds},
            {"rss_before_mib", rss_before},
            {"peak_rss_mib", peak},
            {"peak_reset", reset},
            {"db_mib", static_cast<double>(db_bytes + wal_bytes) / (1 << 20)}};
}

int run_bench_import(rlhf::cli::Args& args) {
    long long pairs = args.get_int("pairs", 200000);
    long long small = args.get_int("small", 50000);
    long long large = args.get_int("large", 0);
    long long seed = args.get_int("seed", 1);
    std::string keep = args.get("dir", "");
    args.finish();
    if (pairs <= 0 || small < 0 || large < 0)
        throw rlhf::UsageError("rlhf bench import: --pairs must be > 0, --small and --large >= 0");
    fs::path root = keep.empty() ? fs::temp_directory_path() / ("rlhf-bench-import-" + std::to_string(getpid()))
                                 : fs::path(keep);
    fs::create_directories(root);
    try {
        if (small > 0 && small != pairs)
            std::printf("%s\n", bench_one(root, static_cast<uint64_t>(small), static_cast<uint64_t>(seed)).dump().c_str());
        std::fflush(stdout);
        std::printf("%s\n", bench_one(root, static_cast<uint64_t>(pairs), static_cast<uint64_t>(seed)).dump().c_str());
        std::fflush(stdout);
        if (large > 0 && large != pairs)
            std::printf("%s\n", bench_one(root, static_cast<uint64_t>(large), static_cast<uint64_t>(seed)).dump().c_str());
    } catch (...) {
        if (keep.empty()) fs::remove_all(root);
        throw;
    }
    if (keep.empty()) fs::remove_all(root);
    return 0;
}

}  // namespace

RLHF_CLI_BENCH(import, "rlhf bench import [--pairs 200000] [--small 50000] [--large 0] [--seed 1] [--dir DIR]",
               "Generate an HH-RLHF-shaped JSONL and import it into a fresh project: rows/s, peak RSS.",
               run_bench_import);
