// Tokens of a chat template, cut the way jinja2's lexer cuts them in the Environment transformers
// uses (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False): whitespace control
// ({%- -%} {{- -}} {#- -#}, {%+ +%}) is applied here, so the parser only sees the text that prints.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace rlhf::text::jinja {

// A template error at a place in the source; ChatTemplate prefixes the label.
class TemplateError : public std::runtime_error {
public:
    TemplateError(int line, int column, const std::string& what)
        : std::runtime_error(what), line(line), column(column) {}
    int line;    // 1-based
    int column;  // 1-based, in characters
};

enum class TokenType {
    Data,        // literal text to print
    VarBegin,    // {{
    VarEnd,      // }}
    BlockBegin,  // {%
    BlockEnd,    // %}
    Name,        // identifier or keyword (if, for, in, not, and, or, is, true, none, ...)
    String,      // string literal, escapes already decoded
    Integer,
    Float,
    Operator,    // + - * / // % ** ~ == != < > <= >= = . , : | ( ) [ ] { } ;
    End,         // end of template
};

struct Token {
    TokenType type;
    std::string text;  // data text, name, decoded string, operator, or the number as written
    int line = 1;
    int column = 1;
};

struct LexOptions {
    bool trim_blocks = true;    // drop the first newline after a block or comment tag
    bool lstrip_blocks = true;  // drop spaces/tabs before a block or comment tag that starts a line
};

// Throws TemplateError (unclosed tag, comment or string; a character no expression uses).
std::vector<Token> tokenize(const std::string& source, const LexOptions& options = {});

}  // namespace rlhf::text::jinja
