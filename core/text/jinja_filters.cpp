// Filters (x | name) and tests (x is name) with jinja2 3.1 semantics (jinja2/filters.py,
// jinja2/tests.py), plus transformers' tojson override: json.dumps(x, ensure_ascii=False,
// indent=None, separators=None, sort_keys=False) — no HTML escaping, no key sorting.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "core/text/jinja_builtins.h"
#include "core/text/jinja_strings.h"

namespace rlhf::text::jinja {
namespace {

using FilterFn = Value (*)(const Value& v, CallArgs& a);
using TestFn = bool (*)(const Value& v, CallArgs& a);

// Argument `index` (after the operand) by position or keyword; nullptr when not given.
const Value* arg(CallArgs& a, size_t index, const char* name) {
    if (index < a.positional.size()) return &a.positional[index];
    return a.kwarg(name);
}

bool flag(CallArgs& a, size_t index, const char* name, bool fallback) {
    const Value* v = arg(a, index, name);
    return v ? v->truthy() : fallback;
}

int64_t int_arg(CallArgs& a, size_t index, const char* name, int64_t fallback) {
    const Value* v = arg(a, index, name);
    if (!v || v->is_none()) return fallback;
    if (!v->is_integral()) throw ValueError(std::string("argument '") + name + "' must be an integer, not " + v->type_name());
    return v->as_int();
}

std::string string_arg(CallArgs& a, size_t index, const char* name, const std::string& fallback) {
    const Value* v = arg(a, index, name);
    if (!v || v->is_none()) return fallback;
    return v->str();
}

// jinja2's soft_str: str(value), Undefined -> "".
std::string text_of(const Value& v) { return v.str(); }

void need_defined(const Value& v) {
    if (v.is_undefined()) throw ValueError(undefined_message(v));
}

// jinja2 make_attrgetter: "a.b.0" looks up item by item; integers index lists.
Value attribute_path(const Value& item, const std::string& path) {
    Value cur = item;
    size_t pos = 0;
    while (pos <= path.size()) {
        size_t dot = path.find('.', pos);
        std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
        bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
        cur = get_item(cur, numeric ? Value::integer(std::stoll(part)) : Value::string(part));
        if (dot == std::string::npos) break;
        pos = dot + 1;
    }
    return cur;
}

// Sort key with jinja2's ignore_case: strings lower-cased unless case_sensitive.
Value sort_key(const Value& item, const std::string& attribute, bool case_sensitive) {
    Value k = attribute.empty() ? item : attribute_path(item, attribute);
    if (!case_sensitive && k.is_string()) k = Value::string(py_lower(k.s));
    return k;
}

List as_list(const Value& v) { return iterate(v); }

// --------------------------------------------------------------------------------------------
// filters

Value f_abs(const Value& v, CallArgs&) {
    need_defined(v);
    if (v.kind == Kind::Float) return Value::number(std::fabs(v.f));
    if (v.is_integral()) return Value::integer(std::llabs(v.as_int()));
    throw ValueError("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_attr(const Value& v, CallArgs& a) { return get_attribute(v, string_arg(a, 0, "name", "")); }

Value f_batch(const Value& v, CallArgs& a) {
    int64_t n = int_arg(a, 0, "linecount", 1);
    if (n <= 0) throw ValueError("batch size must be positive");
    const Value* fill = arg(a, 1, "fill_with");
    List out, cur;
    for (const Value& item : as_list(v)) {
        cur.push_back(item);
        if (static_cast<int64_t>(cur.size()) == n) {
            out.push_back(Value::make_list(std::move(cur)));
            cur.clear();
        }
    }
    if (!cur.empty()) {
        if (fill && !fill->is_none())
            while (static_cast<int64_t>(cur.size()) < n) cur.push_back(*fill);
        out.push_back(Value::make_list(std::move(cur)));
    }
    return Value::make_list(std::move(out));
}

Value f_capitalize(const Value& v, CallArgs&) { return Value::string(py_capitalize(text_of(v))); }

Value f_default(const Value& v, CallArgs& a) {
    bool boolean = flag(a, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !v.truthy())) {
        const Value* d = arg(a, 0, "default_value");
        return d ? *d : Value::string("");
    }
    return v;
}

Value f_dictsort(const Value& v, CallArgs& a) {
    if (!v.is_dict()) throw ValueError("dictsort expects a dict, not " + v.type_name());
    bool case_sensitive = flag(a, 0, "case_sensitive", false);
    std::string by = string_arg(a, 1, "by", "key");
    bool reverse = flag(a, 2, "reverse", false);
    if (by != "key" && by != "value") throw ValueError("You can only sort by either 'key' or 'value'");
    size_t pos = by == "key" ? 0 : 1;
    List items;
    for (const auto& kv : v.dict->items) items.push_back(Value::make_tuple({Value::string(kv.first), kv.second}));
    auto key = [&](const Value& item) {
        Value k = (*item.list)[pos];
        if (!case_sensitive && k.is_string()) k = Value::string(py_lower(k.s));
        return k;
    };
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        return reverse ? less_than(key(y), key(x)) : less_than(key(x), key(y));
    });
    return Value::make_list(std::move(items));
}

Value f_escape(const Value& v, CallArgs&) {
    std::string out;
    for (char c : text_of(v)) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return Value::string(out);
}

Value f_first(const Value& v, CallArgs&) {
    List items = as_list(v);
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    return items.front();
}

Value f_last(const Value& v, CallArgs&) {
    List items = as_list(v);
    if (items.empty()) return Value::undefined("No last item, sequence was empty.");
    return items.back();
}

// Python float(str): surrounding whitespace allowed, underscores between digits, inf/nan.
bool parse_float(const std::string& text, double& out) {
    std::string s = py_strip(text, std::nullopt, true, true);
    std::string clean;
    for (size_t k = 0; k < s.size(); ++k) {
        if (s[k] == '_' && k > 0 && k + 1 < s.size() && ::isdigit(static_cast<unsigned char>(s[k - 1])) &&
            ::isdigit(static_cast<unsigned char>(s[k + 1])))
            continue;
        clean += s[k];
    }
    if (clean.empty()) return false;
    std::string lower = py_lower(clean);
    std::string body = (lower[0] == '+' || lower[0] == '-') ? lower.substr(1) : lower;
    if (body == "inf" || body == "infinity" || body == "nan") {
        out = std::strtod(lower.c_str(), nullptr);
        return true;
    }
    if (body.empty() || (!::isdigit(static_cast<unsigned char>(body[0])) && body[0] != '.')) return false;
    if (body.find_first_not_of("0123456789.e+-") != std::string::npos) return false;
    char* end = nullptr;
    out = std::strtod(clean.c_str(), &end);
    return end && *end == '\0';
}

Value f_float(const Value& v, CallArgs& a) {
    const Value* d = arg(a, 0, "default");
    Value fallback = d ? *d : Value::number(0.0);
    need_defined(v);
    if (v.is_number()) return Value::number(v.as_double());
    double x;
    if (v.is_string() && parse_float(v.s, x)) return Value::number(x);
    return fallback;
}

Value f_int(const Value& v, CallArgs& a) {
    const Value* d = arg(a, 0, "default");
    Value fallback = d ? *d : Value::integer(0);
    int64_t base = int_arg(a, 1, "base", 10);
    need_defined(v);
    if (v.is_integral()) return Value::integer(v.as_int());
    if (v.kind == Kind::Float) {
        if (!std::isfinite(v.f)) return fallback;
        return Value::integer(static_cast<int64_t>(std::trunc(v.f)));
    }
    if (v.is_string()) {
        std::string s = py_strip(v.s, std::nullopt, true, true);
        std::string clean;
        for (char c : s)
            if (c != '_') clean += c;
        if (!clean.empty()) {
            char* end = nullptr;
            errno = 0;
            long long x = std::strtoll(clean.c_str(), &end, static_cast<int>(base));
            if (end && *end == '\0' && errno == 0) return Value::integer(x);
        }
        // jinja2's quirk: "42.23" | int is int(float("42.23")) == 42
        double f;
        if (parse_float(v.s, f) && std::isfinite(f)) return Value::integer(static_cast<int64_t>(std::trunc(f)));
    }
    return fallback;
}

Value f_indent(const Value& v, CallArgs& a) {
    if (!v.is_string()) throw ValueError("indent expects a string, not " + v.type_name());
    const Value* w = arg(a, 0, "width");
    std::string indention = (w && w->is_string()) ? w->s : std::string(static_cast<size_t>(std::max<int64_t>(0, int_arg(a, 0, "width", 4))), ' ');
    bool first = flag(a, 1, "first", false);
    bool blank = flag(a, 2, "blank", false);
    std::string s = v.s + "\n";  // jinja2: "this quirk is necessary for splitlines method"
    std::vector<std::string> lines = py_splitlines(s);
    std::string rv;
    if (blank) {
        for (size_t k = 0; k < lines.size(); ++k) rv += (k ? "\n" + indention : std::string()) + lines[k];
    } else {
        rv = lines.empty() ? std::string() : lines[0];
        for (size_t k = 1; k < lines.size(); ++k) rv += "\n" + (lines[k].empty() ? lines[k] : indention + lines[k]);
    }
    if (first) rv = indention + rv;
    return Value::string(rv);
}

Value f_items(const Value& v, CallArgs&) {
    if (v.is_undefined()) return Value::make_list();
    if (!v.is_dict()) throw ValueError("Can only get item pairs from a mapping.");
    List out;
    for (const auto& kv : v.dict->items) out.push_back(Value::make_tuple({Value::string(kv.first), kv.second}));
    return Value::make_list(std::move(out));
}

Value f_join(const Value& v, CallArgs& a) {
    std::string sep = string_arg(a, 0, "d", "");
    std::string attribute = string_arg(a, 1, "attribute", "");
    std::string out;
    bool first = true;
    for (const Value& item : as_list(v)) {
        if (!first) out += sep;
        out += (attribute.empty() ? item : attribute_path(item, attribute)).str();
        first = false;
    }
    return Value::string(out);
}

Value f_length(const Value& v, CallArgs&) { return Value::integer(length(v)); }

Value f_list(const Value& v, CallArgs&) { return Value::make_list(as_list(v)); }

Value f_lower(const Value& v, CallArgs&) { return Value::string(py_lower(text_of(v))); }
Value f_upper(const Value& v, CallArgs&) { return Value::string(py_upper(text_of(v))); }
Value f_title(const Value& v, CallArgs&) { return Value::string(jinja_title(text_of(v))); }
Value f_string(const Value& v, CallArgs&) { return Value::string(text_of(v)); }
Value f_safe(const Value& v, CallArgs&) { return v; }

Value f_map(const Value& v, CallArgs& a) {
    List out;
    if (const Value* attribute = a.kwarg("attribute")) {
        const Value* fallback = a.kwarg("default");
        for (const Value& item : as_list(v)) {
            Value x = attribute_path(item, attribute->str());
            if (x.is_undefined() && fallback) x = *fallback;
            out.push_back(x);
        }
        return Value::make_list(std::move(out));
    }
    if (a.positional.empty() || !a.positional[0].is_string()) throw ValueError("map: expected a filter name or attribute=");
    std::string name = a.positional[0].s;
    CallArgs rest;
    rest.positional.assign(a.positional.begin() + 1, a.positional.end());
    rest.keyword = a.keyword;
    for (const Value& item : as_list(v)) {
        CallArgs copy = rest;
        out.push_back(apply_filter(name, item, copy));
    }
    return Value::make_list(std::move(out));
}

Value min_max(const Value& v, CallArgs& a, bool want_max) {
    bool case_sensitive = flag(a, 0, "case_sensitive", false);
    std::string attribute = string_arg(a, 1, "attribute", "");
    List items = as_list(v);
    if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
    size_t best = 0;
    for (size_t k = 1; k < items.size(); ++k) {
        Value x = sort_key(items[k], attribute, case_sensitive), b = sort_key(items[best], attribute, case_sensitive);
        if (want_max ? less_than(b, x) : less_than(x, b)) best = k;
    }
    return items[best];
}
Value f_max(const Value& v, CallArgs& a) { return min_max(v, a, true); }
Value f_min(const Value& v, CallArgs& a) { return min_max(v, a, false); }

Value select_impl(const Value& v, CallArgs& a, bool by_attribute, bool keep) {
    size_t at = 0;
    std::string attribute;
    if (by_attribute) {
        if (a.positional.empty()) throw ValueError("selectattr/rejectattr need an attribute name");
        attribute = a.positional[0].str();
        at = 1;
    }
    std::string test;
    CallArgs test_args;
    if (a.positional.size() > at) {
        test = a.positional[at].str();
        test_args.positional.assign(a.positional.begin() + static_cast<long>(at) + 1, a.positional.end());
        test_args.keyword = a.keyword;
    }
    List out;
    for (const Value& item : as_list(v)) {
        Value x = by_attribute ? attribute_path(item, attribute) : item;
        CallArgs copy = test_args;
        bool ok = test.empty() ? x.truthy() : apply_test(test, x, copy);
        if (ok == keep) out.push_back(item);
    }
    return Value::make_list(std::move(out));
}
Value f_select(const Value& v, CallArgs& a) { return select_impl(v, a, false, true); }
Value f_reject(const Value& v, CallArgs& a) { return select_impl(v, a, false, false); }
Value f_selectattr(const Value& v, CallArgs& a) { return select_impl(v, a, true, true); }
Value f_rejectattr(const Value& v, CallArgs& a) { return select_impl(v, a, true, false); }

Value f_replace(const Value& v, CallArgs& a) {
    const Value* old = arg(a, 0, "old");
    const Value* repl = arg(a, 1, "new");
    if (!old || !repl) throw ValueError("replace needs 'old' and 'new'");
    return Value::string(py_replace(text_of(v), old->str(), repl->str(), int_arg(a, 2, "count", -1)));
}

Value f_reverse(const Value& v, CallArgs&) {
    if (v.is_string()) {
        auto cps = utf8_decode(v.s);
        std::reverse(cps.begin(), cps.end());
        return Value::string(utf8_encode(cps));
    }
    List items = as_list(v);
    std::reverse(items.begin(), items.end());
    return Value::make_list(std::move(items));
}

Value f_round(const Value& v, CallArgs& a) {
    need_defined(v);
    if (!v.is_number()) throw ValueError("round expects a number, not " + v.type_name());
    int64_t precision = int_arg(a, 0, "precision", 0);
    std::string method = string_arg(a, 1, "method", "common");
    double scale = std::pow(10.0, static_cast<double>(precision));
    if (method == "common") {
        // Python round(): an int stays an int; floats round half to even.
        if (v.is_integral()) return Value::integer(v.as_int());
        if (precision > 0 && precision < 300 && std::isfinite(v.f)) {
            // Python rounds the exact binary value to decimal (2.675 -> 2.67, as 2.675 is
            // 2.67499999...); glibc's printf does the same correctly rounded conversion.
            char buf[512];
            std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), v.f);
            return Value::number(std::strtod(buf, nullptr));
        }
        return Value::number(std::nearbyint(v.f * scale) / scale);
    }
    if (method == "ceil") return Value::number(std::ceil(v.as_double() * scale) / scale);
    if (method == "floor") return Value::number(std::floor(v.as_double() * scale) / scale);
    throw ValueError("method must be common, ceil or floor");
}

