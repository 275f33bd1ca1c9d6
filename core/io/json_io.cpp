// JSON files and streaming line readers (plain or gzip) with bounded memory.
//
// LineReader reads the file through one fixed input buffer (and, for gzip, one fixed output
// buffer); a line is assembled into the caller's string only up to max_line_bytes, the rest of an
// over-long line is scanned and dropped. So memory is O(buffer + max_line_bytes) whatever the file.
#include "core/io/json_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "core/io/atomic_file.h"
#include "core/io/error.h"

namespace rlhf::io {

namespace {

constexpr size_t kInputBufferBytes = size_t(1) << 18;   // bytes read from disk per read(2)
constexpr size_t kOutputBufferBytes = size_t(1) << 18;  // inflated bytes per inflate() call
constexpr uint8_t kBom[3] = {0xEF, 0xBB, 0xBF};          // UTF-8 byte order mark

// nlohmann's parse_error::byte is the 1-based index of the last character read; turn it into the
// 1-based line and column an editor shows.
void byte_to_line_col(const std::string& text, size_t byte, size_t* line, size_t* col) {
    const size_t end = std::min(byte > 0 ? byte - 1 : 0, text.size());
    *line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < end; ++i) {
        if (text[i] == '\n') {
            ++*line;
            line_start = i + 1;
        }
    }
    *col = end - line_start + 1;
}

// "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..." -> the part
// after the position, which is what a user can act on.
std::string parse_error_reason(const std::string& what) {
    const size_t colon = what.find(": ");
    if (what.rfind("[json.exception.", 0) == 0 && colon != std::string::npos) return what.substr(colon + 2);
    return what;
}

}  // namespace

nlohmann::json parse_json(const std::string& text, const std::string& label) {
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        size_t line = 0, col = 0;
        byte_to_line_col(text, e.byte, &line, &col);
        throw Error(label + ":" + std::to_string(line) + ":" + std::to_string(col) + ": invalid JSON: " +
                    parse_error_reason(e.what()));
    }
}

nlohmann::json parse_json_unique_keys(const std::string& text, const std::string& label) {
    std::vector<std::set<std::string>> keys_per_depth;  // keys seen in each open object
    std::string duplicate;
    auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using Event = nlohmann::json::parse_event_t;
        if (event == Event::object_start) {
            keys_per_depth.emplace_back();
        } else if (event == Event::object_end) {
            if (!keys_per_depth.empty()) keys_per_depth.pop_back();
        } else if (event == Event::key && !keys_per_depth.empty() && parsed.is_string() && duplicate.empty() &&
                   !keys_per_depth.back().insert(parsed.get<std::string>()).second) {
            duplicate = parsed.get<std::string>();
        }
        return true;
    };
    nlohmann::json value;
    try {
        value = nlohmann::json::parse(text, callback);
    } catch (const nlohmann::json::parse_error& e) {
        size_t line = 0, col = 0;
        byte_to_line_col(text, e.byte, &line, &col);
        throw Error(label + ":" + std::to_string(line) + ":" + std::to_string(col) + ": invalid JSON: " +
                    parse_error_reason(e.what()));
    }
    if (!duplicate.empty()) throw Error(label + ": duplicate key '" + duplicate + "'");
    return value;
}

nlohmann::json read_json_file(const std::string& path) { return parse_json(read_file(path), path); }

// ---- LineReader

struct LineReader::Impl {
    std::string path;
    size_t max_line_bytes = 0;
    int fd = -1;
    uint64_t file_size = 0;
    uint64_t compressed_read = 0;  // bytes read from the file so far
    bool gzip = false;
    bool input_eof = false;        // read(2) returned 0

    std::vector<uint8_t> in_buf;   // raw bytes from disk
    std::vector<uint8_t> out_buf;  // inflated bytes (gzip only)
    z_stream zs{};
    bool zs_live = false;
    bool member_ended = false;     // inflate reached the end of one gzip member

    // The decoded bytes not yet consumed: a window into in_buf (plain) or out_buf (gzip).
    const uint8_t* data = nullptr;
    size_t len = 0;
    size_t pos = 0;
    bool plain_pending = false;    // plain file: in_buf already holds the first chunk...
    size_t in_buf_len_first = 0;   // ...of this many bytes (read while sniffing the magic)

    size_t bom_matched = 0;        // how many BOM bytes matched at the very start
    bool bom_done = false;
    bool at_eof = false;

    uint64_t line_number = 0;
    bool too_long = false;

