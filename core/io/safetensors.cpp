// safetensors read (mmap + full validation) and write. The checks follow the reference
// implementation (huggingface/safetensors, safetensors/src/tensor.rs: read_metadata + validate),
// plus the ones it leaves to serde (duplicate keys, unknown fields), each with its own message so a
// user can tell which writer bug produced a bad file.
#include "core/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "core/io/atomic_file.h"
#include "core/io/error.h"

namespace rlhf::io {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference's MAX_HEADER_SIZE
constexpr const char* kMetadataKey = "__metadata__";

struct DTypeInfo {
    DType dtype;
    const char* name;  // spelling in the header, as in the spec
    size_t size;       // bytes per element
};

constexpr DTypeInfo kDTypes[] = {
    {DType::BOOL, "BOOL", 1},       {DType::U8, "U8", 1},     {DType::I8, "I8", 1},
    {DType::I16, "I16", 2},         {DType::U16, "U16", 2},   {DType::I32, "I32", 4},
    {DType::U32, "U32", 4},         {DType::I64, "I64", 8},   {DType::U64, "U64", 8},
    {DType::F16, "F16", 2},         {DType::BF16, "BF16", 2}, {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},         {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F8_E5M2, "F8_E5M2", 1},
};

const DTypeInfo& dtype_info(DType d) {
    for (const DTypeInfo& info : kDTypes) {
        if (info.dtype == d) return info;
    }
    throw Error("safetensors: invalid DType value " + std::to_string(int(d)));
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. Returns the
// offset of the first bad byte, or npos.
size_t find_invalid_utf8(const uint8_t* s, size_t n) {
    size_t i = 0;
    while (i < n) {
        const uint8_t c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len = 0;
        uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;  // overlong
            if (c == 0xED) hi = 0x9F;  // surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;  // overlong
            if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
        } else {
            return i;
        }
        if (i + len > n) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; ++k) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
        }
        i += len;
    }
    return std::string::npos;
}

std::string quote_name(const std::string& name) { return "'" + name + "'"; }

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// A JSON value that is an integer >= 0 (nlohmann keeps non-negative integers as unsigned; floats,
// negative numbers and integers too large for uint64 are other kinds).
bool as_non_negative_int(const nlohmann::json& v, uint64_t* out) {
    if (v.is_number_unsigned()) {
        *out = v.get<uint64_t>();
        return true;
    }
    if (v.is_number_integer() && v.get<int64_t>() >= 0) {
        *out = uint64_t(v.get<int64_t>());
        return true;
    }
    return false;
}

// Parses the header with a callback that records the first key repeated inside one object:
// nlohmann (like serde_json) silently keeps the last of two equal keys, which would let two
// tensors claim one name and hide one of them.
nlohmann::json parse_header_json(const std::string& text, const std::string& label) {
    std::vector<std::set<std::string>> keys_per_depth;
    std::string duplicate;
    auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        switch (event) {
            case nlohmann::json::parse_event_t::object_start:
                keys_per_depth.emplace_back();
                break;
            case nlohmann::json::parse_event_t::object_end:
                if (!keys_per_depth.empty()) keys_per_depth.pop_back();
                break;
            case nlohmann::json::parse_event_t::key:
                if (!keys_per_depth.empty() && parsed.is_string() &&
                    !keys_per_depth.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
                    duplicate = parsed.get<std::string>();
                }
                break;
            default:
                break;
        }
        return true;
    };
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(text, callback);
    } catch (const nlohmann::json::exception& e) {
        throw Error(label + ": header is not valid JSON: " + e.what());
    }
    if (!duplicate.empty()) throw Error(label + ": header has a duplicate key " + quote_name(duplicate));
    return header;
}

struct ParsedFile {
    std::vector<TensorView> tensors;  // in data-offset order
    std::map<std::string, std::string> metadata;
};

struct Span {
    uint64_t begin, end;
    size_t index;  // into ParsedFile::tensors
};

