// The one code point -> UTF-8 encoder of the project (tokenizer, chat templates, HTML entity
// decoding, the demo's BPE alphabet all append code points to strings).
//
// Header-only and inline: it sits in the tokenizer's inner loops, and the call is smaller than
// the encoding itself.
#pragma once
#include <string>

namespace rlhf::io {

// The replacement character, written for code points that have no UTF-8 form.
constexpr char32_t kReplacementChar = 0xFFFD;

// Appends the UTF-8 form of `cp` to `out` (RFC 3629: 1 byte below U+0080, 2 below U+0800, 3 below
// U+10000, 4 up to U+10FFFF). A surrogate (U+D800..U+DFFF) or a value above U+10FFFF is not a
// Unicode scalar value and has no well-formed encoding: it is written as U+FFFD (EF BF BD), so the
// output is always valid UTF-8 — what Python's str.encode(errors="replace") and Rust's
// char::from_u32(..).unwrap_or(REPLACEMENT_CHARACTER) give.
inline void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = kReplacementChar;
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp <= 0x10FFFF) {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out += "\xEF\xBF\xBD";  // U+FFFD
    }
}

}  // namespace rlhf::io
