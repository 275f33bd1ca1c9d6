// Recursive-descent parser for the Jinja subset chat templates use, with jinja2's operator
// precedence (jinja2/parser.py): cond < or < and < not < compare < + - < ~ < * / // % < ** <
// unary < postfix (. [] ()) < filter/test (| is).
#include <set>

#include "core/text/jinja_ast.h"
#include "core/text/jinja_builtins.h"
#include "core/text/jinja_lexer.h"

namespace rlhf::text::jinja {
namespace {

class Parser {
public:
    explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

    Template run() {
        Template t;
        std::string end = parse_body(t.body, {});
        (void)end;
        return t;
    }

private:
    // -----------------------------------------------------------------------------------------
    // token helpers

    const Token& cur() const { return toks_[pos_]; }
    const Token& peek(size_t n = 1) const { return toks_[std::min(pos_ + n, toks_.size() - 1)]; }
    Token next() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }

    bool is_op(const char* op) const { return cur().type == TokenType::Operator && cur().text == op; }
    bool is_name(const char* name) const { return cur().type == TokenType::Name && cur().text == name; }

    [[noreturn]] void fail(const Token& t, const std::string& what) const {
        throw TemplateError(t.line, t.column, what);
    }

    static std::string describe(const Token& t) {
        switch (t.type) {
        case TokenType::Data: return "text";
        case TokenType::VarBegin: return "'{{'";
        case TokenType::VarEnd: return "'}}'";
        case TokenType::BlockBegin: return "'{%'";
        case TokenType::BlockEnd: return "'%}'";
        case TokenType::Name: return "'" + t.text + "'";
        case TokenType::String: return "string literal";
        case TokenType::Integer:
        case TokenType::Float: return "number " + t.text;
        case TokenType::Operator: return "'" + t.text + "'";
        case TokenType::End: return "end of template";
        }
        return "?";
    }

    void expect_op(const char* op) {
        if (!is_op(op)) fail(cur(), std::string("expected '") + op + "', got " + describe(cur()));
        next();
    }

    std::string expect_name(const char* what) {
        if (cur().type != TokenType::Name) fail(cur(), std::string("expected ") + what + ", got " + describe(cur()));
        return next().text;
    }

    void expect_block_end() {
        if (cur().type != TokenType::BlockEnd) fail(cur(), "expected '%}', got " + describe(cur()));
        next();
    }

    template <typename N>
    static std::unique_ptr<N> node_at(const Token& t) {
        auto n = std::make_unique<N>();
        n->line = t.line;
        n->column = t.column;
        return n;
    }

    ExprPtr expr_at(ExprKind kind, const Token& t) {
        auto e = node_at<Expr>(t);
        e->kind = kind;
        return e;
    }

    // -----------------------------------------------------------------------------------------
    // statements

    // Parses statements until a block tag whose keyword is in `ends` (left unconsumed after its
    // name, which is returned) or the end of the template (returns "").
    std::string parse_body(Body& body, const std::set<std::string>& ends) {
        while (true) {
            const Token& t = cur();
            switch (t.type) {
            case TokenType::Data: {
                auto s = node_at<Stmt>(t);
                s->kind = StmtKind::Text;
                s->text = t.text;
                next();
                body.push_back(std::move(s));
                break;
            }
            case TokenType::VarBegin: {
                auto s = node_at<Stmt>(t);
                s->kind = StmtKind::Output;
                next();
                s->expr = parse_tuple_expression();
                if (cur().type != TokenType::VarEnd) fail(cur(), "expected '}}', got " + describe(cur()));
                next();
                body.push_back(std::move(s));
                break;
            }
            case TokenType::BlockBegin: {
                const Token& kw = peek();
                if (kw.type != TokenType::Name) fail(kw, "expected a statement name after '{%', got " + describe(kw));
                if (ends.count(kw.text)) {
                    next();
                    return next().text;
                }
                next();
                parse_statement(body);
                break;
            }
            case TokenType::End:
                if (!ends.empty()) {
                    std::string list;
                    for (const auto& e : ends) list += (list.empty() ? "'" : " or '") + e + "'";
                    fail(t, "unexpected end of template: expected " + list);
                }
                return "";
            default: fail(t, "unexpected " + describe(t));
            }
        }
    }

