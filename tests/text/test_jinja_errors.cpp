// Template errors: every malformed or unsupported template is an rlhf::Error that names the line and
// column, never a crash or silent output. Positions are counted by hand (1-based; the column is the
// first character of the token at fault) and written next to each case.
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include "core/io/error.h"
#include "core/text/chat_template.h"

using rlhf::text::ChatTemplate;

namespace {

struct Case {
    const char* source;
    int line, column;
    const char* what;  // part of the message
};

std::string where(int line, int column) {
    return "tmpl: line " + std::to_string(line) + ", column " + std::to_string(column) + ": ";
}

// Runs parse (and render when parsing succeeds); returns the error message or "" when none.
std::string error_of(const std::string& source, const nlohmann::json& extra = nlohmann::json::object()) {
    try {
        ChatTemplate t(source, "tmpl");
        t.render(nlohmann::json::parse(R"([{"role":"user","content":"hi"}])"), false, extra);
    } catch (const rlhf::Error& e) {
        return e.what();
    }
    return "";
}

void check(const std::vector<Case>& cases) {
    for (const Case& c : cases) {
        std::string msg = error_of(c.source);
        std::string want = where(c.line, c.column);
        QVERIFY2(msg.rfind(want, 0) == 0, (std::string(c.source) + " -> '" + msg + "', want prefix '" + want + "'").c_str());
        QVERIFY2(msg.find(c.what) != std::string::npos, (std::string(c.source) + " -> '" + msg + "' lacks '" + c.what + "'").c_str());
    }
}

}  // namespace

class JinjaErrorsTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // Found when the template is parsed (ChatTemplate's constructor).
    void syntax_errors() {
        check({
            {"{{ x", 1, 1, "unclosed '{{'"},                                    // the '{{' at 1:1
            {"a\n{% if x %}b", 2, 12, "expected 'elif' or 'else' or 'endif'"},  // end of text: 11 chars on line 2
            {"{% for x in y %}{% endif %}", 1, 20, "'endif' without a matching"},  // 16 chars + "{% " -> 20
            {"{{ 1 + }}", 1, 8, "unexpected '}}'"},                             // "{{ 1 + " is 7 chars
            {"{% frobnicate %}", 1, 4, "unknown tag 'frobnicate'"},
            {"{{ x | nosuchfilter }}", 1, 8, "no filter named 'nosuchfilter'"},  // "{{ x | " is 7 chars
            {"{{ x is nosuchtest }}", 1, 9, "no test named 'nosuchtest'"},      // "{{ x is " is 8 chars
            {"line1\n  {{ 'unclosed }}", 2, 6, "unclosed string literal"},      // "  {{ " then the quote
            {"{# comment", 1, 1, "unclosed comment"},
            {"{% set %}", 1, 8, "expected a variable name after 'set'"},        // the '%}' at 8
            {"{{ a[1:2:3:4] }}", 1, 12, "too many ':' in slice"},               // third ':' at 12
            {"{% include 'x' %}", 1, 4, "unsupported tag 'include'"},
            {"{% with x = 1 %}{% endwith %}", 1, 4, "unsupported tag 'with'"},
            {"{% call foo %}{% endcall %}", 1, 9, "expected a macro call after 'call'"},      // "{% call " is 8 chars
            {"{{ x $ y }}", 1, 6, "unexpected character '$'"},
            {"{% break %}", 1, 4, "'break' outside of a for loop"},
            {"{% macro m(a %}{% endmacro %}", 1, 11, "unclosed '('"},           // "{% macro m" is 10 chars
            {"{{ \"a\" \"b\" }}{{ 1 2 }}", 1, 19, "expected '}}', got number 2"},  // 13 + "{{ 1 " -> 19
            {"x\n\n   {% endfor %}", 3, 7, "'endfor' without a matching"},      // "   {% " is 6 chars
            {"{% if x %}{% else %}{% else %}{% endif %}", 1, 24, "'else' without a matching"},
            {"{% for x in y recursive %}{% endfor %}", 1, 15, "recursive"},
        });
    }

    // Found while rendering: the position is the expression that failed.
    void runtime_errors() {
        check({
            {"{{ foo.bar }}", 1, 7, "'foo' is undefined"},                          // the '.' at 7
            {"{{ d.y.z }}", 1, 5, "'d' is undefined"},                             // the first '.'
            {"{{ 1 + 'a' }}", 1, 6, "unsupported operand type(s) for +: 'int' and 'str'"},
            {"{% set ns = 1 %}{% set ns.x = 2 %}", 1, 20, "cannot assign attribute on non-namespace object"},
            {"{{ [1].append(2) }}", 1, 14, "access to attribute 'append' of 'list' object is unsafe"},
            {"{{ 1 / 0 }}", 1, 6, "division by zero"},
            {"{{ none|length }}", 1, 9, "has no len()"},
            {"{% for a, b in [1] %}{% endfor %}", 1, 4, "cannot unpack"},
            {"{{ messages[0]['content'] + 1 }}", 1, 27, "can only concatenate str (not \"int\") to str"},
            {"{{ messages[0].content.nosuch() }}", 1, 30, "'str object' has no attribute 'nosuch'"},
            {"{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", 1, 34, "takes not more than 1 argument"},
            {"{{ x|tojson }}", 1, 6, "Object of type Undefined is not JSON serializable"},
            {"{{ 1 < 'a' }}", 1, 4, "'<' not supported between instances of 'int' and 'str'"},
            {"{{ range(200000)|length }}", 1, 4, "range too big"},
            {"{% for m in 5 %}{% endfor %}", 1, 13, "'int' object is not iterable"},
            {"{{ range(*3) }}", 1, 4, "argument after * must be a list"},
            {"{% macro m() %}{% endmacro %}{{ m(x=1) }}", 1, 33, "takes no keyword argument 'x'"},  // 29 + "{{ " -> 33
        });
        // jinja2's Undefined only errors where it is used, not where it is made.
        QCOMPARE(error_of("[{{ foo }}{{ messages[0].nope }}{{ messages[7] }}{{ foo is defined }}]"), std::string());
        // A dict's missing key is Undefined; its attribute is the error, with the key named.
        std::string msg = error_of("{{ d.y.z }}", {{"d", {{"a", 1}}}});
        QVERIFY2(msg.rfind(where(1, 7), 0) == 0 && msg.find("'dict object' has no attribute 'y'") != std::string::npos, msg.c_str());
    }

    // raise_exception(msg) is an rlhf::Error carrying the template author's message and its place.
    void raise_exception_carries_the_message() {
        // Line 3: "  {{- raise_exception(...) }}": "  {{- " is 6 chars, so the name starts at column 7.
        const std::string source =
            "{%- for m in messages %}\n"
            "{%- if m.role != 'assistant' %}\n"
            "  {{- raise_exception('Only assistants here, got ' ~ m.role ~ '!') }}\n"
            "{%- endif %}\n"
            "{%- endfor %}";
        std::string msg = error_of(source);
        QCOMPARE(msg, where(3, 7) + "raise_exception: Only assistants here, got user!");
    }

    // The label names the template; from_tokenizer_config labels it with the config file.
    void label_in_message() {
        try {
            ChatTemplate t("ok\n{{ ( }}", "model/tokenizer_config.json: chat_template");
            QFAIL("no error");
        } catch (const rlhf::Error& e) {
            QVERIFY2(std::string(e.what()).rfind("model/tokenizer_config.json: chat_template: line 2, column 4: ", 0) == 0,
                     e.what());
        }
    }

    // Garbage in never crashes: every prefix of a real template either parses or is an rlhf::Error.
    void every_prefix_is_clean() {
        const std::string source =
            "{%- set ns = namespace(n=0) %}{% for m in messages if m.content %}{{ '<' ~ m.role|upper ~ '>' }}"
            "{% if loop.last and add_generation_prompt %}{{ m.content[::-1]|tojson(indent=2) }}{% else %}"
            "{{- \"x\\n\" -}}{% set ns.n = ns.n + 1 %}{% endif %}{# c #}{% endfor %}{{ ns.n }}";
        int errors = 0;
        for (size_t n = 0; n <= source.size(); ++n) {
            try {
                ChatTemplate t(source.substr(0, n));
                t.render(nlohmann::json::parse(R"([{"role":"user","content":"hi"}])"), true);
            } catch (const rlhf::Error& e) {
                ++errors;
                QVERIFY2(std::string(e.what()).find(": line ") != std::string::npos, e.what());
            }
        }
        QVERIFY(errors > 0);
        // The whole template is valid.
        ChatTemplate full(source);
        QCOMPARE(full.render(nlohmann::json::parse(R"([{"role":"user","content":"hi"}])"), true),
                 std::string("<USER>\"ih\"0"));  // the else branch never ran
    }
};

QTEST_APPLESS_MAIN(JinjaErrorsTest)
#include "test_jinja_errors.moc"