    ~Impl() {
        if (zs_live) inflateEnd(&zs);
        if (fd >= 0) ::close(fd);
    }

    // Reads the next chunk of the file into in_buf; returns the number of bytes (0 at EOF).
    size_t read_input() {
        for (;;) {
            const ssize_t r = ::read(fd, in_buf.data(), in_buf.size());
            if (r < 0) {
                if (errno == EINTR) continue;
                throw Error(path + ": read failed: " + std::strerror(errno));
            }
            if (r == 0) input_eof = true;
            compressed_read += uint64_t(r);
            return size_t(r);
        }
    }

    std::string gzip_error(const char* what) const {
        return path + ": gzip stream corrupt near compressed byte " +
               std::to_string(compressed_read - zs.avail_in) + ": " + (zs.msg ? zs.msg : what);
    }

    // Makes new decoded bytes available in [data, data + len); false at the end of the file.
    bool fill() {
        pos = 0;
        len = 0;
        if (!gzip) {
            if (plain_pending) {
                plain_pending = false;
                len = in_buf_len_first;
            } else if (!input_eof) {
                len = read_input();
            }
            data = in_buf.data();
            return len > 0;
        }
        data = out_buf.data();
        for (;;) {
            if (zs.avail_in == 0 && !input_eof) {
                zs.next_in = in_buf.data();
                zs.avail_in = uInt(read_input());
            }
            if (member_ended) {
                // Concatenated members (gzip -c a b > ab) are one stream, as gzip -d reads them.
                if (zs.avail_in == 0 && input_eof) return false;
                if (inflateReset(&zs) != Z_OK) throw Error(gzip_error("inflateReset failed"));
                member_ended = false;
            }
            if (zs.avail_in == 0 && input_eof) {
                throw Error(path + ": truncated gzip stream: the file ends inside compressed data (" +
                            std::to_string(compressed_read) + " bytes read)");
            }
            zs.next_out = out_buf.data();
            zs.avail_out = uInt(out_buf.size());
            const int rc = inflate(&zs, Z_NO_FLUSH);
            len = out_buf.size() - zs.avail_out;
            if (rc == Z_STREAM_END) {
                member_ended = true;
            } else if (rc == Z_BUF_ERROR) {
                // No progress possible: more input is needed; loop reads it or reports truncation.
            } else if (rc != Z_OK) {
                throw Error(gzip_error(rc == Z_MEM_ERROR ? "out of memory" : "data error"));
            }
            if (len > 0) return true;
        }
    }
};

LineReader::LineReader(const std::string& path, size_t max_line_bytes) : impl_(std::make_unique<Impl>()) {
    Impl& d = *impl_;
    d.path = path;
    d.max_line_bytes = max_line_bytes;
    d.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (d.fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(d.fd, &st) != 0) throw Error(path + ": cannot stat: " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, expected a file");
    d.file_size = uint64_t(st.st_size);
    d.in_buf.resize(kInputBufferBytes);
    // Detect gzip by its magic bytes (RFC 1952 §2.3.1: ID1 = 0x1f, ID2 = 0x8b), not by the name.
    // One read may return fewer than 2 bytes on a pipe; keep reading until 2 or EOF.
    size_t have = 0;
    while (have < 2 && !d.input_eof) {
        const ssize_t r = ::read(d.fd, d.in_buf.data() + have, d.in_buf.size() - have);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw Error(path + ": read failed: " + std::strerror(errno));
        }
        if (r == 0) d.input_eof = true;
        have += size_t(r);
        d.compressed_read += uint64_t(r);
    }
    d.gzip = have >= 2 && d.in_buf[0] == 0x1f && d.in_buf[1] == 0x8b;
    if (d.gzip) {
        d.out_buf.resize(kOutputBufferBytes);
        // 16 + MAX_WBITS: expect a gzip header and trailer (zlib.h, inflateInit2).
        if (inflateInit2(&d.zs, 16 + MAX_WBITS) != Z_OK) throw Error(path + ": inflateInit2 failed");
        d.zs_live = true;
        d.zs.next_in = d.in_buf.data();
        d.zs.avail_in = uInt(have);
    } else {
        d.plain_pending = true;
        d.in_buf_len_first = have;
    }
}

LineReader::~LineReader() = default;

