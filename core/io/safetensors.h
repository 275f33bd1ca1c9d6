// safetensors: https://github.com/huggingface/safetensors (format spec). 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets:[begin,end)}, "__metadata__":
// {str: str}}, then the byte buffer. Reading mmaps the file and validates all of the spec;
// tensors are views into the mapping (zero copy: LibTorch wraps them with from_blob).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rlhf::io {

enum class DType { BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64, F8_E4M3, F8_E5M2 };

size_t dtype_size(DType d);          // bytes per element
const char* dtype_name(DType d);     // "F32", "BF16", ... as in the spec
bool dtype_from_name(const std::string& name, DType* out);

struct TensorView {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const uint8_t* data = nullptr;  // into the mapping; valid while the file object (or keepalive) lives
    size_t nbytes = 0;
    int64_t numel() const;
    // data is a multiple of the element size: true for files whose writer ordered tensors by
    // alignment (the reference does), not guaranteed by the format. Zero-copy users (from_blob)
    // should copy a tensor for which this is false.
    bool is_aligned() const;
};

class SafetensorsFile {
public:
    // Opens and validates; throws rlhf::Error("<path>: <what is wrong>") on any violation.
    static SafetensorsFile open(const std::string& path);
    // Same validation over bytes in memory (tests, fuzzing); `label` stands in for the path.
    static SafetensorsFile from_bytes(std::vector<uint8_t> bytes, const std::string& label);

    const std::string& path() const { return path_; }
    const std::vector<TensorView>& tensors() const { return tensors_; }  // in data-offset order
    const TensorView* find(const std::string& name) const;               // nullptr if absent
    const TensorView& at(const std::string& name) const;                 // throws naming the tensor
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    // Shared owner of the underlying bytes, for zero-copy tensors that outlive this object.
    std::shared_ptr<const void> keepalive() const { return storage_; }

private:
    std::string path_;
    std::shared_ptr<const void> storage_;
    std::vector<TensorView> tensors_;
    std::map<std::string, size_t> index_;
    std::map<std::string, std::string> metadata_;
};

struct TensorToWrite {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const void* data;
    size_t nbytes;  // must equal numel * dtype_size
};

// Writes atomically (temp + fsync + rename). Tensors are laid out in the order given, 8-byte
// aligned header as the reference implementation pads it.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace rlhf::io
