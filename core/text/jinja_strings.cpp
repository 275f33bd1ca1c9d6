// Python str semantics over UTF-8 (utf8proc for case mapping).
#include "core/text/jinja_strings.h"

#include <utf8proc.h>

#include <algorithm>

#include "core/text/jinja_value.h"

namespace rlhf::text::jinja {

bool py_is_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string py_strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right) {
    std::vector<uint32_t> cps = utf8_decode(s);
    std::vector<uint32_t> set;
    if (chars) set = utf8_decode(*chars);
    auto strip_it = [&](uint32_t cp) {
        return chars ? std::find(set.begin(), set.end(), cp) != set.end() : py_is_space(cp);
    };
    size_t b = 0, e = cps.size();
    if (left)
        while (b < e && strip_it(cps[b])) ++b;
    if (right)
        while (e > b && strip_it(cps[e - 1])) --e;
    return utf8_encode(cps, b, e);
}

std::vector<std::string> py_split(const std::string& s, const std::optional<std::string>& sep,
                                  int64_t maxsplit, bool from_right) {
    std::vector<std::string> out;
    if (sep) {
        if (!from_right) {
            size_t pos = 0;
            while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
                size_t hit = s.find(*sep, pos);
                if (hit == std::string::npos) break;
                out.push_back(s.substr(pos, hit - pos));
                pos = hit + sep->size();
            }
            out.push_back(s.substr(pos));
        } else {
            size_t end = s.size();
            int64_t splits = 0;
            while (maxsplit < 0 || splits < maxsplit) {
                if (end < sep->size()) break;
                size_t hit = s.rfind(*sep, end - sep->size());
                if (hit == std::string::npos) break;
                out.push_back(s.substr(hit + sep->size(), end - hit - sep->size()));
                end = hit;
                ++splits;
            }
            out.push_back(s.substr(0, end));
            std::reverse(out.begin(), out.end());
        }
        return out;
    }
    // Whitespace split: runs of whitespace separate, leading/trailing ignored.
    std::vector<uint32_t> cps = utf8_decode(s);
    if (!from_right) {
        size_t k = 0;
        while (k < cps.size()) {
            while (k < cps.size() && py_is_space(cps[k])) ++k;
            if (k >= cps.size()) break;
            if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
                size_t e = cps.size();
                while (e > k && py_is_space(cps[e - 1])) --e;
                out.push_back(utf8_encode(cps, k, e));
                break;
            }
            size_t e = k;
            while (e < cps.size() && !py_is_space(cps[e])) ++e;
            out.push_back(utf8_encode(cps, k, e));
            k = e;
        }
    } else {
        size_t k = cps.size();
        while (k > 0) {
            while (k > 0 && py_is_space(cps[k - 1])) --k;
            if (k == 0) break;
            if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
                size_t b = 0;
                while (b < k && py_is_space(cps[b])) ++b;
                out.push_back(utf8_encode(cps, b, k));
                break;
            }
            size_t b = k;
            while (b > 0 && !py_is_space(cps[b - 1])) --b;
            out.push_back(utf8_encode(cps, b, k));
            k = b;
        }
        std::reverse(out.begin(), out.end());
    }
    return out;
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
    if (old.empty()) {
        // Python inserts repl between every character (and at both ends).
        std::vector<uint32_t> cps = utf8_decode(s);
        std::string out;
        int64_t done = 0;
        for (size_t k = 0; k <= cps.size(); ++k) {
            if (count < 0 || done < count) {
                out += repl;
                ++done;
            }
            if (k < cps.size()) utf8_append(out, cps[k]);
        }
        return out;
    }
    std::string out;
    size_t pos = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        size_t hit = s.find(old, pos);
        if (hit == std::string::npos) break;
        out.append(s, pos, hit - pos);
        out += repl;
        pos = hit + old.size();
        ++done;
    }
    out.append(s, pos, std::string::npos);
    return out;
}

static bool is_cased(uint32_t cp) {
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}
static uint32_t to_upper(uint32_t cp) { return static_cast<uint32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp))); }
static uint32_t to_lower(uint32_t cp) { return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))); }
static uint32_t to_title(uint32_t cp) { return static_cast<uint32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp))); }

// Python's str.upper()/lower() use Unicode SpecialCasing, where one character can become several
// ("ß".upper() == "SS"); utf8proc maps one to one. These are the special cases text meets.
static const char* special_upper(uint32_t cp) {
    switch (cp) {
    case 0x00DF: return "SS";          // ß
    case 0xFB00: return "FF";
    case 0xFB01: return "FI";
    case 0xFB02: return "FL";
    case 0xFB03: return "FFI";
    case 0xFB04: return "FFL";
    case 0xFB05:
    case 0xFB06: return "ST";
    case 0x0149: return "\u02BCN";     // ŉ
    default: return nullptr;
    }
}

std::string py_upper(const std::string& s) {
    std::string out;
    for (uint32_t cp : utf8_decode(s)) {
        if (const char* special = special_upper(cp)) out += special;
        else utf8_append(out, to_upper(cp));
    }
    return out;
}

std::string py_lower(const std::string& s) {
    std::string out;
    for (uint32_t cp : utf8_decode(s)) {
        if (cp == 0x0130) out += "i\u0307";  // İ lowers to i + combining dot above
        else utf8_append(out, to_lower(cp));
    }
    return out;
}

bool py_is_word_char(uint32_t cp) {
    if (cp == '_') return true;
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
           (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

std::string py_title(const std::string& s) {
    std::string out;
    bool previous_cased = false;
    for (uint32_t cp : utf8_decode(s)) {
        bool cased = is_cased(cp);
        utf8_append(out, cased ? (previous_cased ? to_lower(cp) : to_title(cp)) : cp);
        previous_cased = cased;
    }
    return out;
}

std::string py_capitalize(const std::string& s) {
    std::vector<uint32_t> cps = utf8_decode(s);
    std::string out;
    for (size_t k = 0; k < cps.size(); ++k) utf8_append(out, k == 0 ? to_title(cps[k]) : to_lower(cps[k]));
    return out;
}

std::string jinja_title(const std::string& s) {
    // jinja2: "".join(item[0].upper() + item[1:].lower() for item in re.split(r"([-\s({\[<]+)", s))
    std::vector<uint32_t> cps = utf8_decode(s);
    auto is_boundary = [](uint32_t cp) {
        return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || py_is_space(cp);
    };
    std::string out;
    size_t k = 0;
    while (k < cps.size()) {
        size_t e = k;
        bool boundary = is_boundary(cps[k]);
        while (e < cps.size() && is_boundary(cps[e]) == boundary) ++e;
        for (size_t m = k; m < e; ++m) utf8_append(out, m == k ? to_upper(cps[m]) : to_lower(cps[m]));
        k = e;
    }
    return out;
}

std::vector<std::string> py_splitlines(const std::string& s) {
    std::vector<uint32_t> cps = utf8_decode(s);
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t k = 0; k < cps.size(); ++k) {
        uint32_t cp = cps[k];
        bool sep = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) ||
                   cp == 0x85 || cp == 0x2028 || cp == 0x2029;
        if (!sep) continue;
        out.push_back(utf8_encode(cps, start, k));
        if (cp == '\r' && k + 1 < cps.size() && cps[k + 1] == '\n') ++k;
        start = k + 1;
    }
    if (start < cps.size()) out.push_back(utf8_encode(cps, start, cps.size()));
    return out;
}

int64_t py_length(const std::string& s) {
    int64_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

}  // namespace rlhf::text::jinja
