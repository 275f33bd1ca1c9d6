// SHA-256 (FIPS 180-4) for content hashes (idempotent imports) and checkpoint manifests.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rlhf::io {

// FIPS 180-4 §4.2.2 round constants (16-byte aligned, for SIMD loads) and §5.3.3 initial hash
// value; shared with the SHA-instruction path in core/data/sha256_hw.cpp.
alignas(16) extern const uint32_t kSha256RoundConstants[64];
extern const uint32_t kSha256InitialHash[8];

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t n);
    void update(std::string_view s) { update(s.data(), s.size()); }
    std::array<uint8_t, 32> finish();  // call once
    std::string hex_digest();          // finish() as 64 lowercase hex chars

private:
    void compress(const uint8_t* block);
    uint32_t h_[8];
    uint8_t buf_[64];
    size_t buf_len_ = 0;
    uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);
std::string sha256_file_hex(const std::string& path);  // streams the file; throws rlhf::Error

}  // namespace rlhf::io