    void parse_statement(Body& body) {
        const Token kw = next();  // statement name
        const std::string& k = kw.text;
        if (k == "if") {
            body.push_back(parse_if(kw));
        } else if (k == "for") {
            body.push_back(parse_for(kw));
        } else if (k == "set") {
            body.push_back(parse_set(kw));
        } else if (k == "macro") {
            body.push_back(parse_macro(kw));
        } else if (k == "filter") {
            body.push_back(parse_filter_block(kw));
        } else if (k == "call") {
            body.push_back(parse_call_block(kw));
        } else if (k == "break" || k == "continue") {
            if (loop_depth_ == 0) fail(kw, "'" + k + "' outside of a for loop");
            auto s = node_at<Stmt>(kw);
            s->kind = k == "break" ? StmtKind::Break : StmtKind::Continue;
            expect_block_end();
            body.push_back(std::move(s));
        } else if (k == "generation") {
            // transformers' AssistantTracker extension: {% generation %} marks assistant text for
            // the assistant-token mask; for rendering it is a plain block.
            expect_block_end();
            parse_body(body, {"endgeneration"});
            expect_block_end();
        } else if (k == "elif" || k == "else" || k == "endif" || k == "endfor" || k == "endset" ||
                   k == "endmacro" || k == "endfilter" || k == "endgeneration" || k == "endraw" || k == "endcall") {
            fail(kw, "unexpected '" + k + "' without a matching opening tag");
        } else if (k == "include" || k == "import" || k == "from" || k == "extends" || k == "block" ||
                   k == "do" || k == "with" || k == "autoescape" || k == "trans") {
            fail(kw, "unsupported tag '" + k + "' (chat templates cannot use it)");
        } else {
            fail(kw, "unknown tag '" + k + "'");
        }
    }

    StmtPtr parse_if(const Token& kw) {
        auto s = node_at<Stmt>(kw);
        s->kind = StmtKind::If;
        ExprPtr cond = parse_expression();
        expect_block_end();
        while (true) {
            Body branch;
            std::string end = parse_body(branch, {"elif", "else", "endif"});
            s->branches.emplace_back(std::move(cond), std::move(branch));
            if (end == "elif") {
                cond = parse_expression();
                expect_block_end();
                continue;
            }
            if (end == "else") {
                expect_block_end();
                parse_body(s->else_body, {"endif"});
            }
            expect_block_end();
            return s;
        }
    }

    StmtPtr parse_for(const Token& kw) {
        auto s = node_at<Stmt>(kw);
        s->kind = StmtKind::For;
        s->targets = parse_targets();
        if (!is_name("in")) fail(cur(), "expected 'in' in for loop, got " + describe(cur()));
        next();
        // jinja2 parses the iterable without the inline condition ("with_condexpr=False").
        s->expr = parse_tuple_expression(/*allow_cond=*/false);
        if (is_name("if")) {
            next();
            s->cond = parse_expression();
        }
        if (is_name("recursive")) fail(cur(), "unsupported: recursive for loops");
        expect_block_end();
        ++loop_depth_;
        std::string end = parse_body(s->body, {"else", "endfor"});
        --loop_depth_;
        if (end == "else") {
            expect_block_end();
            parse_body(s->else_body, {"endfor"});
        }
        expect_block_end();
        return s;
    }

    std::vector<std::string> parse_targets() {
        std::vector<std::string> names;
        bool paren = is_op("(");
        if (paren) next();
        names.push_back(expect_name("a loop variable name"));
        while (is_op(",")) {
            next();
            if (cur().type != TokenType::Name) break;
            names.push_back(expect_name("a variable name"));
        }
        if (paren) expect_op(")");
        return names;
    }

