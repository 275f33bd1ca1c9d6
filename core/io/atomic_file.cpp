// Crash-safe writes (see atomic_file.h). The sequence is the one POSIX guarantees: data reaches
// the disk (fsync file) before the name points at it (rename), and the rename itself is made
// durable (fsync directory) before we report success.
#include "core/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/io/error.h"

namespace rlhf::io {

namespace {

std::string errno_text() { return std::strerror(errno); }

std::string parent_dir(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// write(2) may write less than asked and may be interrupted; loop until done.
void write_all(int fd, const void* data, size_t n, const std::string& label) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw Error(label + ": write failed: " + errno_text());
        }
        p += w;
        n -= size_t(w);
    }
}

}  // namespace

std::string read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open: " + errno_text());
    std::string out;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": is a directory, expected a file");
    }
    if (st.st_size > 0) out.reserve(size_t(st.st_size));
    char buf[1 << 16];
    for (;;) {
        const ssize_t r = ::read(fd, buf, sizeof(buf));
        if (r < 0) {
            if (errno == EINTR) continue;
            const std::string why = errno_text();
            ::close(fd);
            throw Error(path + ": read failed: " + why);
        }
        if (r == 0) break;
        out.append(buf, size_t(r));
    }
    ::close(fd);
    return out;
}

void fsync_path(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open for fsync: " + errno_text());
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    // Some filesystems refuse fsync on directories (EINVAL): the rename is as durable as they allow.
    if (rc != 0 && err != EINVAL) throw Error(path + ": fsync failed: " + std::strerror(err));
}

void fsync_parent_dir(const std::string& path) { fsync_path(parent_dir(path)); }

void write_file_atomic(const std::string& path, std::string_view contents) {
    AtomicFileWriter w(path);
    w.write(contents);
    w.commit();
}

AtomicFileWriter::AtomicFileWriter(std::string path)
    : path_(std::move(path)), tmp_path_(path_ + ".tmp." + std::to_string(::getpid())) {
    // O_EXCL so that two writers to one path never share a temp file: the second one (another
    // writer in this process, or a stale file from a crashed process that had our pid) gets a
    // numbered name instead of clobbering it.
    const std::string base = tmp_path_;
    for (int attempt = 1; attempt <= 1000; ++attempt) {
        fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd_ >= 0 || errno != EEXIST) break;
        tmp_path_ = base + "." + std::to_string(attempt);
    }
    if (fd_ < 0) throw Error(path_ + ": cannot create temporary file " + tmp_path_ + ": " + errno_text());
}

AtomicFileWriter::~AtomicFileWriter() {
    if (fd_ >= 0) {
        ::close(fd_);
        ::unlink(tmp_path_.c_str());
    }
}

void AtomicFileWriter::write(const void* data, size_t n) {
    if (fd_ < 0) throw Error(path_ + ": write after commit");
    write_all(fd_, data, n, tmp_path_);
}

void AtomicFileWriter::commit() {
    if (fd_ < 0) throw Error(path_ + ": commit called twice");
    if (::fsync(fd_) != 0) throw Error(tmp_path_ + ": fsync failed: " + errno_text());
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
        const std::string why = errno_text();
        ::unlink(tmp_path_.c_str());
        throw Error(tmp_path_ + ": close failed: " + why);
    }
    if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
        const std::string why = errno_text();
        ::unlink(tmp_path_.c_str());
        throw Error(path_ + ": rename from " + tmp_path_ + " failed: " + why);
    }
    fsync_parent_dir(path_);
}

}  // namespace rlhf::io
