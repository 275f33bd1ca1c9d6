#include "core/data/byte_stream.h"

#include <sys/stat.h>
#include <zlib.h>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/io/error.h"

namespace rlhf::data {
namespace {
constexpr size_t kBufferBytes = 1u << 20;  // 1 MiB reads: large enough for gzread to stay fast
}

ByteStream::ByteStream(const std::string& path) : path_(path), buf_(new char[kBufferBytes]) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw Error(path + ": cannot open: " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, not a dataset file");
    file_size_ = static_cast<uint64_t>(st.st_size);
    {
        // Magic bytes 1f 8b decide gzip, whatever the file is called.
        std::FILE* f = std::fopen(path.c_str(), "rb");
        if (!f) throw Error(path + ": cannot open: " + std::strerror(errno));
        unsigned char magic[2] = {0, 0};
        size_t n = std::fread(magic, 1, 2, f);
        std::fclose(f);
        gzip_ = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }
    gzFile gz = gzopen(path.c_str(), "rb");
    if (!gz) throw Error(path + ": cannot open: " + std::strerror(errno));
    gzbuffer(gz, 256u << 10);
    gz_ = gz;
    // Skip a UTF-8 byte order mark (Excel and Notepad write one).
    // A throwing constructor runs no destructor: close the handle here if the first read fails.
    try {
        if (refill() && len_ >= 3 && std::memcmp(buf_.get(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;
    } catch (...) {
        gzclose(gz);
        gz_ = nullptr;
        throw;
    }
}

ByteStream::~ByteStream() {
    if (gz_) gzclose(static_cast<gzFile>(gz_));
}

bool ByteStream::refill() {
    if (eof_) return false;
    gzFile gz = static_cast<gzFile>(gz_);
    int n = gzread(gz, buf_.get(), static_cast<unsigned>(kBufferBytes));
    if (n < 0) {
        int code = 0;
        const char* msg = gzerror(gz, &code);
        throw Error(path_ + ": gzip error: " + (msg ? msg : "unknown"));
    }
    if (n == 0) {
        int code = 0;
        const char* msg = gzerror(gz, &code);
        // zlib reports a stream cut short as Z_BUF_ERROR at the end of input.
        if (code == Z_BUF_ERROR)
            throw Error(path_ + ": unexpected end of gzip data (truncated file)");
        if (code != Z_OK) throw Error(path_ + ": gzip error: " + (msg ? msg : "unknown"));
        eof_ = true;
        pos_ = len_ = 0;
        return false;
    }
    pos_ = 0;
    len_ = static_cast<size_t>(n);
    return true;
}

uint64_t ByteStream::compressed_bytes_read() const {
    z_off_t off = gzoffset(static_cast<gzFile>(gz_));
    return off < 0 ? 0 : static_cast<uint64_t>(off);
}

}  // namespace rlhf::data