ParsedFile parse_safetensors(const uint8_t* bytes, size_t size, const std::string& label) {
    if (size < 8) {
        throw Error(label + ": file is " + std::to_string(size) +
                    " bytes, shorter than the 8-byte header length prefix");
    }
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];  // little-endian u64
    if (header_len == 0) throw Error(label + ": header length is 0");
    if (header_len > kMaxHeaderBytes) {
        throw Error(label + ": header length " + std::to_string(header_len) + " exceeds the limit of " +
                    std::to_string(kMaxHeaderBytes) + " bytes");
    }
    if (header_len > size - 8) {
        throw Error(label + ": header length " + std::to_string(header_len) +
                    " runs past the end of the file (" + std::to_string(size) + " bytes)");
    }
    const uint8_t* header_bytes = bytes + 8;
    const size_t bad = find_invalid_utf8(header_bytes, size_t(header_len));
    if (bad != std::string::npos) {
        throw Error(label + ": header is not valid UTF-8 (byte " + std::to_string(bad) + " of the header)");
    }
    // nlohmann stops at a NUL byte as if the input ended there, so "{}\0garbage" would pass.
    if (const void* nul = std::memchr(header_bytes, 0, size_t(header_len))) {
        throw Error(label + ": header is not valid JSON: NUL byte at header offset " +
                    std::to_string(static_cast<const uint8_t*>(nul) - header_bytes));
    }
    // The reference rejects a header that does not open with '{' (InvalidHeaderStart).
    if (header_bytes[0] != '{') throw Error(label + ": header is not a JSON object (does not start with '{')");
    const std::string text(reinterpret_cast<const char*>(header_bytes), size_t(header_len));
    // Trailing whitespace is the padding writers add to align the buffer to 8 bytes; JSON allows it.
    const nlohmann::json header = parse_header_json(text, label);
    if (!header.is_object()) throw Error(label + ": header is not a JSON object");

    const uint8_t* buffer = header_bytes + header_len;
    const uint64_t buffer_size = size - 8 - header_len;

    ParsedFile out;
    std::vector<Span> spans;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        const nlohmann::json& entry = it.value();
        if (name == kMetadataKey) {
            if (!entry.is_object()) throw Error(label + ": __metadata__ is not a JSON object");
            for (auto m = entry.begin(); m != entry.end(); ++m) {
                if (!m.value().is_string()) {
                    throw Error(label + ": __metadata__ value for key " + quote_name(m.key()) + " is not a string");
                }
                out.metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string where = label + ": tensor " + quote_name(name) + ": ";
        if (!entry.is_object()) throw Error(where + "entry is not a JSON object");
        for (const char* field : {"dtype", "shape", "data_offsets"}) {
            if (!entry.contains(field)) throw Error(where + "missing field '" + field + "'");
        }
        for (auto f = entry.begin(); f != entry.end(); ++f) {
            if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets") {
                throw Error(where + "unknown field " + quote_name(f.key()));
            }
        }
        TensorView view;
        view.name = name;
        const nlohmann::json& dtype = entry["dtype"];
        if (!dtype.is_string()) throw Error(where + "dtype is not a string");
        if (!dtype_from_name(dtype.get<std::string>(), &view.dtype)) {
            throw Error(where + "unknown dtype " + quote_name(dtype.get<std::string>()));
        }
        const nlohmann::json& shape = entry["shape"];
        if (!shape.is_array()) throw Error(where + "shape is not a list of non-negative integers");
        uint64_t numel = 1;
        bool overflow = false, has_zero = false;
        for (const nlohmann::json& dim : shape) {
            uint64_t d = 0;
            if (!as_non_negative_int(dim, &d)) throw Error(where + "shape is not a list of non-negative integers");
            if (d > uint64_t(INT64_MAX)) throw Error(where + "shape dimension " + std::to_string(d) + " is too large");
            view.shape.push_back(int64_t(d));
            has_zero = has_zero || d == 0;
            if (!overflow && __builtin_mul_overflow(numel, d, &numel)) overflow = true;
        }
        const uint64_t elem_size = dtype_size(view.dtype);
        uint64_t expected_bytes = 0;
        // A zero dimension makes the tensor empty even when the other dimensions overflow.
        if (!has_zero && (overflow || __builtin_mul_overflow(numel, elem_size, &expected_bytes))) {
            throw Error(where + "shape " + shape_text(view.shape) + " overflows: the element count times " +
                        std::to_string(elem_size) + " bytes does not fit in 64 bits");
        }
        if (has_zero) expected_bytes = 0;
        const nlohmann::json& offsets = entry["data_offsets"];
        uint64_t begin = 0, end = 0;
        if (!offsets.is_array() || offsets.size() != 2 || !as_non_negative_int(offsets[0], &begin) ||
            !as_non_negative_int(offsets[1], &end)) {
            throw Error(where + "data_offsets is not a list of two non-negative integers");
        }
        const std::string range = "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + ")";
        if (begin > end) throw Error(where + range + " has begin > end");
        if (end > buffer_size) {
            throw Error(where + range + " runs past the end of the data buffer (" + std::to_string(buffer_size) +
                        " bytes)");
        }
        if (end - begin != expected_bytes) {
            throw Error(where + range + " spans " + std::to_string(end - begin) + " bytes but dtype " +
                        dtype_name(view.dtype) + " with shape " + shape_text(view.shape) + " needs " +
                        std::to_string(expected_bytes));
        }
        view.data = buffer + begin;
        view.nbytes = size_t(expected_bytes);
        spans.push_back({begin, end, out.tensors.size()});
        out.tensors.push_back(std::move(view));
    }

    // The spans, sorted, must tile [0, buffer_size) exactly: no overlap (two tensors sharing bytes)
    // and no hole (bytes nobody owns, which the reference rejects as an incomplete buffer).
    std::stable_sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t covered = 0;
    const Span* previous = nullptr;
    for (const Span& s : spans) {
        const std::string& name = out.tensors[s.index].name;
        if (s.begin < covered) {
            throw Error(label + ": tensor " + quote_name(name) + ": data_offsets [" + std::to_string(s.begin) + ", " +
                        std::to_string(s.end) + ") overlap tensor " + quote_name(out.tensors[previous->index].name) +
                        " [" + std::to_string(previous->begin) + ", " + std::to_string(previous->end) + ")");
        }
        if (s.begin > covered) {
            throw Error(label + ": hole in the data buffer: bytes [" + std::to_string(covered) + ", " +
                        std::to_string(s.begin) + ") belong to no tensor (next is " + quote_name(name) + ")");
        }
        covered = s.end;
        previous = &s;
    }
    if (covered != buffer_size) {
        throw Error(label + ": hole in the data buffer: bytes [" + std::to_string(covered) + ", " +
                    std::to_string(buffer_size) + ") at its end belong to no tensor");
    }
    std::vector<TensorView> ordered;
    ordered.reserve(spans.size());
    for (const Span& s : spans) ordered.push_back(std::move(out.tensors[s.index]));
    out.tensors = std::move(ordered);
    return out;
}

}  // namespace

