// Template tokenizer following jinja2's lexer (jinja2/lexer.py, 3.1): data between tags,
// whitespace control, and the expression tokens inside {{ }} and {% %}.
#include "core/text/jinja_lexer.h"

#include <algorithm>
#include <cctype>

#include "core/text/jinja_value.h"

namespace rlhf::text::jinja {
namespace {

// Python's str.isspace() for the ASCII range, which is all jinja2's \s meets in templates.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
public:
    Lexer(std::string source, const LexOptions& options) : src_(std::move(source)), opt_(options) {
        line_starts_.push_back(0);
        for (size_t k = 0; k < src_.size(); ++k)
            if (src_[k] == '\n') line_starts_.push_back(k + 1);
    }

    std::vector<Token> run() {
        size_t pos = 0;
        bool line_starting = true;  // did the previous tag's match end with a newline?
        while (pos < src_.size()) {
            size_t open = find_tag(pos);
            if (open == std::string::npos) {
                push_data(src_.substr(pos), pos);
                break;
            }
            char kind = src_[open + 1];  // '{', '%' or '#'
            char sign = open + 2 < src_.size() ? src_[open + 2] : '\0';
            std::string text = src_.substr(pos, open - pos);
            if (sign == '-') {
                // {%- / {{- / {#-: strip all whitespace before the tag.
                size_t keep = text.size();
                while (keep > 0 && is_space(text[keep - 1])) --keep;
                text.resize(keep);
            } else if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
                // lstrip_blocks: spaces before a block/comment tag that is first on its line.
                size_t nl = text.rfind('\n');
                size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
                if ((l_pos > 0 || line_starting) && l_pos < text.size() &&
                    std::all_of(text.begin() + l_pos, text.end(), is_space))
                    text.resize(l_pos);
            }
            push_data(text, pos);
            size_t body = open + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
            if (kind == '#') {
                pos = close_comment(open, body, line_starting);
            } else if (kind == '%' && is_raw_begin(body)) {
                pos = raw_block(open, body, line_starting);
            } else {
                pos = expression_tag(open, body, kind == '{', line_starting);
            }
        }
        tokens_.push_back(make(TokenType::End, "", src_.size()));
        return std::move(tokens_);
    }

private:
    size_t find_tag(size_t pos) const {
        for (size_t k = src_.find('{', pos); k != std::string::npos; k = src_.find('{', k + 1)) {
            if (k + 1 < src_.size() && (src_[k + 1] == '{' || src_[k + 1] == '%' || src_[k + 1] == '#')) return k;
        }
        return std::string::npos;
    }

    void position(size_t offset, int& line, int& column) const {
        auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
        size_t start = *(it - 1);
        line = static_cast<int>(it - line_starts_.begin());
        column = 1;
        for (size_t k = start; k < offset && k < src_.size(); ++k)
            if ((static_cast<unsigned char>(src_[k]) & 0xC0) != 0x80) ++column;
    }

    [[noreturn]] void fail(size_t offset, const std::string& what) const {
        int line, column;
        position(offset, line, column);
        throw TemplateError(line, column, what);
    }

    Token make(TokenType type, std::string text, size_t offset) const {
        Token t{type, std::move(text), 1, 1};
        position(offset, t.line, t.column);
        return t;
    }

    void push_data(const std::string& text, size_t offset) {
        if (!text.empty()) tokens_.push_back(make(TokenType::Data, text, offset));
    }

    // After a closing "-%}" / "-#}" / "-}}": swallow all whitespace; after "%}" / "#}" with
    // trim_blocks: one newline. Returns the new position; sets line_starting like jinja2.
    size_t after_close(size_t end, bool minus, bool plus, bool trim, bool& line_starting) const {
        size_t pos = end;
        if (minus) {
            while (pos < src_.size() && is_space(src_[pos])) ++pos;
        } else if (trim && !plus && pos < src_.size() && src_[pos] == '\n') {
            ++pos;
        }
        line_starting = pos > 0 && src_[pos - 1] == '\n';
        return pos;
    }

    size_t close_comment(size_t open, size_t body, bool& line_starting) {
        size_t close = src_.find("#}", body);
        if (close == std::string::npos) fail(open, "unclosed comment: missing '#}'");
        bool minus = close > body && src_[close - 1] == '-';
        bool plus = close > body && src_[close - 1] == '+';
        return after_close(close + 2, minus, plus, opt_.trim_blocks, line_starting);
    }

