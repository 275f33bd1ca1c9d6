// UTF-8 helpers and Unicode character classes with Rust `char` semantics, on utf8proc's data.
// Hugging Face's tokenizers decide splits with char::is_whitespace, char::is_numeric, the
// Unicode general categories and char::to_lowercase, so those are what we reproduce here.
#include <cstdlib>
#include <memory>

#include <utf8proc.h>

#include "core/io/error.h"
#include "core/io/utf8.h"
#include "core/text/tokenizer_internal.h"

namespace rlhf::text::detail {

// The shared encoder (core/io/utf8.h), under the name the tokenizer files use.
void utf8_append(std::string& out, uint32_t cp) { io::append_utf8(out, cp); }

namespace {
// Length of the well-formed prefix of the sequence at s[i] (Unicode Table 3-7) and whether it
// is complete: a maximal subpart is replaced by one U+FFFD, as Rust and WHATWG do.
size_t utf8_valid_prefix(const unsigned char* s, size_t n, size_t i, bool& complete) {
    unsigned char c = s[i];
    complete = false;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) { complete = true; return 1; }
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = 3;
    else if (c == 0xED) { len = 3; hi = 0x9F; }
    else if (c == 0xF0) { len = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) { len = 4; hi = 0x8F; }
    else return 1;
    size_t j = 1;
    if (i + j < n && s[i + j] >= lo && s[i + j] <= hi) {
        ++j;
        while (j < len && i + j < n && s[i + j] >= 0x80 && s[i + j] <= 0xBF) ++j;
    }
    complete = j == len;
    return j;
}
}  // namespace

std::string utf8_lossy(std::string_view bytes) {
    const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
    std::string out;
    out.reserve(bytes.size());
    size_t i = 0;
    while (i < bytes.size()) {
        bool complete = false;
        size_t k = utf8_valid_prefix(s, bytes.size(), i, complete);
        if (complete) out.append(bytes.data() + i, k);
        else out += "\xEF\xBF\xBD";
        i += k;
    }
    return out;
}

bool utf8_valid(std::string_view bytes) {
    const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
    size_t i = 0;
    while (i < bytes.size()) {
        if (s[i] < 0x80) { ++i; continue; }
        bool complete = false;
        size_t k = utf8_valid_prefix(s, bytes.size(), i, complete);
        if (!complete) return false;
        i += k;
    }
    return true;
}

size_t utf8_count(std::string_view s) {
    size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

bool is_whitespace(uint32_t cp) {
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    if (cp < 0x85) return false;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static utf8proc_category_t category(uint32_t cp) {
    return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

bool is_numeric(uint32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    auto c = category(cp);
    return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

bool is_punctuation(uint32_t cp) {
    if (cp < 0x80) return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
                          (cp >= 0x7B && cp <= 0x7E);
    auto c = category(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

bool is_word_char(uint32_t cp) {
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    if (cp == 0x200C || cp == 0x200D) return true;  // Join_Control
    auto c = category(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) || (c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME) ||
           c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_PC;
}

bool is_mark_nonspacing(uint32_t cp) { return cp >= 0x300 && category(cp) == UTF8PROC_CATEGORY_MN; }

bool is_mark(uint32_t cp) {
    if (cp < 0x300) return false;
    auto c = category(cp);
    return c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME;
}

bool is_control(uint32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return false;
    auto c = category(cp);
    // Unassigned code points (Cn) are not "other" in the unicode_categories crate tokenizers
    // uses (its tables come from UnicodeData.txt, which lists no Cn), so they are kept.
    return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO ||
           c == UTF8PROC_CATEGORY_CS;
}

bool is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

void append_lowercase(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
        return;
    }
    // The one unconditional multi-character lowercase mapping (SpecialCasing.txt).
    if (cp == 0x130) {
        out += "i\xCC\x87";
        return;
    }
    utf8_append(out, static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
}

std::string unicode_normalize(std::string_view s, NormForm form) {
    int options = UTF8PROC_STABLE;
    switch (form) {
        case NormForm::NFC: options |= UTF8PROC_COMPOSE; break;
        case NormForm::NFD: options |= UTF8PROC_DECOMPOSE; break;
        case NormForm::NFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
        case NormForm::NFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    // ASCII is invariant under every normalization form.
    bool ascii = true;
    for (char c : s) if (static_cast<unsigned char>(c) >= 0x80) { ascii = false; break; }
    if (ascii) return std::string(s);
    utf8proc_uint8_t* out = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                      static_cast<utf8proc_ssize_t>(s.size()), &out,
                                      static_cast<utf8proc_option_t>(options));
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> holder(out, &std::free);
    if (n < 0) throw Error(std::string("unicode normalization failed: ") + utf8proc_errmsg(n));
    return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

const ByteLevelTable& byte_level_table() {
    static const ByteLevelTable table = [] {
        ByteLevelTable t;
        // GPT-2 bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68
        // bytes to U+0100.. in byte order, so every byte is a visible, non-space character.
        uint32_t next = 256;
        for (uint32_t b = 0; b < 256; ++b) {
            bool keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            uint32_t cp = keep ? b : next++;
            utf8_append(t.byte_to_utf8[b], cp);
            t.utf8_len[b] = static_cast<uint8_t>(t.byte_to_utf8[b].size());
            t.utf8[b][0] = t.byte_to_utf8[b][0];
            t.utf8[b][1] = t.utf8_len[b] > 1 ? t.byte_to_utf8[b][1] : '\0';
            t.char_to_byte[cp] = static_cast<uint8_t>(b);
        }
        return t;
    }();
    return table;
}

bool ends_with_word(std::string_view s) {
    if (s.empty()) return false;
    size_t i = s.size() - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
    uint32_t cp;
    utf8_next(s, i, cp);
    return is_word_char(cp);
}

bool starts_with_word(std::string_view s) {
    if (s.empty()) return false;
    uint32_t cp;
    utf8_next(s, 0, cp);
    return is_word_char(cp);
}

size_t trailing_space_start(std::string_view s) {
    size_t start = s.size();
    while (start > 0) {
        size_t i = start - 1;
        while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
        uint32_t cp;
        utf8_next(s, i, cp);
        if (!is_whitespace(cp)) break;
        start = i;
    }
    return start;
}

size_t leading_space_len(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        uint32_t cp;
        size_t k = utf8_next(s, i, cp);
        if (!is_whitespace(cp)) break;
        i += k;
    }
    return i;
}

}  // namespace rlhf::text::detail