size_t dtype_size(DType d) { return dtype_info(d).size; }
const char* dtype_name(DType d) { return dtype_info(d).name; }

bool dtype_from_name(const std::string& name, DType* out) {
    for (const DTypeInfo& info : kDTypes) {
        if (name == info.name) {
            *out = info.dtype;
            return true;
        }
    }
    return false;
}

int64_t TensorView::numel() const {
    // A zero dimension first: [2^32, 2^32, 0] is a valid empty tensor whose leading product
    // would overflow. Otherwise the loader checked that numel * dtype_size fits in 64 bits.
    for (int64_t d : shape) {
        if (d == 0) return 0;
    }
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

bool TensorView::is_aligned() const { return reinterpret_cast<uintptr_t>(data) % dtype_size(dtype) == 0; }

SafetensorsFile SafetensorsFile::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw Error(path + ": cannot stat: " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file");
    }
    const size_t size = size_t(st.st_size);
    if (size < 8) {
        ::close(fd);
        throw Error(path + ": file is " + std::to_string(size) +
                    " bytes, shorter than the 8-byte header length prefix");
    }
    // MAP_PRIVATE + PROT_READ: tensors are read-only views; the mapping survives close(fd).
    void* base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int map_err = errno;
    ::close(fd);
    if (base == MAP_FAILED) throw Error(path + ": mmap failed: " + std::strerror(map_err));
    std::shared_ptr<const void> storage(base, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });

    ParsedFile parsed = parse_safetensors(static_cast<const uint8_t*>(base), size, path);
    SafetensorsFile f;
    f.path_ = path;
    f.storage_ = std::move(storage);
    f.tensors_ = std::move(parsed.tensors);
    f.metadata_ = std::move(parsed.metadata);
    for (size_t i = 0; i < f.tensors_.size(); ++i) f.index_[f.tensors_[i].name] = i;
    return f;
}

