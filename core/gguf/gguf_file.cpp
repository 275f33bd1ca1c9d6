// GGUF v3 writer and reader (format summary in gguf_file.h).
#include "core/gguf/gguf_file.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include "core/gguf/half.h"
#include "core/io/atomic_file.h"
#include "core/io/error.h"

namespace rlhf::gguf {

size_t tensor_type_size(TensorType t) {
    switch (t) {
        case TensorType::F32: return 4;
        case TensorType::F16: return 2;
        case TensorType::BF16: return 2;
    }
    return 0;
}

const char* tensor_type_name(TensorType t) {
    switch (t) {
        case TensorType::F32: return "F32";
        case TensorType::F16: return "F16";
        case TensorType::BF16: return "BF16";
    }
    return "?";
}

Value Value::u32(uint32_t v) { Value x; x.type = ValueType::UINT32; x.u = v; return x; }
Value Value::i32(int32_t v) { Value x; x.type = ValueType::INT32; x.i = v; return x; }
Value Value::u64(uint64_t v) { Value x; x.type = ValueType::UINT64; x.u = v; return x; }
Value Value::f32(float v) { Value x; x.type = ValueType::FLOAT32; x.f = v; return x; }
Value Value::boolean(bool v) { Value x; x.type = ValueType::BOOL; x.u = v ? 1 : 0; return x; }
Value Value::string(std::string v) { Value x; x.type = ValueType::STRING; x.str = std::move(v); return x; }
Value Value::string_array(std::vector<std::string> v) {
    Value x; x.type = ValueType::ARRAY; x.array_type = ValueType::STRING; x.strings = std::move(v); return x;
}
Value Value::i32_array(std::vector<int64_t> v) {
    Value x; x.type = ValueType::ARRAY; x.array_type = ValueType::INT32; x.ints = std::move(v); return x;
}
Value Value::f32_array(std::vector<double> v) {
    Value x; x.type = ValueType::ARRAY; x.array_type = ValueType::FLOAT32; x.floats = std::move(v); return x;
}

uint64_t TensorSpec::nbytes() const {
    uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    return n * tensor_type_size(type);
}

// ---------------------------------------------------------------------------------------------
// Writing

namespace {

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Little-endian serialisation into a byte string (x86 and ARM Linux are little-endian; the
// explicit byte loop keeps the file right on any host).
struct Out {
    std::string b;
    template <typename T> void le(T v) {
        for (size_t i = 0; i < sizeof(T); ++i) b.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
    }
    void f32(float v) { le<uint32_t>(float_bits(v)); }
    void f64(double v) {
        uint64_t u;
        std::memcpy(&u, &v, 8);
        le<uint64_t>(u);
    }
    void str(const std::string& s) { le<uint64_t>(s.size()); b += s; }
};

void write_scalar(Out& o, ValueType t, int64_t i, uint64_t u, double f, const std::string& s) {
    switch (t) {
        case ValueType::UINT8: o.le<uint8_t>(static_cast<uint8_t>(u)); break;
        case ValueType::INT8: o.le<uint8_t>(static_cast<uint8_t>(i)); break;
        case ValueType::UINT16: o.le<uint16_t>(static_cast<uint16_t>(u)); break;
        case ValueType::INT16: o.le<uint16_t>(static_cast<uint16_t>(i)); break;
        case ValueType::UINT32: o.le<uint32_t>(static_cast<uint32_t>(u)); break;
        case ValueType::INT32: o.le<uint32_t>(static_cast<uint32_t>(static_cast<int32_t>(i))); break;
        case ValueType::FLOAT32: o.f32(static_cast<float>(f)); break;
        case ValueType::BOOL: o.le<uint8_t>(u ? 1 : 0); break;
        case ValueType::STRING: o.str(s); break;
        case ValueType::UINT64: o.le<uint64_t>(u); break;
        case ValueType::INT64: o.le<uint64_t>(static_cast<uint64_t>(i)); break;
        case ValueType::FLOAT64: o.f64(f); break;
        case ValueType::ARRAY: throw Error("gguf: nested arrays are not written");
    }
}

void write_value(Out& o, const Value& v) {
    o.le<uint32_t>(static_cast<uint32_t>(v.type));
    if (v.type != ValueType::ARRAY) {
        write_scalar(o, v.type, v.i, v.u, v.f, v.str);
        return;
    }
    o.le<uint32_t>(static_cast<uint32_t>(v.array_type));
    switch (v.array_type) {
        case ValueType::STRING:
            o.le<uint64_t>(v.strings.size());
            for (const auto& s : v.strings) o.str(s);
            break;
        case ValueType::FLOAT32: case ValueType::FLOAT64:
            o.le<uint64_t>(v.floats.size());
            for (double f : v.floats) write_scalar(o, v.array_type, 0, 0, f, {});
            break;
        default:
            o.le<uint64_t>(v.ints.size());
            for (int64_t i : v.ints) write_scalar(o, v.array_type, i, static_cast<uint64_t>(i), 0.0, {});
    }
}

}  // namespace

void GgufWriter::set(const std::string& key, Value value) {
    for (auto& [k, v] : kv_)
        if (k == key) {
            v = std::move(value);
            return;
        }
    kv_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(TensorSpec spec) {
    for (const auto& t : tensors_)
        if (t.name == spec.name) throw Error("gguf: tensor '" + spec.name + "' added twice");
    tensors_.push_back(std::move(spec));
}

void GgufWriter::write(const std::string& path) const {
    uint64_t alignment = kDefaultAlignment;
    for (const auto& [k, v] : kv_)
        if (k == "general.alignment") alignment = v.u;

    Out head;
    head.b = "GGUF";
    head.le<uint32_t>(kGgufVersion);
    head.le<uint64_t>(tensors_.size());
    head.le<uint64_t>(kv_.size());
    for (const auto& [k, v] : kv_) {
        head.str(k);
        write_value(head, v);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        head.str(t.name);
        head.le<uint32_t>(static_cast<uint32_t>(t.shape.size()));
        for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) head.le<uint64_t>(static_cast<uint64_t>(*it));
        head.le<uint32_t>(static_cast<uint32_t>(t.type));
        head.le<uint64_t>(offset);
        offset = align_up(offset + t.nbytes(), alignment);
    }
    head.b.resize(align_up(head.b.size(), alignment), '\0');

    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw Error(path + ": cannot create " + tmp);
        f.write(head.b.data(), static_cast<std::streamsize>(head.b.size()));
        std::vector<uint8_t> buf;
        static const char kZeros[64] = {};
        for (const auto& t : tensors_) {
            buf.clear();
            t.fill(buf);
            if (buf.size() != t.nbytes()) {
                f.close();
                std::remove(tmp.c_str());
                throw Error(path + ": tensor '" + t.name + "': produced " + std::to_string(buf.size()) +
                            " bytes, expected " + std::to_string(t.nbytes()));
            }
            f.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
            uint64_t pad = align_up(buf.size(), alignment) - buf.size();
            while (pad > 0) {
                uint64_t n = std::min<uint64_t>(pad, sizeof(kZeros));
                f.write(kZeros, static_cast<std::streamsize>(n));
                pad -= n;
            }
        }
        f.flush();
        if (!f) {
            std::remove(tmp.c_str());
            throw Error(path + ": write failed (disk full?)");
        }
    }
    io::fsync_path(tmp);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw Error(path + ": cannot rename " + tmp + " into place");
    }
    io::fsync_parent_dir(path);
}

