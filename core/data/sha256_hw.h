// SHA-256 of a content hash with the CPU's SHA extensions (x86 SHA-NI) when it has them, else
// io::Sha256. Same digest either way (tests/data/test_sha256_hw.cpp compares the two).
//
// Why here: hashing the canonical JSON of every record (data::content_hash, idempotent re-import)
// was the largest single cost of the import's reader thread (~7% of an import's CPU with the
// portable FIPS 180-4 code); the SHA instructions do the same rounds ~5x faster. core/io::Sha256
// stays the portable reference; this module only dispatches the one-shot hash it needs.
#pragma once
#include <string>
#include <string_view>

namespace rlhf::data {

// sha256 of `data` as 64 lowercase hex chars (io::sha256_hex's result).
std::string sha256_hex_fast(std::string_view data);
// Whether sha256_hex_fast uses the SHA instructions on this CPU.
bool sha256_hw_available();
// The SHA-instruction path itself, for tests; only valid when sha256_hw_available().
std::string sha256_hex_hw(std::string_view data);

}  // namespace rlhf::data
