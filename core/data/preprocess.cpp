#include "core/data/preprocess.h"

#include <cctype>
#include <cstdint>
#include <cstring>

#include "core/io/utf8.h"

namespace rlhf::data {

bool is_valid_utf8(std::string_view s, size_t* bad_offset) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t n = s.size(), i = 0;
    auto fail = [&](size_t at) {
        if (bad_offset) *bad_offset = at;
        return false;
    };
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return fail(i);  // continuation byte, 0xC0/0xC1 (overlong) or 0xF5+
        }
        if (i + len > n) return fail(i);
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return fail(i);
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return fail(i);
        i += len;
    }
    return true;
}

namespace {

bool is_block_tag(std::string_view tag) {
    // tag: the text between '<' and '>', e.g. "/p", "br/", "div class=x"
    if (!tag.empty() && tag[0] == '/') tag.remove_prefix(1);
    size_t e = 0;
    while (e < tag.size() && std::isalnum(static_cast<unsigned char>(tag[e]))) ++e;
    std::string name(tag.substr(0, e));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static const char* const kBlock[] = {"br", "p",  "div", "li", "tr", "h1",    "h2", "h3",
                                         "h4", "h5", "h6",  "ul", "ol", "table", "pre"};
    for (const char* b : kBlock)
        if (name == b) return true;
    return false;
}

// Decodes the entity starting at s[i] == '&'; returns the bytes consumed (0 = not an entity).
size_t decode_entity(std::string_view s, size_t i, std::string& out) {
    size_t semi = s.find(';', i + 1);
    if (semi == std::string_view::npos || semi - i > 10) return 0;
    std::string_view name = s.substr(i + 1, semi - i - 1);
    static const struct {
        const char* name;
        const char* text;
    } kNamed[] = {{"amp", "&"},   {"lt", "<"},   {"gt", ">"},
                  {"quot", "\""}, {"apos", "'"}, {"nbsp", " "}};
    for (const auto& e : kNamed) {
        if (name == e.name) {
            out += e.text;
            return semi - i + 1;
        }
    }
    if (name.size() >= 2 && name[0] == '#') {
        bool hex = name[1] == 'x' || name[1] == 'X';
        std::string_view digits = name.substr(hex ? 2 : 1);
        if (digits.empty()) return 0;
        uint32_t cp = 0;
        for (char c : digits) {
            int d;
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (hex && c >= 'a' && c <= 'f')
                d = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F')
                d = c - 'A' + 10;
            else
                return 0;
            cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
            if (cp > 0x10FFFF) return 0;
        }
        // NUL and surrogates are not characters: leave the entity as text rather than emit
        // invalid UTF-8.
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        io::append_utf8(out, cp);
        return semi - i + 1;
    }
    return 0;
}

}  // namespace

std::string strip_html(std::string_view s) {
    // Pass 1: tags out. Entities are decoded afterwards so "&lt;b&gt;" stays the text "<b>".
    std::string no_tags;
    no_tags.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        if (s[i] == '<' && i + 1 < s.size()) {
            unsigned char n = static_cast<unsigned char>(s[i + 1]);
            if (std::isalpha(n) || n == '/' || n == '!' || n == '?') {
                size_t end;
                if (s.compare(i, 4, "<!--") == 0) {
                    end = s.find("-->", i + 4);
                    if (end != std::string_view::npos) end += 2;
                } else {
                    end = s.find('>', i + 1);
                }
                if (end != std::string_view::npos) {
                    if (is_block_tag(s.substr(i + 1, end - i - 1))) no_tags += '\n';
                    i = end + 1;
                    continue;
                }
            }
        }
        no_tags += s[i++];
    }
    std::string out;
    out.reserve(no_tags.size());
    for (size_t i = 0; i < no_tags.size();) {
        if (no_tags[i] == '&') {
            size_t used = decode_entity(no_tags, i, out);
            if (used) {
                i += used;
                continue;
            }
        }
        out += no_tags[i++];
    }
    return out;
}

std::string normalize_whitespace(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t newlines = 0;  // newlines in the current run
    bool pending_space = false;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '\r') {
            if (i + 1 < s.size() && s[i + 1] == '\n') continue;  // CRLF: the LF comes next
            c = '\n';
        }
        if (c == '\n') {
            pending_space = false;  // no trailing spaces on a line
            ++newlines;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\f' || c == '\v') {
            if (newlines == 0 && !out.empty()) pending_space = true;  // leading spaces dropped
            continue;
        }
        if (newlines && !out.empty())
            out.append(newlines >= 2 ? 2 : 1, '\n');
        else if (pending_space)
            out += ' ';
        newlines = 0;
        pending_space = false;
        out += c;
    }
    return out;
}

}  // namespace rlhf::data