Value f_sort(const Value& v, CallArgs& a) {
    bool reverse = flag(a, 0, "reverse", false);
    bool case_sensitive = flag(a, 1, "case_sensitive", false);
    std::string attribute = string_arg(a, 2, "attribute", "");
    List items = as_list(v);
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        Value kx = sort_key(x, attribute, case_sensitive), ky = sort_key(y, attribute, case_sensitive);
        return reverse ? less_than(ky, kx) : less_than(kx, ky);
    });
    return Value::make_list(std::move(items));
}

Value f_sum(const Value& v, CallArgs& a) {
    std::string attribute = string_arg(a, 0, "attribute", "");
    const Value* start = arg(a, 1, "start");
    Value total = start ? *start : Value::integer(0);
    for (const Value& item : as_list(v)) {
        Value x = attribute.empty() ? item : attribute_path(item, attribute);
        if (!x.is_number() || !total.is_number())
            throw ValueError("unsupported operand type(s) for +: '" + total.type_name() + "' and '" + x.type_name() + "'");
        if (x.kind == Kind::Float || total.kind == Kind::Float) total = Value::number(total.as_double() + x.as_double());
        else total = Value::integer(total.as_int() + x.as_int());
    }
    return total;
}

Value f_tojson(const Value& v, CallArgs& a) {
    JsonOptions o;
    o.ensure_ascii = flag(a, 0, "ensure_ascii", false);
    if (const Value* indent = arg(a, 1, "indent"); indent && !indent->is_none()) {
        if (indent->is_string()) o.indent_string = indent->s;
        else if (indent->is_integral()) o.indent = static_cast<int>(std::max<int64_t>(0, indent->as_int()));
        else throw ValueError("tojson: indent must be an integer or a string");
        if (indent->is_string() && indent->s.empty()) o.indent = 0;
    }
    if (const Value* sep = arg(a, 2, "separators"); sep && !sep->is_none()) {
        if (!sep->is_list() || sep->list->size() != 2) throw ValueError("tojson: separators must be a pair of strings");
        o.item_separator = (*sep->list)[0].str();
        o.key_separator = (*sep->list)[1].str();
        o.custom_separators = true;
    }
    o.sort_keys = flag(a, 3, "sort_keys", false);
    try {
        return Value::string(to_python_json(v, o));
    } catch (const std::invalid_argument& e) {
        throw ValueError(e.what());
    }
}