    // {% raw %} ... {% endraw %}: the text between is data, untouched.
    bool is_raw_begin(size_t body) const {
        size_t k = body;
        while (k < src_.size() && is_space(src_[k])) ++k;
        if (src_.compare(k, 3, "raw") != 0) return false;
        k += 3;
        if (k < src_.size() && is_name_char(src_[k])) return false;
        return true;
    }

    size_t raw_block(size_t open, size_t body, bool& line_starting) {
        size_t k = body;
        while (k < src_.size() && is_space(src_[k])) ++k;
        k += 3;
        while (k < src_.size() && is_space(src_[k])) ++k;
        bool minus = false;
        if (k < src_.size() && (src_[k] == '-' || src_[k] == '+')) minus = src_[k++] == '-';
        if (src_.compare(k, 2, "%}") != 0) fail(k, "expected '%}' after 'raw'");
        size_t pos = after_close(k + 2, minus, false, false, line_starting);
        // Find "{%[-+]? endraw [-+]?%}".
        for (size_t s = src_.find("{%", pos); s != std::string::npos; s = src_.find("{%", s + 2)) {
            size_t e = s + 2;
            char sign = e < src_.size() ? src_[e] : '\0';
            if (sign == '-' || sign == '+') ++e;
            while (e < src_.size() && is_space(src_[e])) ++e;
            if (src_.compare(e, 6, "endraw") != 0) continue;
            e += 6;
            while (e < src_.size() && is_space(src_[e])) ++e;
            bool end_minus = false, end_plus = false;
            if (e < src_.size() && (src_[e] == '-' || src_[e] == '+')) {
                end_minus = src_[e] == '-';
                end_plus = src_[e] == '+';
                ++e;
            }
            if (src_.compare(e, 2, "%}") != 0) continue;
            std::string text = src_.substr(pos, s - pos);
            if (sign == '-') {
                while (!text.empty() && is_space(text.back())) text.pop_back();
            }
            push_data(text, pos);
            return after_close(e + 2, end_minus, end_plus, opt_.trim_blocks, line_starting);
        }
        fail(open, "unclosed raw block: missing '{% endraw %}'");
    }

    // Tokens of one {{ ... }} or {% ... %}; returns the position after the closing delimiter.
    size_t expression_tag(size_t open, size_t body, bool is_var, bool& line_starting) {
        tokens_.push_back(make(is_var ? TokenType::VarBegin : TokenType::BlockBegin, is_var ? "{{" : "{%", open));
        const char close_char = is_var ? '}' : '%';
        std::vector<char> brackets;  // jinja2 only ends a tag outside (), [], {}
        std::vector<size_t> bracket_pos;
        size_t pos = body;
        while (true) {
            while (pos < src_.size() && is_space(src_[pos])) ++pos;
            if (pos >= src_.size())
                fail(open, is_var ? "unclosed '{{': missing '}}'" : "unclosed '{%': missing '%}'");
            if (brackets.empty()) {
                // "-}}" / "}}" / "+%}": the close check comes before operators, as in jinja2.
                bool sign = (src_[pos] == '-' || src_[pos] == '+');
                size_t c = pos + (sign ? 1 : 0);
                if (c + 1 < src_.size() && src_[c] == close_char && src_[c + 1] == '}') {
                    tokens_.push_back(make(is_var ? TokenType::VarEnd : TokenType::BlockEnd, "", pos));
                    bool minus = sign && src_[pos] == '-';
                    bool plus = sign && src_[pos] == '+';
                    return after_close(c + 2, minus, plus, !is_var && opt_.trim_blocks, line_starting);
                }
            }
            if (!brackets.empty() && brackets.back() != '{' &&
                src_.compare(pos + ((src_[pos] == '-' || src_[pos] == '+') ? 1 : 0), 2, is_var ? "}}" : "%}") == 0)
                fail(bracket_pos.back(), std::string("unclosed '") + brackets.back() + "' before the end of the tag");
            char c = src_[pos];
            if (is_name_start(c)) {
                size_t e = pos;
                while (e < src_.size() && is_name_char(src_[e])) ++e;
                tokens_.push_back(make(TokenType::Name, src_.substr(pos, e - pos), pos));
                pos = e;
            } else if (is_digit(c)) {
                pos = number(pos);
            } else if (c == '\'' || c == '"') {
                pos = string_literal(pos);
            } else {
                static const char* kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
                std::string op;
                for (const char* two : kTwo)
                    if (src_.compare(pos, 2, two) == 0) op = two;
                if (op.empty()) {
                    if (std::string("+-/*%~[](){}<>=.:|,;").find(c) == std::string::npos) {
                        if (c == '}' || (c == '%' && !is_var))
                            fail(pos, std::string("unexpected '") + c + "'");
                        fail(pos, std::string("unexpected character '") + c + "'");
                    }
                    op = std::string(1, c);
                }
                if (op == "(" || op == "[" || op == "{") {
                    brackets.push_back(op[0]);
                    bracket_pos.push_back(pos);
                } else if (op == ")" || op == "]" || op == "}") {
                    char want = op == ")" ? '(' : op == "]" ? '[' : '{';
                    if (brackets.empty() || brackets.back() != want) fail(pos, "unexpected '" + op + "'");
                    brackets.pop_back();
                    bracket_pos.pop_back();
                }
                tokens_.push_back(make(TokenType::Operator, op, pos));
                pos += op.size();
            }
        }
    }