    StmtPtr parse_set(const Token& kw) {
        auto s = node_at<Stmt>(kw);
        s->kind = StmtKind::Set;
        std::string first = expect_name("a variable name after 'set'");
        if (is_op(".")) {
            // {% set ns.attr = value %}: assignment to a namespace attribute.
            next();
            s->targets.push_back(first);
            s->text = expect_name("an attribute name");
        } else {
            s->targets.push_back(first);
            while (is_op(",")) {
                next();
                s->targets.push_back(expect_name("a variable name"));
            }
        }
        if (is_op("=")) {
            next();
            s->expr = parse_tuple_expression();
            expect_block_end();
            return s;
        }
        if (cur().type == TokenType::BlockEnd && s->targets.size() == 1 && s->text.empty()) {
            // {% set name %}...{% endset %}
            next();
            s->kind = StmtKind::SetBlock;
            parse_body(s->body, {"endset"});
            expect_block_end();
            return s;
        }
        fail(cur(), "expected '=' in set, got " + describe(cur()));
    }

    StmtPtr parse_macro(const Token& kw) {
        auto s = node_at<Stmt>(kw);
        s->kind = StmtKind::Macro;
        s->text = expect_name("a macro name");
        expect_op("(");
        while (!is_op(")")) {
            std::string param = expect_name("a parameter name");
            ExprPtr def;
            if (is_op("=")) {
                next();
                def = parse_expression();
            }
            s->params.emplace_back(param, std::move(def));
            if (!is_op(",")) break;
            next();
        }
        expect_op(")");
        expect_block_end();
        int saved = loop_depth_;
        loop_depth_ = 0;
        parse_body(s->body, {"endmacro"});
        loop_depth_ = saved;
        if (cur().type == TokenType::Name) next();  // {% endmacro name %}
        expect_block_end();
        return s;
    }

    // {% call macro(args) %}body{% endcall %} or {% call(x, y) macro(args) %}: the body becomes the
    // caller() the macro may invoke.
    StmtPtr parse_call_block(const Token& kw) {
        auto s = node_at<Stmt>(kw);
        s->kind = StmtKind::CallBlock;
        if (is_op("(")) {
            next();
            while (!is_op(")")) {
                std::string param = expect_name("a caller parameter name");
                ExprPtr def;
                if (is_op("=")) {
                    next();
                    def = parse_expression();
                }
                s->params.emplace_back(param, std::move(def));
                if (!is_op(",")) break;
                next();
            }
            expect_op(")");
        }
        const Token at = cur();
        s->expr = parse_expression();
        if (s->expr->kind != ExprKind::Call) fail(at, "expected a macro call after 'call'");
        expect_block_end();
        int saved = loop_depth_;
        loop_depth_ = 0;
        parse_body(s->body, {"endcall"});
        loop_depth_ = saved;
        expect_block_end();
        return s;
    }

    StmtPtr parse_filter_block(const Token& kw) {
        auto s = node_at<Stmt>(kw);
        s->kind = StmtKind::FilterBlock;
        ExprPtr chain;  // Filter nodes whose innermost operand is null: the block's text
        do {
            if (chain) next();  // '|'
            chain = parse_filter(std::move(chain));
        } while (is_op("|"));
        s->expr = std::move(chain);
        expect_block_end();
        parse_body(s->body, {"endfilter"});
        expect_block_end();
        return s;
    }

    // -----------------------------------------------------------------------------------------
    // expressions

    // An expression, or a bare tuple "a, b" (as in {{ a, b }} or set x = 1, 2).
    ExprPtr parse_tuple_expression(bool allow_cond = true) {
        const Token start = cur();
        ExprPtr first = allow_cond ? parse_expression() : parse_or();
        if (!is_op(",")) return first;
        auto tuple = expr_at(ExprKind::Tuple, start);
        tuple->items.push_back(std::move(first));
        while (is_op(",")) {
            next();
            if (cur().type == TokenType::VarEnd || cur().type == TokenType::BlockEnd) break;
            tuple->items.push_back(allow_cond ? parse_expression() : parse_or());
        }
        return tuple;
    }

