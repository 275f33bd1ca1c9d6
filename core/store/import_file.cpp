#include "core/store/import_file.h"

#include <chrono>
#include <filesystem>

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

ProjectImport import_file_into(Project& project, const std::string& path, const std::string& dataset_name,
                               const data::ImportOptions& options) {
    auto start = std::chrono::steady_clock::now();
    ProjectImport r;
    r.dataset = dataset_name.empty() ? default_dataset_name(path) : dataset_name;
    // The dataset is created with the first batch, so a file that cannot be read leaves no
    // empty dataset behind.
    std::vector<data::Record> batch;
    batch.reserve(kImportBatchRecords);
    auto flush = [&] {
        if (r.dataset_id == 0) r.dataset_id = project.dataset(r.dataset, path);
        ImportCounts c = project.add_records(r.dataset_id, batch);
        r.counts.inserted += c.inserted;
        r.counts.duplicates += c.duplicates;
        batch.clear();
    };
    r.summary = data::import_file(path, options, [&](data::Record&& rec) {
        batch.push_back(std::move(rec));
        if (batch.size() >= kImportBatchRecords) flush();
    });
    flush();  // the rest, and the (possibly empty) dataset itself
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