bool LineReader::next(std::string& line) {
    Impl& d = *impl_;
    line.clear();
    d.too_long = false;
    if (d.at_eof) return false;
    // A line may end in "\r\n": keep one extra byte while buffering so the limit applies to the
    // content without its "\r".
    const size_t buffer_limit = d.max_line_bytes + 1;
    bool got_any = false;
    auto append = [&](const uint8_t* p, size_t n) {
        if (n == 0 || d.too_long) return;
        if (line.size() + n > buffer_limit) {
            d.too_long = true;
            line.clear();
            return;
        }
        line.append(reinterpret_cast<const char*>(p), n);
    };
    for (;;) {
        if (d.pos == d.len && !d.fill()) {
            d.at_eof = true;
            if (!d.bom_done && d.bom_matched > 0) {
                // The whole file is a strict prefix of a BOM: those bytes are the content.
                d.bom_done = true;
                got_any = true;
                append(kBom, d.bom_matched);
            }
            if (!got_any) return false;
            break;
        }
        if (!d.bom_done) {
            while (d.pos < d.len && d.bom_matched < 3 && d.data[d.pos] == kBom[d.bom_matched]) {
                ++d.bom_matched;
                ++d.pos;
            }
            if (d.bom_matched == 3) {
                d.bom_done = true;
            } else if (d.pos < d.len) {
                // Not a BOM after all (e.g. U+FF01 starts with 0xEF): the matched bytes are text.
                d.bom_done = true;
                got_any = got_any || d.bom_matched > 0;
                append(kBom, d.bom_matched);
            } else {
                continue;  // the chunk ended inside a possible BOM; look at the next one
            }
            if (d.pos == d.len) continue;
        }
        const uint8_t* start = d.data + d.pos;
        const size_t avail = d.len - d.pos;
        const void* nl = std::memchr(start, '\n', avail);
        const size_t chunk = nl ? size_t(static_cast<const uint8_t*>(nl) - start) : avail;
        got_any = true;
        append(start, chunk);
        d.pos += chunk;
        if (nl) {
            ++d.pos;
            break;
        }
    }
    if (!d.too_long && !line.empty() && line.back() == '\r') line.pop_back();
    if (!d.too_long && line.size() > d.max_line_bytes) {
        d.too_long = true;
        line.clear();
    }
    ++d.line_number;
    return true;
}

uint64_t LineReader::line_number() const { return impl_->line_number; }
bool LineReader::line_too_long() const { return impl_->too_long; }
uint64_t LineReader::compressed_bytes_read() const { return impl_->compressed_read; }
uint64_t LineReader::file_size() const { return impl_->file_size; }
bool LineReader::is_gzip() const { return impl_->gzip; }
const std::string& LineReader::path() const { return impl_->path; }

// ---- JsonlReader

JsonlReader::JsonlReader(const std::string& path) : lines_(path) {}

bool JsonlReader::next(JsonlRecord& out) {
    std::string line;
    while (lines_.next(line)) {
        out.line = lines_.line_number();
        out.value = nullptr;
        out.error.clear();
        const std::string where = lines_.path() + ":" + std::to_string(out.line) + ": ";
        if (lines_.line_too_long()) {
            out.error = where + "line longer than the limit, skipped";
            return true;
        }
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
        try {
            out.value = nlohmann::json::parse(line);
        } catch (const nlohmann::json::parse_error& e) {
            out.error = where + "invalid JSON at column " + std::to_string(e.byte) + ": " +
                        parse_error_reason(e.what());
        }
        return true;
    }
    return false;
}

void append_json_string(std::string& out, const std::string& s) {
    static const char kHex[] = "0123456789abcdef";
    out += '"';
    size_t run = 0;  // start of the pending run of bytes that need no escape
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s, run, i - run);
        run = i + 1;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                out += "\\u00";
                out += kHex[c >> 4];
                out += kHex[c & 15];
        }
    }
    out.append(s, run, std::string::npos);
    out += '"';
}

int64_t get_int(const nlohmann::json& j, const char* key, int64_t fallback, const std::string& label) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_number_integer()) throw Error(label + ": field '" + key + "' must be an integer");
    return it->get<int64_t>();
}

double get_double(const nlohmann::json& j, const char* key, double fallback, const std::string& label) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_number()) throw Error(label + ": field '" + key + "' must be a number");
    return it->get<double>();
}

bool get_bool(const nlohmann::json& j, const char* key, bool fallback, const std::string& label) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) throw Error(label + ": field '" + key + "' must be true or false");
    return it->get<bool>();
}

std::string get_string(const nlohmann::json& j, const char* key, const std::string& fallback,
                       const std::string& label) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_string()) throw Error(label + ": field '" + key + "' must be a string");
    return it->get<std::string>();
}

}  // namespace rlhf::io
