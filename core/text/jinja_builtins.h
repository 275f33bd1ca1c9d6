// What a chat template can call without defining it: filters (x | trim), tests (x is string),
// attribute/item access with Python's str/dict/list methods, and the globals transformers and
// jinja2 provide (range, namespace, dict, raise_exception, strftime_now). Semantics follow jinja2
// 3.1's filters.py/tests.py and Python's built-in types; errors throw ValueError, which the
// evaluator turns into a TemplateError at the expression's line and column.
#pragma once
#include <stdexcept>
#include <string>

#include "core/text/jinja_value.h"

namespace rlhf::text::jinja {

// A runtime error without a position yet (the evaluator adds it).
class ValueError : public std::runtime_error {
public:
    explicit ValueError(const std::string& what) : std::runtime_error(what) {}
};

// Raised by raise_exception(msg) in a template: the message is the template author's.
class RaisedError : public ValueError {
public:
    explicit RaisedError(const std::string& what) : ValueError(what) {}
};

// jinja2 Environment.getattr / getitem: attribute first for x.name, item first for x[key];
// a missing one gives Undefined (which only errors when used).
Value get_attribute(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
// Python slicing obj[start:stop:step] of str or list; null parts are None.
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// Error text for using an Undefined (attribute, call, arithmetic, iteration of its attribute).
std::string undefined_message(const Value& v);

// Python iteration: list items, dict keys, str characters; Undefined iterates as empty.
List iterate(const Value& v);
// Python `needle in haystack`.
bool contains(const Value& haystack, const Value& needle);
// Python len(); Undefined has length 0.
int64_t length(const Value& v);

bool has_filter(const std::string& name);
bool has_test(const std::string& name);
Value apply_filter(const std::string& name, const Value& operand, CallArgs& args);
bool apply_test(const std::string& name, const Value& operand, CallArgs& args);

// Python's < for numbers, strings and lists; throws ValueError for other pairs.
bool less_than(const Value& a, const Value& b);

// Globals every template sees (range, namespace, dict, raise_exception, strftime_now).
Dict builtin_globals();

}  // namespace rlhf::text::jinja