Value f_trim(const Value& v, CallArgs& a) {
    const Value* chars = arg(a, 0, "chars");
    std::optional<std::string> set;
    if (chars && !chars->is_none()) set = chars->str();
    return Value::string(py_strip(text_of(v), set, true, true));
}

Value f_unique(const Value& v, CallArgs& a) {
    bool case_sensitive = flag(a, 0, "case_sensitive", false);
    std::string attribute = string_arg(a, 1, "attribute", "");
    List out, seen;
    for (const Value& item : as_list(v)) {
        Value k = sort_key(item, attribute, case_sensitive);
        if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) continue;
        seen.push_back(k);
        out.push_back(item);
    }
    return Value::make_list(std::move(out));
}

Value f_wordcount(const Value& v, CallArgs&) {
    int64_t n = 0;
    bool in_word = false;
    for (uint32_t cp : utf8_decode(text_of(v))) {
        bool word = py_is_word_char(cp);  // jinja2: len(re.findall(r"\w+", s))
        if (word && !in_word) ++n;
        in_word = word;
    }
    return Value::integer(n);
}

// Python's printf-style "fmt % args" for %s %r %d %i %f %x %% with flags, width and precision.
Value f_format(const Value& v, CallArgs& a) {
    std::string fmt = text_of(v), out;
    size_t next_arg = 0;
    for (size_t k = 0; k < fmt.size(); ++k) {
        if (fmt[k] != '%') {
            out += fmt[k];
            continue;
        }
        size_t e = k + 1;
        while (e < fmt.size() && std::string("-+ 0#").find(fmt[e]) != std::string::npos) ++e;
        while (e < fmt.size() && ::isdigit(static_cast<unsigned char>(fmt[e]))) ++e;
        if (e < fmt.size() && fmt[e] == '.') {
            ++e;
            while (e < fmt.size() && ::isdigit(static_cast<unsigned char>(fmt[e]))) ++e;
        }
        if (e >= fmt.size()) throw ValueError("format: incomplete format");
        char type = fmt[e];
        std::string spec = fmt.substr(k, e - k);
        if (type == '%') {
            out += '%';
            k = e;
            continue;
        }
        if (next_arg >= a.positional.size()) throw ValueError("format: not enough arguments for format string");
        const Value& x = a.positional[next_arg++];
        char buf[512];
        if (type == 's' || type == 'r') {
            std::string s = type == 's' ? x.str() : x.repr();
            std::snprintf(buf, sizeof buf, (spec + "s").c_str(), s.c_str());
        } else if (type == 'd' || type == 'i' || type == 'x' || type == 'X' || type == 'o') {
            if (!x.is_number()) throw ValueError("format: %" + std::string(1, type) + " format: a number is required");
            long long n = x.kind == Kind::Float ? static_cast<long long>(std::trunc(x.f)) : x.as_int();
            std::snprintf(buf, sizeof buf, (spec + "ll" + std::string(1, type == 'i' ? 'd' : type)).c_str(), n);
        } else if (type == 'f' || type == 'F' || type == 'e' || type == 'E' || type == 'g' || type == 'G') {
            if (!x.is_number()) throw ValueError("format: must be real number, not " + x.type_name());
            std::snprintf(buf, sizeof buf, (spec + std::string(1, type)).c_str(), x.as_double());
        } else {
            throw ValueError(std::string("format: unsupported format character '") + type + "'");
        }
        out += buf;
        k = e;
    }
    if (next_arg < a.positional.size()) throw ValueError("format: not all arguments converted during string formatting");
    return Value::string(out);
}