    ExprPtr parse_expression() {
        ExprPtr e = parse_or();
        while (is_name("if")) {
            const Token t = next();
            auto cond = expr_at(ExprKind::Cond, t);
            cond->a = std::move(e);
            cond->b = parse_or();
            if (is_name("else")) {
                next();
                cond->c = parse_expression();
            }
            e = std::move(cond);
        }
        return e;
    }

    ExprPtr binary(const Token& t, const std::string& op, ExprPtr a, ExprPtr b) {
        auto e = expr_at(ExprKind::Binary, t);
        e->name = op;
        e->a = std::move(a);
        e->b = std::move(b);
        return e;
    }

    ExprPtr parse_or() {
        ExprPtr e = parse_and();
        while (is_name("or")) {
            const Token t = next();
            e = binary(t, "or", std::move(e), parse_and());
        }
        return e;
    }

    ExprPtr parse_and() {
        ExprPtr e = parse_not();
        while (is_name("and")) {
            const Token t = next();
            e = binary(t, "and", std::move(e), parse_not());
        }
        return e;
    }

    ExprPtr parse_not() {
        if (is_name("not")) {
            const Token t = next();
            auto e = expr_at(ExprKind::Unary, t);
            e->name = "not";
            e->a = parse_not();
            return e;
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        const Token start = cur();
        ExprPtr e = parse_math1();
        ExprPtr cmp;
        while (true) {
            std::string op;
            if (cur().type == TokenType::Operator &&
                (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" ||
                 cur().text == "<=" || cur().text == ">=")) {
                op = next().text;
            } else if (is_name("in")) {
                next();
                op = "in";
            } else if (is_name("not") && peek().type == TokenType::Name && peek().text == "in") {
                next();
                next();
                op = "notin";
            } else {
                break;
            }
            if (!cmp) {
                cmp = expr_at(ExprKind::Compare, start);
                cmp->a = std::move(e);
            }
            cmp->ops.push_back(op);
            cmp->items.push_back(parse_math1());
        }
        return cmp ? std::move(cmp) : std::move(e);
    }

    ExprPtr parse_math1() {
        ExprPtr e = parse_concat();
        while (is_op("+") || is_op("-")) {
            const Token t = next();
            e = binary(t, t.text, std::move(e), parse_concat());
        }
        return e;
    }

    ExprPtr parse_concat() {
        ExprPtr e = parse_math2();
        while (is_op("~")) {
            const Token t = next();
            e = binary(t, "~", std::move(e), parse_math2());
        }
        return e;
    }

    ExprPtr parse_math2() {
        ExprPtr e = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const Token t = next();
            e = binary(t, t.text, std::move(e), parse_pow());
        }
        return e;
    }

    ExprPtr parse_pow() {
        ExprPtr e = parse_unary(true);
        while (is_op("**")) {
            const Token t = next();
            e = binary(t, "**", std::move(e), parse_unary(true));
        }
        return e;
    }

    ExprPtr parse_unary(bool with_filter) {
        ExprPtr e;
        if (is_op("-") || is_op("+")) {
            const Token t = next();
            e = expr_at(ExprKind::Unary, t);
            e->name = t.text;
            e->a = parse_unary(false);
        } else {
            e = parse_postfix(parse_primary());
        }
        if (with_filter) e = parse_filter_expr(std::move(e));
        return e;
    }

