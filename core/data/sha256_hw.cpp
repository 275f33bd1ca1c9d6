// SHA-256 rounds with the x86 SHA extensions (Intel SHA-NI: sha256rnds2 does two rounds of FIPS
// 180-4 §6.2.2 step 3 on the state held as ABEF/CDGH, sha256msg1/msg2 the σ0/σ1 parts of the
// message schedule, step 1). Elsewhere (other CPUs, other architectures) io::Sha256 does the work.
#include "core/data/sha256_hw.h"

#include <array>
#include <cstdint>
#include <cstring>

#include "core/io/sha256.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RLHF_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define RLHF_SHA_NI 0
#endif

namespace rlhf::data {

namespace {

#if RLHF_SHA_NI

std::string to_hex(const uint8_t* digest) {
    static const char kHex[] = "0123456789abcdef";
    std::string out(64, '0');
    for (int i = 0; i < 32; ++i) {
        out[2 * i] = kHex[digest[i] >> 4];
        out[2 * i + 1] = kHex[digest[i] & 15];
    }
    return out;
}

bool cpu_has_sha_ni() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    bool ssse3 = c & (1u << 9), sse41 = c & (1u << 19);
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    bool sha = b & (1u << 29);
    return ssse3 && sse41 && sha;
}

// Compresses `blocks` 64-byte blocks into h (a..h as FIPS numbers them).
__attribute__((target("sha,sse4.1,ssse3"))) void compress_blocks(uint32_t h[8], const uint8_t* p,
                                                                 size_t blocks) {
    // Message words are big-endian: swap the bytes of each 32-bit lane.
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    // sha256rnds2 keeps the state as ABEF and CDGH (lane 3 = A).
    __m128i abcd = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h));      // lanes a b c d
    __m128i efgh = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 4));  // lanes e f g h
    __m128i cdab = _mm_shuffle_epi32(abcd, 0xB1);
    __m128i hgfe = _mm_shuffle_epi32(efgh, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, hgfe, 8);
    __m128i cdgh = _mm_blend_epi16(hgfe, cdab, 0xF0);
    for (size_t blk = 0; blk < blocks; ++blk, p += 64) {
        const __m128i abef_in = abef, cdgh_in = cdgh;
        __m128i w[4];  // ring of the last four schedule groups W[4g .. 4g+3]
        for (int g = 0; g < 16; ++g) {
            __m128i cur;
            if (g < 4) {
                cur = _mm_shuffle_epi8(
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * g)), bswap);
            } else {
                // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16] for t = 4g .. 4g+3:
                // msg1 adds σ0 to groups g-4/g-3, alignr picks W[t-7] from groups g-2/g-1, msg2
                // adds σ1.
                __m128i s0 = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
                __m128i w7 = _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4);
                cur = _mm_sha256msg2_epu32(_mm_add_epi32(s0, w7), w[(g + 3) & 3]);
            }
            w[g & 3] = cur;
            const auto* k = reinterpret_cast<const __m128i*>(io::kSha256RoundConstants + 4 * g);
            __m128i msg = _mm_add_epi32(cur, _mm_load_si128(k));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);  // rounds 4g, 4g+1
            msg = _mm_shuffle_epi32(msg, 0x0E);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, msg);  // rounds 4g+2, 4g+3
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    abcd = _mm_blend_epi16(feba, dchg, 0xF0);
    efgh = _mm_alignr_epi8(dchg, feba, 8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h), abcd);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h + 4), efgh);
}

const bool kHaveShaNi = cpu_has_sha_ni();

#endif  // RLHF_SHA_NI

}  // namespace

bool sha256_hw_available() {
#if RLHF_SHA_NI
    return kHaveShaNi;
#else
    return false;
#endif
}

std::string sha256_hex_hw(std::string_view data) {
#if RLHF_SHA_NI
    uint32_t h[8];
    std::memcpy(h, io::kSha256InitialHash, sizeof(h));
    const auto* p = reinterpret_cast<const uint8_t*>(data.data());
    size_t full = data.size() / 64;
    compress_blocks(h, p, full);
    // §5.1.1 padding: the rest, 0x80, zeros, the bit length as a 64-bit big-endian number.
    uint8_t tail[128] = {};
    size_t rest = data.size() - full * 64;
    if (rest) std::memcpy(tail, p + full * 64, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
    for (int i = 0; i < 8; ++i) tail[tail_len - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
    compress_blocks(h, tail, tail_len / 64);
    uint8_t digest[32];
    for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 4; ++j) digest[4 * i + j] = static_cast<uint8_t>(h[i] >> (24 - 8 * j));
    return to_hex(digest);
#else
    return io::sha256_hex(data);
#endif
}

std::string sha256_hex_fast(std::string_view data) {
    if (sha256_hw_available()) return sha256_hex_hw(data);
    return io::sha256_hex(data);
}

}  // namespace rlhf::data
