// PCRE2 (UTF + UCP, JIT) standing in for the Oniguruma regexes Hugging Face's tokenizers run.
// Two differences matter for real tokenizer.json patterns and are translated away here:
//  - \s: Oniguruma means the White_Space property (U+0085, U+00A0, U+2028 ... included); PCRE2's
//    UCP \s is Z* plus ASCII controls, which misses U+0085 and treats U+180E differently.
//  - \w: Oniguruma/Rust mean letters, marks, decimal digits, letter numbers, connector punctuation.
// Oniguruma's default (Ruby) syntax makes ^ and $ line anchors, hence PCRE2_MULTILINE.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <nlohmann/json.hpp>

#include "core/io/error.h"
#include "core/text/tokenizer_internal.h"

namespace rlhf::text::detail {

namespace {
const char* const kWhiteSpace =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
const char* const kWordChars = "\\p{L}\\p{M}\\p{Nd}\\p{Nl}\\p{Pc}\\x{200C}\\x{200D}";

std::string translate_onig(const std::string& p) {
    std::string out;
    out.reserve(p.size() + 64);
    bool in_class = false;
    for (size_t i = 0; i < p.size(); ++i) {
        char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            char e = p[i + 1];
            ++i;
            if (e == 's' || e == 'w') {
                const char* set = e == 's' ? kWhiteSpace : kWordChars;
                if (in_class) out += set;
                else out += std::string("[") + set + "]";
            } else if ((e == 'S' || e == 'W') && !in_class) {
                out += std::string("[^") + (e == 'S' ? kWhiteSpace : kWordChars) + "]";
            } else {
                out += '\\';
                out += e;
            }
            continue;
        }
        if (!in_class && c == '[') {
            in_class = true;
            out += c;
            // A ']' right after '[' or '[^' is a literal member.
            if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
            if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
            continue;
        }
        if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // POSIX [:alpha:]
            size_t close = p.find(":]", i + 2);
            if (close != std::string::npos) {
                out.append(p, i, close + 2 - i);
                i = close + 1;
                continue;
            }
        }
        if (in_class && c == ']') in_class = false;
        out += c;
    }
    return out;
}

struct MatchState {
    pcre2_match_data* data = nullptr;
    pcre2_match_context* context = nullptr;
    pcre2_jit_stack* stack = nullptr;
    MatchState() {
        data = pcre2_match_data_create(1, nullptr);
        context = pcre2_match_context_create(nullptr);
        stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
        pcre2_jit_stack_assign(context, nullptr, stack);
    }
    ~MatchState() {
        pcre2_match_data_free(data);
        pcre2_match_context_free(context);
        pcre2_jit_stack_free(stack);
    }
};

MatchState& match_state() {
    thread_local MatchState state;
    return state;
}
}  // namespace

struct Regex::Code {
    pcre2_code* code = nullptr;
    bool jit = false;
    ~Code() { pcre2_code_free(code); }
};

Regex::Regex(const std::string& pattern, const std::string& where) : code_(std::make_unique<Code>()) {
    std::string translated = translate_onig(pattern);
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &err, &err_offset, nullptr);
    if (!code_->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        throw Error(where + ": bad regex '" + pattern + "': " + reinterpret_cast<const char*>(msg));
    }
    code_->jit = pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() = default;

void Regex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
    MatchState& st = match_state();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t pos = 0;
    while (pos <= text.size()) {
        int rc = code_->jit ? pcre2_jit_match(code_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, st.data, st.context)
                            : pcre2_match(code_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, st.data, st.context);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            throw Error(std::string("regex match failed: ") + reinterpret_cast<const char*>(msg));
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data);
        size_t s = ov[0], e = ov[1];
        if (e > s) {
            out.emplace_back(s, e);
            pos = e;
        } else {
            // Empty match: yields no split; move on by one character.
            if (e >= text.size()) break;
            pos = e + utf8_len_of_lead(static_cast<unsigned char>(text[e]));
        }
    }
}

Pattern::Pattern(const Json& j, const std::string& where) {
    if (!j.is_object()) fail(where, "expected {\"String\": ...} or {\"Regex\": ...}");
    if (j.contains("String")) {
        const Json& s = j["String"];
        if (!s.is_string()) fail(where + ".String", "expected a string");
        literal_ = s.get<std::string>();
        if (literal_.empty()) fail(where + ".String", "empty pattern");
    } else if (j.contains("Regex")) {
        const Json& s = j["Regex"];
        if (!s.is_string()) fail(where + ".Regex", "expected a string");
        regex_ = std::make_unique<Regex>(s.get<std::string>(), where + ".Regex");
    } else {
        fail(where, "expected {\"String\": ...} or {\"Regex\": ...}");
    }
}

void Pattern::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
    if (regex_) {
        regex_->find_all(text, out);
        return;
    }
    size_t pos = 0;
    while ((pos = text.find(literal_, pos)) != std::string_view::npos) {
        out.emplace_back(pos, pos + literal_.size());
        pos += literal_.size();
    }
}

}  // namespace rlhf::text::detail
