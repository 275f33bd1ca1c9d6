#include "core/store/import_file.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include <time.h>

#include "core/store/record_json.h"

namespace rlhf::store {

std::string default_dataset_name(const std::string& path) {
    std::string name = std::filesystem::path(path).filename().string();
    for (const char* suffix : {".gz", ".jsonl", ".json", ".csv", ".tsv"}) {
        std::string s = suffix;
        if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0)
            name.resize(name.size() - s.size());
    }
    return name.empty() ? "dataset" : name;
}

namespace {

// Hands prepared batches from the reading thread to the writing one. Bounded, so a fast reader
// cannot run ahead of the database by more than kDepth batches (memory stays flat).
class BatchQueue {
public:
    static constexpr size_t kDepth = 2;

    // False when the queue was closed (the writer gave up): the batch is dropped.
    bool push(std::vector<PreparedRecord>&& batch) {
        std::unique_lock<std::mutex> lock(mu_);
        not_full_.wait(lock, [&] { return closed_ || queue_.size() < kDepth; });
        if (closed_) return false;
        queue_.push_back(std::move(batch));
        not_empty_.notify_one();
        return true;
    }
    // False once closed and drained.
    bool pop(std::vector<PreparedRecord>& out) {
        std::unique_lock<std::mutex> lock(mu_);
        not_empty_.wait(lock, [&] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return false;
        out = std::move(queue_.front());
        queue_.pop_front();
        not_full_.notify_one();
        return true;
    }
    void close() {
        std::lock_guard<std::mutex> lock(mu_);
        closed_ = true;
        not_empty_.notify_all();
        not_full_.notify_all();
    }

private:
    std::mutex mu_;
    std::condition_variable not_full_, not_empty_;
    std::deque<std::vector<PreparedRecord>> queue_;
    bool closed_ = false;
};

struct WriterStopped {};

// CPU time of the calling thread, in seconds.
double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}  // thrown inside the reader's sink when the writer failed

}  // namespace

ProjectImport import_file_into(Project& project, const std::string& path, const std::string& dataset_name,
                               const data::ImportOptions& options) {
    auto start = std::chrono::steady_clock::now();
    ProjectImport r;
    r.dataset = dataset_name.empty() ? default_dataset_name(path) : dataset_name;

    // Two threads, so an import uses two cores: the reader parses, preprocesses and prepares
    // records (JSON, SHA-256); this thread, which owns the connection, writes the batches.
    BatchQueue queue;
    std::atomic<bool> writer_failed{false};
    std::exception_ptr reader_error;
    std::thread reader([&] {
        double cpu_start = thread_cpu_seconds();
        try {
            std::vector<PreparedRecord> batch;
            batch.reserve(kImportBatchRecords);
            r.summary = data::import_file(path, options, [&](data::Record&& rec) {
                if (writer_failed.load(std::memory_order_relaxed)) throw WriterStopped{};
                batch.push_back(prepare_record(rec));
                if (batch.size() >= kImportBatchRecords) {
                    if (!queue.push(std::move(batch))) throw WriterStopped{};
                    batch.clear();
                    batch.reserve(kImportBatchRecords);
                }
            });
            if (!batch.empty()) queue.push(std::move(batch));
        } catch (const WriterStopped&) {
        } catch (...) {
            reader_error = std::current_exception();
        }
        r.reader_cpu_seconds = thread_cpu_seconds() - cpu_start;
        queue.close();
    });

    double writer_cpu_start = thread_cpu_seconds();
    // The dataset is created with the first batch, so a file that cannot be read leaves no
    // empty dataset behind.
    try {
        std::vector<PreparedRecord> first;
        if (queue.pop(first)) {
            r.dataset_id = project.dataset(r.dataset, path);
            bool first_pending = true;
            r.counts = project.add_prepared_stream(r.dataset_id, [&](std::vector<PreparedRecord>& batch) {
                if (first_pending) {
                    first_pending = false;
                    batch = std::move(first);
                    return true;
                }
                return queue.pop(batch);
            });
        }
    } catch (...) {
        writer_failed = true;
        queue.close();
        reader.join();
        throw;
    }
    reader.join();
    if (reader_error) std::rethrow_exception(reader_error);
    if (r.dataset_id == 0) r.dataset_id = project.dataset(r.dataset, path);  // an empty file's dataset
    r.writer_cpu_seconds = thread_cpu_seconds() - writer_cpu_start;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

nlohmann::json import_summary_json(const ProjectImport& r) {
    const data::ImportSummary& s = r.summary;
    nlohmann::json errors = nlohmann::json::array();
    for (const auto& issue : s.issues) errors.push_back(issue.to_string(s.file.empty() ? r.dataset : s.file));
    return {
        {"file", s.file},
        {"dataset", r.dataset},
        {"format", s.format},
        {"kind", data::record_kind_name(s.kind)},
        {"records_read", s.records_read},
        {"records_ok", s.records_ok},
        {"inserted", r.counts.inserted},
        {"duplicates", r.counts.duplicates},
        {"skipped", s.records_skipped},
        {"skipped_by_reason", s.skipped_by_reason},
        {"errors", errors},
        {"seconds", r.seconds},
    };
}

}  // namespace rlhf::store