SafetensorsFile SafetensorsFile::from_bytes(std::vector<uint8_t> bytes, const std::string& label) {
    auto owner = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
    ParsedFile parsed = parse_safetensors(owner->data(), owner->size(), label);
    SafetensorsFile f;
    f.path_ = label;
    // Aliasing constructor: shares ownership of the vector, points at its bytes.
    f.storage_ = std::shared_ptr<const void>(owner, owner->data());
    f.tensors_ = std::move(parsed.tensors);
    f.metadata_ = std::move(parsed.metadata);
    for (size_t i = 0; i < f.tensors_.size(); ++i) f.index_[f.tensors_[i].name] = i;
    return f;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& SafetensorsFile::at(const std::string& name) const {
    const TensorView* t = find(name);
    if (!t) throw Error(path_ + ": no tensor named " + quote_name(name));
    return *t;
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    // Header built by hand (not through a JSON object) so tensors keep the caller's order and the
    // data offsets follow that order.
    std::string header = "{";
    try {
        if (!metadata.empty()) {
            header += "\"__metadata__\":";
            nlohmann::json m = nlohmann::json::object();
            for (const auto& [k, v] : metadata) m[k] = v;
            header += m.dump();
        }
        std::set<std::string> names;
        uint64_t offset = 0;
        for (const TensorToWrite& t : tensors) {
            const std::string where = path + ": tensor " + quote_name(t.name) + ": ";
            if (t.name == kMetadataKey) throw Error(where + "the name __metadata__ is reserved");
            if (!names.insert(t.name).second) throw Error(where + "written twice");
            uint64_t numel = 1;
            bool overflow = false, has_zero = false;
            for (int64_t d : t.shape) {
                if (d < 0) throw Error(where + "negative dimension in shape " + shape_text(t.shape));
                has_zero = has_zero || d == 0;
                if (!overflow && __builtin_mul_overflow(numel, uint64_t(d), &numel)) overflow = true;
            }
            uint64_t expected = 0;
            if (!has_zero && (overflow || __builtin_mul_overflow(numel, uint64_t(dtype_size(t.dtype)), &expected))) {
                throw Error(where + "shape " + shape_text(t.shape) + " overflows");
            }
            if (expected != t.nbytes) {
                throw Error(where + "nbytes " + std::to_string(t.nbytes) + " does not match dtype " +
                            dtype_name(t.dtype) + " with shape " + shape_text(t.shape));
            }
            if (t.nbytes > 0 && t.data == nullptr) throw Error(where + "data is null");
            if (header.size() > 1) header += ",";
            header += nlohmann::json(t.name).dump();
            header += ":{\"dtype\":\"";
            header += dtype_name(t.dtype);
            header += "\",\"shape\":[";
            for (size_t i = 0; i < t.shape.size(); ++i) header += (i ? "," : "") + std::to_string(t.shape[i]);
            header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.nbytes) + "]}";
            offset += t.nbytes;
        }
    } catch (const nlohmann::json::exception& e) {
        // dump() throws on names or metadata that are not valid UTF-8.
        throw Error(path + ": cannot write safetensors header: " + e.what());
    }
    header += "}";
    // Pad with spaces so the data buffer starts 8-byte aligned, as the reference writer does.
    header.append((8 - header.size() % 8) % 8, ' ');
    if (header.size() > kMaxHeaderBytes) throw Error(path + ": safetensors header exceeds 100,000,000 bytes");

    AtomicFileWriter w(path);
    uint8_t prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
    w.write(prefix, sizeof(prefix));
    w.write(header);
    for (const TensorToWrite& t : tensors) w.write(t.data, t.nbytes);
    w.commit();
}

}  // namespace rlhf::io
