// GGUF v3: the single-file model format of llama.cpp / ggml (spec: ggml-org/ggml docs/gguf.md).
// Layout, all little-endian:
//   "GGUF" magic, u32 version (3), u64 tensor_count, u64 metadata_kv_count,
//   metadata: key string, u32 value type, value (arrays: u32 element type, u64 count, elements),
//   tensor infos: name string, u32 n_dims, u64 ne[n_dims] (ne[0] = fastest-varying, i.e. the
//   reverse of a row-major/torch shape), u32 ggml type, u64 offset into the data section,
//   padding to general.alignment (default 32), then the data section (each tensor aligned).
// Strings are u64 length + bytes (no terminator).
//
// GgufWriter streams tensors through callbacks, so a multi-gigabyte checkpoint is converted one
// tensor at a time; read_gguf reads a file back (tests, `rlhf convert` self-check).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace rlhf::gguf {

// gguf_type in ggml/include/gguf.h.
enum class ValueType : uint32_t {
    UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
    STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

// The ggml tensor types we write (ggml_type in ggml/include/ggml.h).
enum class TensorType : uint32_t { F32 = 0, F16 = 1, BF16 = 30 };

size_t tensor_type_size(TensorType t);       // bytes per element
const char* tensor_type_name(TensorType t);  // "F32", "F16", "BF16"

constexpr uint32_t kGgufVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;  // GGUF_DEFAULT_ALIGNMENT

// One metadata value: a scalar, a string, or an array of one scalar/string type.
struct Value {
    ValueType type = ValueType::UINT32;
    ValueType array_type = ValueType::UINT32;  // element type when type == ARRAY
    // Scalars (and array elements) of the integer/bool types live in i64 / u64, floats in f64,
    // strings in str; arrays in the matching vector. Wide storage keeps one struct for all.
    int64_t i = 0;
    uint64_t u = 0;
    double f = 0.0;
    std::string str;
    std::vector<int64_t> ints;
    std::vector<double> floats;
    std::vector<std::string> strings;

    static Value u32(uint32_t v);
    static Value i32(int32_t v);
    static Value u64(uint64_t v);
    static Value f32(float v);
    static Value boolean(bool v);
    static Value string(std::string v);
    static Value string_array(std::vector<std::string> v);
    static Value i32_array(std::vector<int64_t> v);
    static Value f32_array(std::vector<double> v);
};

// A tensor to write: `shape` in row-major (torch) order — it is reversed into ggml's ne[] —
// and `fill` writes exactly numel * tensor_type_size(type) bytes into the buffer it is given.
struct TensorSpec {
    std::string name;
    TensorType type = TensorType::F32;
    std::vector<int64_t> shape;
    std::function<void(std::vector<uint8_t>& out)> fill;
    uint64_t nbytes() const;
};

class GgufWriter {
public:
    // Keys keep insertion order (llama.cpp's own writer puts general.* first; readers do not care).
    void set(const std::string& key, Value value);
    void add_tensor(TensorSpec spec);
    const std::vector<TensorSpec>& tensors() const { return tensors_; }
    // Writes atomically (temp file + fsync + rename). Throws rlhf::Error naming the path, or the
    // tensor whose fill produced the wrong number of bytes.
    void write(const std::string& path) const;

private:
    std::vector<std::pair<std::string, Value>> kv_;
    std::vector<TensorSpec> tensors_;
};

// ---------------------------------------------------------------------------------------------
// Reading back.
struct TensorInfo {
    std::string name;
    TensorType type = TensorType::F32;
    std::vector<int64_t> ne;   // as stored: ne[0] fastest
    uint64_t offset = 0;       // relative to the data section
    std::vector<int64_t> shape() const;  // row-major (torch) order = ne reversed
    int64_t numel() const;
};

struct GgufContents {
    uint32_t version = 0;
    std::map<std::string, Value> metadata;
    std::vector<TensorInfo> tensors;        // in file order
    uint64_t data_offset = 0;               // file offset of the data section
    std::vector<uint8_t> bytes;             // the whole file
    const TensorInfo* find(const std::string& name) const;
    const uint8_t* data(const TensorInfo& t) const { return bytes.data() + data_offset + t.offset; }
    // Tensor values as float32 (F16/BF16 widened); throws naming the tensor if absent.
    std::vector<float> tensor_f32(const std::string& name) const;
};

// Parses and validates a GGUF file (magic, version 2/3, bounds of every string/array/tensor,
// alignment of offsets). Throws rlhf::Error("<path>: <what>") on any violation.
GgufContents read_gguf(const std::string& path);
GgufContents parse_gguf(std::vector<uint8_t> bytes, const std::string& label);

}  // namespace rlhf::gguf