// ---------------------------------------------------------------------------------------------
// Reading

namespace {

struct In {
    const std::vector<uint8_t>& b;
    const std::string& label;
    size_t pos = 0;
    void need(uint64_t n, const char* what) const {
        if (n > b.size() || pos > b.size() - n)
            throw Error(label + ": truncated at byte " + std::to_string(pos) + " reading " + what);
    }
    template <typename T> T le(const char* what) {
        need(sizeof(T), what);
        uint64_t v = 0;
        for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(b[pos + i]) << (8 * i);
        pos += sizeof(T);
        return static_cast<T>(v);
    }
    std::string str(const char* what) {
        uint64_t n = le<uint64_t>(what);
        need(n, what);
        std::string s(reinterpret_cast<const char*>(b.data() + pos), n);
        pos += n;
        return s;
    }
};

void read_scalar(In& in, ValueType t, Value& v, const std::string& key) {
    switch (t) {
        case ValueType::UINT8: v.u = in.le<uint8_t>("u8"); v.i = static_cast<int64_t>(v.u); break;
        case ValueType::INT8: v.i = static_cast<int8_t>(in.le<uint8_t>("i8")); break;
        case ValueType::UINT16: v.u = in.le<uint16_t>("u16"); v.i = static_cast<int64_t>(v.u); break;
        case ValueType::INT16: v.i = static_cast<int16_t>(in.le<uint16_t>("i16")); break;
        case ValueType::UINT32: v.u = in.le<uint32_t>("u32"); v.i = static_cast<int64_t>(v.u); break;
        case ValueType::INT32: v.i = static_cast<int32_t>(in.le<uint32_t>("i32")); break;
        case ValueType::FLOAT32: v.f = bits_float(in.le<uint32_t>("f32")); break;
        case ValueType::BOOL: {
            uint8_t x = in.le<uint8_t>("bool");
            if (x > 1) throw Error(in.label + ": key '" + key + "': bool value " + std::to_string(x));
            v.u = x;
            break;
        }
        case ValueType::STRING: v.str = in.str("string"); break;
        case ValueType::UINT64: v.u = in.le<uint64_t>("u64"); v.i = static_cast<int64_t>(v.u); break;
        case ValueType::INT64: v.i = static_cast<int64_t>(in.le<uint64_t>("i64")); break;
        case ValueType::FLOAT64: {
            uint64_t u = in.le<uint64_t>("f64");
            std::memcpy(&v.f, &u, 8);
            break;
        }
        default: throw Error(in.label + ": key '" + key + "': bad value type " + std::to_string(static_cast<uint32_t>(t)));
    }
}

}  // namespace