const std::map<std::string, FilterFn>& filters() {
    static const std::map<std::string, FilterFn> table = {
        {"abs", f_abs},         {"attr", f_attr},       {"batch", f_batch},
        {"capitalize", f_capitalize}, {"count", f_length}, {"d", f_default},
        {"default", f_default}, {"dictsort", f_dictsort}, {"e", f_escape},
        {"escape", f_escape},   {"first", f_first},     {"float", f_float},
        {"format", f_format},   {"indent", f_indent},   {"int", f_int},
        {"items", f_items},     {"join", f_join},       {"last", f_last},
        {"length", f_length},   {"list", f_list},       {"lower", f_lower},
        {"map", f_map},         {"max", f_max},         {"min", f_min},
        {"reject", f_reject},   {"rejectattr", f_rejectattr}, {"replace", f_replace},
        {"reverse", f_reverse}, {"round", f_round},     {"safe", f_safe},
        {"select", f_select},   {"selectattr", f_selectattr}, {"sort", f_sort},
        {"string", f_string},   {"sum", f_sum},         {"title", f_title},
        {"tojson", f_tojson},   {"trim", f_trim},       {"unique", f_unique},
        {"upper", f_upper},     {"wordcount", f_wordcount},
    };
    return table;
}

// --------------------------------------------------------------------------------------------
// tests

