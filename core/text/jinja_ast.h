// Syntax tree of a chat template: expressions (Expr) and statements (Stmt), each with the line and
// column it came from so runtime errors can point at the template.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/text/jinja_value.h"

namespace rlhf::text::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
    Literal,   // literal
    Name,      // name
    List,      // items
    Tuple,     // items
    Dict,      // items: key, value, key, value, ...
    GetAttr,   // a.name
    GetItem,   // a[b]
    Slice,     // a[items[0] : items[1] : items[2]] (null parts allowed)
    Call,      // a(items..., keywords...), b: *args, c: **kwargs (null when absent)
    Filter,    // a | name(items..., keywords...)
    Test,      // a is name(items..., keywords...)
    Unary,     // name ("not", "-", "+") applied to a
    Binary,    // a name b: or, and, +, -, *, /, //, %, **, ~
    Compare,   // a ops[0] items[0] ops[1] items[1] ...: ==, !=, <, >, <=, >=, in, notin
    Cond,      // a if b else c (c may be null: Undefined)
};

struct Expr {
    ExprKind kind;
    int line = 0, column = 0;
    std::string name;                                    // name, attribute, filter/test, operator
    Value literal;                                       // Literal
    ExprPtr a, b, c;
    std::vector<ExprPtr> items;                          // elements / positional args / operands
    std::vector<std::pair<std::string, ExprPtr>> keywords;  // keyword args
    std::vector<std::string> ops;                        // Compare operators
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind {
    Text,       // text
    Output,     // {{ expr }}
    If,         // branches (cond, body); else_body
    For,        // for targets in expr [if cond] body [else else_body]
    Set,        // set targets = expr; or set targets[0].attr = expr (namespace)
    SetBlock,   // set targets[0] %}body{% endset
    Macro,      // macro name(params = defaults) body
    FilterBlock,  // filter expr(Filter on a null operand) body
    CallBlock,  // call(params) expr %}body{% endcall: expr is a Call; body is the macro's caller()
    Break,
    Continue,
};

struct Stmt {
    StmtKind kind;
    int line = 0, column = 0;
    std::string text;                                    // Text; Macro name; Set attribute
    ExprPtr expr;                                        // Output / For iterable / Set value
    ExprPtr cond;                                        // For inline filter
    std::vector<std::string> targets;                    // For / Set names
    std::vector<std::pair<ExprPtr, Body>> branches;      // If
    Body body, else_body;
    std::vector<std::pair<std::string, ExprPtr>> params;  // Macro parameters and defaults
};

// A parsed template. Throws TemplateError from parse_template with line and column.
struct Template {
    Body body;
};

Template parse_template(const std::string& source);

}  // namespace rlhf::text::jinja
