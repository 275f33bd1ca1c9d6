// jinja::Value — the dynamic value a chat template computes with, modelled on the Python objects
// jinja2 sees when transformers' apply_chat_template renders (str, int, float, bool, None, list,
// dict, jinja2's Undefined and namespace, callables). Printing, truthiness, equality and JSON
// follow Python so rendered text is byte-identical to transformers (str(1.0) == "1.0",
// str(True) == "True", str(None) == "None", repr for lists and dicts).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlhf::text::jinja {

struct Value;
using List = std::vector<Value>;

// A Python dict with string keys, in insertion order (Python dicts keep it, and tojson prints it).
struct Dict {
    std::vector<std::pair<std::string, Value>> items;
    const Value* find(const std::string& key) const;
    Value* find(const std::string& key);
    void set(const std::string& key, Value value);
};

// Arguments of a call: positional then keyword, as written at the call site.
struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
    const Value* kwarg(const std::string& name) const;
};

using Function = std::function<Value(CallArgs&)>;

enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable };

struct Value {
    Kind kind = Kind::Undefined;
    bool b = false;                   // Bool
    int64_t i = 0;                    // Int
    double f = 0.0;                   // Float
    std::string s;                    // String; for Undefined the missing name (for errors)
    std::shared_ptr<List> list;       // List (tuples too: Python reference semantics)
    bool tuple = false;               // List that Python would show as a tuple: (1, 2)
    std::shared_ptr<Dict> dict;       // Dict and Namespace (namespace attributes)
    std::shared_ptr<Function> fn;     // Callable

    static Value undefined(std::string name = {});
    static Value none();
    static Value boolean(bool v);
    static Value integer(int64_t v);
    static Value number(double v);
    static Value string(std::string v);
    static Value make_list(List v = {});
    static Value make_tuple(List v);
    static Value make_dict(Dict v = {});
    static Value make_namespace(Dict v = {});
    static Value callable(Function fn);

    bool is_undefined() const { return kind == Kind::Undefined; }
    bool is_none() const { return kind == Kind::None; }
    bool is_string() const { return kind == Kind::String; }
    bool is_list() const { return kind == Kind::List; }
    bool is_dict() const { return kind == Kind::Dict; }
    // int, float or bool (Python: bool is an int).
    bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
    // int or bool, usable as an index.
    bool is_integral() const { return kind == Kind::Int || kind == Kind::Bool; }
    int64_t as_int() const { return kind == Kind::Bool ? (b ? 1 : 0) : i; }
    double as_double() const { return kind == Kind::Float ? f : static_cast<double>(as_int()); }

    // Python bool(x); Undefined is false.
    bool truthy() const;
    // Python str(x) (what {{ x }} prints); Undefined prints "".
    std::string str() const;
    // Python repr(x) (how str() shows list elements and dict entries).
    std::string repr() const;
    // Python's type name for messages ("str", "int", "list", "dict", "NoneType", "Undefined").
    std::string type_name() const;
};

// Python ==, deep for lists and dicts; 1 == 1.0 == True; Undefined equals only Undefined.
bool equals(const Value& a, const Value& b);

// Python repr(float): shortest text that reads back to the same double ("1.0", "1e-05", "inf").
std::string python_float_repr(double v);

// Options of transformers' tojson override: json.dumps(x, ensure_ascii=False, indent=None,
// separators=None, sort_keys=False).
struct JsonOptions {
    int indent = -1;                  // -1: one line; >= 0: newline and this many spaces per level
    std::string indent_string;        // used instead of spaces when indent was given as a string
    bool ensure_ascii = false;        // escape non-ASCII as \uXXXX
    bool sort_keys = false;           // sort dict keys
    std::string item_separator;       // default ", " (one line) or "," (indented)
    std::string key_separator = ": ";
    bool custom_separators = false;   // separators given: use item_separator even when empty
};
// json.dumps(x, ...) with Python's formatting; throws std::invalid_argument for values JSON
// cannot hold (Undefined, callables), naming the type.
std::string to_python_json(const Value& v, const JsonOptions& options);

// Values from JSON: objects keep their key order (nlohmann::ordered_json keeps the caller's,
// nlohmann::json has sorted them already).
Value from_json(const nlohmann::json& j);
Value from_json(const nlohmann::ordered_json& j);

// UTF-8 helpers: Python indexes strings by code point.
std::vector<uint32_t> utf8_decode(const std::string& s);
std::string utf8_encode(const std::vector<uint32_t>& cps, size_t begin = 0, size_t end = SIZE_MAX);
void utf8_append(std::string& out, uint32_t cp);

}  // namespace rlhf::text::jinja
