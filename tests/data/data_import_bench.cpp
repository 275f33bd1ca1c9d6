// data_import_bench: parse throughput of import_file on a generated HH-RLHF JSONL file.
//   data_import_bench [N_PAIRS=200000] [DIR=/tmp]
// Writes DIR/hh-bench.jsonl (N multi-turn pairs, ~0.6 KB each), imports it twice (records only,
// then with content_hash per record as the store does) and once more as a JSON array, and prints
// records/s, MB/s and the peak resident set size. A measuring tool, not a test: it asserts nothing
// about speed.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "core/data/import.h"

namespace {

// Peak RSS of this process in MiB (VmHWM from /proc/self/status).
double peak_rss_mib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    return -1;
}

std::string escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '\n')
            o += "\\n";
        else if (c == '"')
            o += "\\\"";
        else
            o += c;
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::stol(argv[1]) : 200000;
    const std::string dir = argc > 2 ? argv[2] : "/tmp";
    const std::string path = dir + "/hh-bench.jsonl";
    {
        std::ofstream f(path, std::ios::binary);
        for (long i = 0; i < n; ++i) {
            std::string shared =
                "\n\nHuman: Question number " + std::to_string(i) +
                ": how do I keep a sourdough starter alive while travelling?"
                "\n\nAssistant: Feed it before you go and keep it in the fridge; it will "
                "survive a week or two without food.\n\nHuman: And longer than that?";
            std::string chosen =
                shared +
                "\n\nAssistant: Dry some on parchment paper, crumble it and store "
                "the flakes in a jar; rehydrate them with flour and water when you return.";
            std::string rejected = shared + "\n\nAssistant: Just buy bread.";
            f << "{\"chosen\": \"" << escape(chosen) << "\", \"rejected\": \"" << escape(rejected)
              << "\"}\n";
        }
    }
    std::ifstream sz(path, std::ios::binary | std::ios::ate);
    const double mb = double(sz.tellg()) / 1e6;
    std::printf("file: %s, %ld pairs, %.1f MB; peak RSS after writing: %.1f MiB\n", path.c_str(), n,
                mb, peak_rss_mib());

    for (int with_hash = 0; with_hash < 2; ++with_hash) {
        rlhf::data::ImportOptions o;
        size_t turns = 0, hash_bytes = 0;
        auto t0 = std::chrono::steady_clock::now();
        rlhf::data::ImportSummary s = rlhf::data::import_file(path, o, [&](rlhf::data::Record&& r) {
            turns += r.pref.prompt.size();
            if (with_hash) hash_bytes += rlhf::data::content_hash(r).size();
        });
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf(
            "import%s: %llu records ok (%llu skipped, %zu prompt turns) in %.2f s = %.0f "
            "records/s, %.1f MB/s; "
            "peak RSS %.1f MiB\n",
            with_hash ? " + content_hash" : "", (unsigned long long)s.records_ok,
            (unsigned long long)s.records_skipped, turns, secs, double(s.records_ok) / secs,
            mb / secs, peak_rss_mib());
        (void)hash_bytes;
    }
    // The same pairs as one JSON array (the byte-level element splitter instead of LineReader).
    const std::string json_path = dir + "/hh-bench.json";
    {
        std::ifstream in(path, std::ios::binary);
        std::ofstream out(json_path, std::ios::binary);
        std::string line;
        out << "[\n";
        for (bool first = true; std::getline(in, line); first = false)
            out << (first ? "" : ",\n") << line;
        out << "\n]\n";
    }
    {
        auto t0 = std::chrono::steady_clock::now();
        rlhf::data::ImportSummary s =
            rlhf::data::import_file(json_path, {}, [](rlhf::data::Record&&) {});
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf(
            "import JSON array: %llu records ok in %.2f s = %.0f records/s; peak RSS %.1f MiB\n",
            (unsigned long long)s.records_ok, secs, double(s.records_ok) / secs, peak_rss_mib());
    }
    std::remove(json_path.c_str());
    std::remove(path.c_str());
    return 0;
}