std::vector<int64_t> TensorInfo::shape() const { return {ne.rbegin(), ne.rend()}; }

int64_t TensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    return n;
}

const TensorInfo* GgufContents::find(const std::string& name) const {
    for (const auto& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

std::vector<float> GgufContents::tensor_f32(const std::string& name) const {
    const TensorInfo* t = find(name);
    if (!t) throw Error("gguf: no tensor '" + name + "'");
    std::vector<float> out(static_cast<size_t>(t->numel()));
    const uint8_t* p = data(*t);
    for (size_t i = 0; i < out.size(); ++i) {
        if (t->type == TensorType::F32) {
            std::memcpy(&out[i], p + 4 * i, 4);
        } else {
            uint16_t h = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
            out[i] = t->type == TensorType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
    }
    return out;
}

GgufContents parse_gguf(std::vector<uint8_t> bytes, const std::string& label) {
    GgufContents c;
    c.bytes = std::move(bytes);
    In in{c.bytes, label};
    in.need(4, "magic");
    if (std::memcmp(c.bytes.data(), "GGUF", 4) != 0) throw Error(label + ": not a GGUF file (bad magic)");
    in.pos = 4;
    c.version = in.le<uint32_t>("version");
    if (c.version != 2 && c.version != 3)
        throw Error(label + ": GGUF version " + std::to_string(c.version) + " (supported: 2, 3)");
    uint64_t n_tensors = in.le<uint64_t>("tensor_count");
    uint64_t n_kv = in.le<uint64_t>("metadata_kv_count");
    // Each entry takes at least 8 bytes; a larger count cannot fit the file.
    if (n_tensors > c.bytes.size() / 8 || n_kv > c.bytes.size() / 8) throw Error(label + ": implausible counts");
    for (uint64_t k = 0; k < n_kv; ++k) {
        std::string key = in.str("metadata key");
        Value v;
        v.type = static_cast<ValueType>(in.le<uint32_t>("value type"));
        if (v.type == ValueType::ARRAY) {
            v.array_type = static_cast<ValueType>(in.le<uint32_t>("array type"));
            uint64_t n = in.le<uint64_t>("array count");
            if (n > c.bytes.size()) throw Error(label + ": key '" + key + "': array count " + std::to_string(n));
            for (uint64_t i = 0; i < n; ++i) {
                Value e;
                read_scalar(in, v.array_type, e, key);
                if (v.array_type == ValueType::STRING) v.strings.push_back(std::move(e.str));
                else if (v.array_type == ValueType::FLOAT32 || v.array_type == ValueType::FLOAT64) v.floats.push_back(e.f);
                else v.ints.push_back(e.i);
            }
        } else {
            read_scalar(in, v.type, v, key);
        }
        if (c.metadata.count(key)) throw Error(label + ": duplicate key '" + key + "'");
        c.metadata[key] = std::move(v);
    }
    uint64_t alignment = kDefaultAlignment;
    if (auto it = c.metadata.find("general.alignment"); it != c.metadata.end()) {
        alignment = it->second.u;
        if (alignment == 0 || (alignment & (alignment - 1))) throw Error(label + ": general.alignment " + std::to_string(alignment));
    }
    for (uint64_t k = 0; k < n_tensors; ++k) {
        TensorInfo t;
        t.name = in.str("tensor name");
        uint32_t n_dims = in.le<uint32_t>("n_dims");
        if (n_dims == 0 || n_dims > 4) throw Error(label + ": tensor '" + t.name + "': n_dims " + std::to_string(n_dims));
        for (uint32_t d = 0; d < n_dims; ++d) {
            uint64_t ne = in.le<uint64_t>("ne");
            if (ne == 0 || ne > (1ull << 40)) throw Error(label + ": tensor '" + t.name + "': dimension " + std::to_string(ne));
            t.ne.push_back(static_cast<int64_t>(ne));
        }
        uint32_t type = in.le<uint32_t>("tensor type");
        if (type != 0 && type != 1 && type != 30)
            throw Error(label + ": tensor '" + t.name + "': ggml type " + std::to_string(type) + " (we read F32, F16, BF16)");
        t.type = static_cast<TensorType>(type);
        t.offset = in.le<uint64_t>("tensor offset");
        if (t.offset % alignment) throw Error(label + ": tensor '" + t.name + "': offset not aligned");
        c.tensors.push_back(std::move(t));
    }
    c.data_offset = align_up(in.pos, alignment);
    for (const auto& t : c.tensors) {
        uint64_t n = static_cast<uint64_t>(t.numel()) * tensor_type_size(t.type);
        if (c.data_offset + t.offset + n > c.bytes.size())
            throw Error(label + ": tensor '" + t.name + "': data runs past the end of the file");
    }
    return c;
}

GgufContents read_gguf(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot open");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return parse_gguf(std::move(bytes), path);
}

}  // namespace rlhf::gguf
