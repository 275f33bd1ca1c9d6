// Crash-safe file writes: write to "<path>.tmp.<pid>", fsync it, rename over <path>, fsync the
// directory. A reader sees the old file or the new one, never half of either.
#pragma once
#include <string>
#include <string_view>

namespace rlhf::io {

std::string read_file(const std::string& path);  // whole file; throws rlhf::Error naming path
void write_file_atomic(const std::string& path, std::string_view contents);
void fsync_path(const std::string& path);         // file or directory
void fsync_parent_dir(const std::string& path);

// Streaming variant for large outputs (safetensors shards, exports).
class AtomicFileWriter {
public:
    explicit AtomicFileWriter(std::string path);
    ~AtomicFileWriter();  // not committed -> temp file removed
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
    void write(const void* data, size_t n);
    void write(std::string_view s) { write(s.data(), s.size()); }
    void commit();  // flush + fsync + rename + fsync dir

private:
    std::string path_, tmp_path_;
    int fd_ = -1;
};

}  // namespace rlhf::io