const Value& test_arg(CallArgs& a, const char* test) {
    if (a.positional.empty()) throw ValueError(std::string("test '") + test + "' needs an argument");
    return a.positional[0];
}

bool t_defined(const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(const Value& v, CallArgs&) { return v.is_none(); }
bool t_string(const Value& v, CallArgs&) { return v.is_string(); }
bool t_number(const Value& v, CallArgs&) { return v.is_number(); }
bool t_integer(const Value& v, CallArgs&) { return v.kind == Kind::Int; }
bool t_float(const Value& v, CallArgs&) { return v.kind == Kind::Float; }
bool t_boolean(const Value& v, CallArgs&) { return v.kind == Kind::Bool; }
bool t_true(const Value& v, CallArgs&) { return v.kind == Kind::Bool && v.b; }
bool t_false(const Value& v, CallArgs&) { return v.kind == Kind::Bool && !v.b; }
bool t_mapping(const Value& v, CallArgs&) { return v.is_dict(); }
bool t_callable(const Value& v, CallArgs&) { return v.kind == Kind::Callable; }
// jinja2: iter(value) succeeds; Undefined iterates (as empty), so it is iterable.
bool t_iterable(const Value& v, CallArgs&) {
    return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
}
// jinja2: len(value) and value.__getitem__ exist; Undefined has both.
bool t_sequence(const Value& v, CallArgs& a) { return t_iterable(v, a); }
bool t_even(const Value& v, CallArgs&) {
    need_defined(v);
    if (!v.is_integral()) throw ValueError("test 'even' needs an integer, not " + v.type_name());
    return v.as_int() % 2 == 0;
}
bool t_odd(const Value& v, CallArgs& a) { return !t_even(v, a); }
bool t_divisibleby(const Value& v, CallArgs& a) {
    const Value& n = test_arg(a, "divisibleby");
    need_defined(v);
    if (!v.is_integral() || !n.is_integral()) throw ValueError("test 'divisibleby' needs integers");
    if (n.as_int() == 0) throw ValueError("integer division or modulo by zero");
    int64_t r = v.as_int() % n.as_int();
    return r == 0;
}
bool t_eq(const Value& v, CallArgs& a) { return equals(v, test_arg(a, "eq")); }
bool t_ne(const Value& v, CallArgs& a) { return !equals(v, test_arg(a, "ne")); }
bool t_lt(const Value& v, CallArgs& a) { return less_than(v, test_arg(a, "lt")); }
bool t_gt(const Value& v, CallArgs& a) { return less_than(test_arg(a, "gt"), v); }
bool t_le(const Value& v, CallArgs& a) { return !less_than(test_arg(a, "le"), v); }
bool t_ge(const Value& v, CallArgs& a) { return !less_than(v, test_arg(a, "ge")); }
bool t_in(const Value& v, CallArgs& a) { return contains(test_arg(a, "in"), v); }
bool t_lower(const Value& v, CallArgs&) {
    std::string s = text_of(v);
    return py_lower(s) == s && py_upper(s) != s;
}
bool t_upper(const Value& v, CallArgs&) {
    std::string s = text_of(v);
    return py_upper(s) == s && py_lower(s) != s;
}
// Python `is`: identity. None/True/False are singletons; containers compare by reference.
bool t_sameas(const Value& v, CallArgs& a) {
    const Value& o = test_arg(a, "sameas");
    if (v.kind != o.kind) return false;
    switch (v.kind) {
    case Kind::List: return v.list == o.list;
    case Kind::Dict:
    case Kind::Namespace: return v.dict == o.dict;
    case Kind::Callable: return v.fn == o.fn;
    default: return equals(v, o);
    }
}
bool t_filter(const Value& v, CallArgs&) { return v.is_string() && has_filter(v.s); }
bool t_test(const Value& v, CallArgs&) { return v.is_string() && has_test(v.s); }

const std::map<std::string, TestFn>& tests() {
    static const std::map<std::string, TestFn> table = {
        {"boolean", t_boolean}, {"callable", t_callable}, {"defined", t_defined},
        {"divisibleby", t_divisibleby}, {"eq", t_eq}, {"equalto", t_eq}, {"==", t_eq},
        {"even", t_even},       {"false", t_false},     {"filter", t_filter},
        {"float", t_float},     {"ge", t_ge},           {">=", t_ge},
        {"gt", t_gt},           {"greaterthan", t_gt},  {">", t_gt},
        {"in", t_in},           {"integer", t_integer}, {"iterable", t_iterable},
        {"le", t_le},           {"<=", t_le},           {"lower", t_lower},
        {"lt", t_lt},           {"lessthan", t_lt},     {"<", t_lt},
        {"mapping", t_mapping}, {"ne", t_ne},           {"!=", t_ne},
        {"none", t_none},       {"number", t_number},   {"odd", t_odd},
        {"sameas", t_sameas},   {"sequence", t_sequence}, {"string", t_string},
        {"test", t_test},       {"true", t_true},       {"undefined", t_undefined},
        {"upper", t_upper},
    };
    return table;
}

}  // namespace

bool has_filter(const std::string& name) { return filters().count(name) != 0; }
bool has_test(const std::string& name) { return tests().count(name) != 0; }

Value apply_filter(const std::string& name, const Value& operand, CallArgs& args) {
    auto it = filters().find(name);
    if (it == filters().end()) throw ValueError("no filter named '" + name + "'");
    return it->second(operand, args);
}

bool apply_test(const std::string& name, const Value& operand, CallArgs& args) {
    auto it = tests().find(name);
    if (it == tests().end()) throw ValueError("no test named '" + name + "'");
    return it->second(operand, args);
}

}  // namespace rlhf::text::jinja
