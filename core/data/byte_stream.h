// ByteStream: buffered bytes of a plain or gzip'd file (gzip detected by magic bytes, not by
// name), with a UTF-8 BOM at the start skipped. Used by the JSON container reader and by format
// sniffing, which cannot go through io::LineReader because a whole JSON file may be one line.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace rlhf::data {

class ByteStream {
  public:
    explicit ByteStream(const std::string& path);  // throws rlhf::Error naming path
    ~ByteStream();
    ByteStream(const ByteStream&) = delete;
    ByteStream& operator=(const ByteStream&) = delete;

    // Next byte, or -1 at the end of the data. Throws rlhf::Error on I/O or gzip errors
    // (a truncated gzip stream reports "unexpected end of gzip data").
    int get() {
        if (pos_ < len_) return static_cast<unsigned char>(buf_[pos_++]);
        return refill() ? static_cast<unsigned char>(buf_[pos_++]) : -1;
    }
    int peek() {
        if (pos_ < len_) return static_cast<unsigned char>(buf_[pos_]);
        return refill() ? static_cast<unsigned char>(buf_[pos_]) : -1;
    }
    // Bulk access for scanners: the buffered bytes not consumed yet (refilled when empty;
    // 0 at the end of the data), and consuming n of them.
    size_t available() {
        if (pos_ == len_) refill();
        return len_ - pos_;
    }
    const char* data() const { return buf_.get() + pos_; }
    void consume(size_t n) { pos_ += n; }

    uint64_t compressed_bytes_read() const;  // position in the file on disk, for progress
    uint64_t file_size() const { return file_size_; }
    bool is_gzip() const { return gzip_; }
    const std::string& path() const { return path_; }

  private:
    bool refill();
    std::string path_;
    void* gz_ = nullptr;  // gzFile (zlib reads plain files transparently)
    std::unique_ptr<char[]> buf_;
    size_t pos_ = 0, len_ = 0;
    uint64_t file_size_ = 0;
    bool gzip_ = false;
    bool eof_ = false;
};

}  // namespace rlhf::data