    size_t number(size_t pos) {
        size_t e = pos;
        auto digits = [&]() {
            while (e < src_.size() && (is_digit(src_[e]) || (src_[e] == '_' && e + 1 < src_.size() && is_digit(src_[e + 1]))))
                ++e;
        };
        digits();
        bool is_float = false;
        if (e + 1 < src_.size() && src_[e] == '.' && is_digit(src_[e + 1])) {
            is_float = true;
            ++e;
            digits();
        }
        if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
            size_t x = e + 1;
            if (x < src_.size() && (src_[x] == '+' || src_[x] == '-')) ++x;
            if (x < src_.size() && is_digit(src_[x])) {
                is_float = true;
                e = x;
                digits();
            }
        }
        std::string text = src_.substr(pos, e - pos);
        text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
        tokens_.push_back(make(is_float ? TokenType::Float : TokenType::Integer, text, pos));
        return e;
    }

    // Python string literal: jinja2 decodes it with the "unicode-escape" codec.
    size_t string_literal(size_t pos) {
        char quote = src_[pos];
        std::string out;
        size_t k = pos + 1;
        auto hex = [&](size_t at, int count) -> uint32_t {
            uint32_t v = 0;
            for (int n = 0; n < count; ++n) {
                if (at + n >= src_.size() || !std::isxdigit(static_cast<unsigned char>(src_[at + n])))
                    fail(at - 2, "invalid escape in string literal");
                char h = src_[at + n];
                v = v * 16 + (is_digit(h) ? h - '0' : (std::tolower(h) - 'a' + 10));
            }
            return v;
        };
        while (true) {
            if (k >= src_.size()) fail(pos, "unclosed string literal");
            char c = src_[k];
            if (c == quote) break;
            if (c != '\\') {
                out += c;
                ++k;
                continue;
            }
            if (k + 1 >= src_.size()) fail(pos, "unclosed string literal");
            char e = src_[k + 1];
            k += 2;
            switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case '\\': out += '\\'; break;
            case '\'': out += '\''; break;
            case '"': out += '"'; break;
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'v': out += '\v'; break;
            case '\n': break;  // line continuation
            case 'x': utf8_append(out, hex(k, 2)); k += 2; break;
            case 'u': utf8_append(out, hex(k, 4)); k += 4; break;
            case 'U': utf8_append(out, hex(k, 8)); k += 8; break;
            default:
                if (e >= '0' && e <= '7') {
                    uint32_t v = e - '0';
                    for (int n = 0; n < 2 && k < src_.size() && src_[k] >= '0' && src_[k] <= '7'; ++n) v = v * 8 + (src_[k++] - '0');
                    utf8_append(out, v);
                } else {
                    out += '\\';  // Python keeps unknown escapes as written
                    out += e;
                }
            }
        }
        tokens_.push_back(make(TokenType::String, out, pos));
        return k + 1;
    }

    std::string src_;
    LexOptions opt_;
    std::vector<size_t> line_starts_;
    std::vector<Token> tokens_;
};

// jinja2 normalises "\r\n" and "\r" to "\n" and drops one trailing newline.
std::string normalize_source(const std::string& source) {
    std::string out;
    out.reserve(source.size());
    for (size_t k = 0; k < source.size(); ++k) {
        if (source[k] == '\r') {
            out += '\n';
            if (k + 1 < source.size() && source[k + 1] == '\n') ++k;
        } else {
            out += source[k];
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

}  // namespace

std::vector<Token> tokenize(const std::string& source, const LexOptions& options) {
    return Lexer(normalize_source(source), options).run();
}

}  // namespace rlhf::text::jinja