    ExprPtr parse_primary() {
        const Token t = cur();
        switch (t.type) {
        case TokenType::Name: {
            next();
            auto e = expr_at(ExprKind::Literal, t);
            if (t.text == "true" || t.text == "True") e->literal = Value::boolean(true);
            else if (t.text == "false" || t.text == "False") e->literal = Value::boolean(false);
            else if (t.text == "none" || t.text == "None") e->literal = Value::none();
            else {
                e->kind = ExprKind::Name;
                e->name = t.text;
            }
            return e;
        }
        case TokenType::String: {
            std::string s = next().text;
            while (cur().type == TokenType::String) s += next().text;  // 'a' 'b' == 'ab'
            auto e = expr_at(ExprKind::Literal, t);
            e->literal = Value::string(std::move(s));
            return e;
        }
        case TokenType::Integer: {
            next();
            auto e = expr_at(ExprKind::Literal, t);
            try {
                e->literal = Value::integer(std::stoll(t.text));
            } catch (const std::exception&) {
                fail(t, "integer literal out of range: " + t.text);
            }
            return e;
        }
        case TokenType::Float: {
            next();
            auto e = expr_at(ExprKind::Literal, t);
            e->literal = Value::number(std::stod(t.text));
            return e;
        }
        case TokenType::Operator:
            if (t.text == "(") {
                next();
                if (is_op(")")) {
                    next();
                    return expr_at(ExprKind::Tuple, t);
                }
                ExprPtr first = parse_expression();
                if (is_op(")")) {
                    next();
                    return first;
                }
                auto tuple = expr_at(ExprKind::Tuple, t);
                tuple->items.push_back(std::move(first));
                while (is_op(",")) {
                    next();
                    if (is_op(")")) break;
                    tuple->items.push_back(parse_expression());
                }
                expect_op(")");
                return tuple;
            }
            if (t.text == "[") {
                next();
                auto list = expr_at(ExprKind::List, t);
                while (!is_op("]")) {
                    list->items.push_back(parse_expression());
                    if (!is_op(",")) break;
                    next();
                }
                expect_op("]");
                return list;
            }
            if (t.text == "{") {
                next();
                auto dict = expr_at(ExprKind::Dict, t);
                while (!is_op("}")) {
                    dict->items.push_back(parse_expression());
                    expect_op(":");
                    dict->items.push_back(parse_expression());
                    if (!is_op(",")) break;
                    next();
                }
                expect_op("}");
                return dict;
            }
            break;
        default: break;
        }
        fail(t, "unexpected " + describe(t) + " in expression");
    }

    ExprPtr parse_postfix(ExprPtr e) {
        while (true) {
            if (is_op(".")) {
                const Token t = next();
                auto g = expr_at(ExprKind::GetAttr, t);
                g->a = std::move(e);
                if (cur().type == TokenType::Name) {
                    g->name = next().text;
                } else if (cur().type == TokenType::Integer) {
                    // foo.0 is foo[0] in jinja2
                    g->kind = ExprKind::GetItem;
                    auto idx = expr_at(ExprKind::Literal, cur());
                    idx->literal = Value::integer(std::stoll(next().text));
                    g->b = std::move(idx);
                } else {
                    fail(cur(), "expected an attribute name after '.', got " + describe(cur()));
                }
                e = std::move(g);
            } else if (is_op("[")) {
                const Token t = next();
                e = parse_subscript(t, std::move(e));
            } else if (is_op("(")) {
                const Token t = cur();
                auto call = expr_at(ExprKind::Call, t);
                if (e->kind == ExprKind::Name) {
                    // Errors raised by a function (raise_exception) point at its name.
                    call->line = e->line;
                    call->column = e->column;
                }
                call->a = std::move(e);
                parse_call_args(*call);
                e = std::move(call);
            } else {
                return e;
            }
        }
    }

    ExprPtr parse_subscript(const Token& t, ExprPtr target) {
        // [expr] or [start:stop:step]
        ExprPtr parts[3];
        int part = 0;
        bool slice = false;
        while (true) {
            if (is_op(":")) {
                slice = true;
                next();
                if (++part > 2) fail(cur(), "too many ':' in slice");
                continue;
            }
            if (is_op("]")) break;
            if (parts[part]) fail(cur(), "expected ']' or ':', got " + describe(cur()));
            parts[part] = parse_expression();
        }
        expect_op("]");
        if (!slice) {
            if (!parts[0]) fail(t, "empty subscript");
            auto g = expr_at(ExprKind::GetItem, t);
            g->a = std::move(target);
            g->b = std::move(parts[0]);
            return g;
        }
        auto s = expr_at(ExprKind::Slice, t);
        s->a = std::move(target);
        for (auto& p : parts) s->items.push_back(std::move(p));
        return s;
    }

    void parse_call_args(Expr& call) {
        expect_op("(");
        while (!is_op(")")) {
            if (is_op("*") || is_op("**")) {
                // f(*list, **dict): spread a sequence into positional and a dict into keyword arguments.
                const Token star = next();
                ExprPtr& slot = star.text == "*" ? call.b : call.c;
                if (slot) fail(star, "only one " + star.text + " argument is supported in a call");
                slot = parse_expression();
            } else if (cur().type == TokenType::Name && peek().type == TokenType::Operator && peek().text == "=") {
                std::string key = next().text;
                next();
                call.keywords.emplace_back(key, parse_expression());
            } else {
                if (!call.keywords.empty() || call.b || call.c) fail(cur(), "positional argument after keyword or * argument");
                call.items.push_back(parse_expression());
            }
            if (!is_op(",")) break;
            next();
        }
        expect_op(")");
    }

    ExprPtr parse_filter(ExprPtr operand) {
        const Token t = cur();
        auto f = expr_at(ExprKind::Filter, t);
        f->name = expect_name("a filter name");
        while (is_op(".")) {  // dotted filter names exist in jinja2; none of ours have them
            next();
            f->name += "." + expect_name("a filter name");
        }
        // jinja2 checks filter names when it compiles the template.
        if (!has_filter(f->name)) fail(t, "no filter named '" + f->name + "'");
        f->a = std::move(operand);
        if (is_op("(")) parse_call_args(*f);
        return f;
    }

    ExprPtr parse_filter_expr(ExprPtr e) {
        while (true) {
            if (is_op("|")) {
                next();
                e = parse_filter(std::move(e));
            } else if (is_name("is")) {
                const Token t = next();
                bool negated = false;
                if (is_name("not")) {
                    next();
                    negated = true;
                }
                auto test = expr_at(ExprKind::Test, t);
                const Token name_token = cur();
                test->name = expect_name("a test name after 'is'");
                if (!has_test(test->name)) fail(name_token, "no test named '" + test->name + "'");
                test->a = std::move(e);
                if (is_op("(")) {
                    parse_call_args(*test);
                } else if ((cur().type == TokenType::Name || cur().type == TokenType::String ||
                            cur().type == TokenType::Integer || cur().type == TokenType::Float ||
                            is_op("[") || is_op("{")) &&
                           !is_name("else") && !is_name("or") && !is_name("and") && !is_name("if") &&
                           !is_name("in") && !is_name("not")) {
                    // "x is divisibleby 3", "x is sameas false": one argument without parentheses
                    if (is_name("is")) fail(cur(), "tests cannot be chained with 'is'");
                    test->items.push_back(parse_postfix(parse_primary()));
                }
                if (negated) {
                    auto n = expr_at(ExprKind::Unary, t);
                    n->name = "not";
                    n->a = std::move(test);
                    e = std::move(n);
                } else {
                    e = std::move(test);
                }
            } else if (is_op("(")) {
                const Token t = cur();
                auto call = expr_at(ExprKind::Call, t);
                call->a = std::move(e);
                parse_call_args(*call);
                e = std::move(call);
            } else {
                return e;
            }
        }
    }

    std::vector<Token> toks_;
    size_t pos_ = 0;
    int loop_depth_ = 0;
};

}  // namespace

Template parse_template(const std::string& source) { return Parser(tokenize(source)).run(); }

}  // namespace rlhf::text::jinja
