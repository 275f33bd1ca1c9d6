// Attribute and item access, Python str/dict/list methods, iteration, `in`, len, ordering and the
// global functions of a chat template (jinja2 sandbox + transformers' additions).
#include <algorithm>
#include <cmath>
#include <ctime>

#include "core/text/jinja_builtins.h"
#include "core/text/jinja_strings.h"

namespace rlhf::text::jinja {
namespace {

const Value* arg(CallArgs& a, size_t index, const char* name) {
    if (index < a.positional.size()) return &a.positional[index];
    return a.kwarg(name);
}

std::string need_string(const Value* v, const std::string& what) {
    if (!v || !v->is_string())
        throw ValueError(what + " must be a string, not " + (v ? v->type_name() : std::string("missing")));
    return v->s;
}

std::optional<std::string> optional_string(const Value* v, const std::string& what) {
    if (!v || v->is_none()) return std::nullopt;
    return need_string(v, what);
}

int64_t optional_int(const Value* v, int64_t fallback, const std::string& what) {
    if (!v || v->is_none()) return fallback;
    if (!v->is_integral()) throw ValueError(what + " must be an integer, not " + v->type_name());
    return v->as_int();
}

// Python's index normalisation for str.find/count ranges.
void clamp_range(int64_t n, const Value* start, const Value* end, int64_t& b, int64_t& e) {
    b = optional_int(start, 0, "start");
    e = optional_int(end, n, "end");
    if (b < 0) b = std::max<int64_t>(0, b + n);
    if (e < 0) e = std::max<int64_t>(0, e + n);
    e = std::min(e, n);
}

// str.format with {} / {0} / {name} fields (no format specs beyond the empty one).
std::string py_format(const std::string& fmt, CallArgs& a) {
    std::string out;
    size_t auto_index = 0;
    for (size_t k = 0; k < fmt.size(); ++k) {
        char c = fmt[k];
        if (c == '{' && k + 1 < fmt.size() && fmt[k + 1] == '{') {
            out += '{';
            ++k;
        } else if (c == '}' && k + 1 < fmt.size() && fmt[k + 1] == '}') {
            out += '}';
            ++k;
        } else if (c == '{') {
            size_t close = fmt.find('}', k);
            if (close == std::string::npos) throw ValueError("str.format: single '{' encountered in format string");
            std::string field = fmt.substr(k + 1, close - k - 1);
            if (field.find(':') != std::string::npos || field.find('!') != std::string::npos)
                throw ValueError("str.format: format specs are not supported ('{" + field + "}')");
            const Value* v = nullptr;
            if (field.empty()) {
                if (auto_index >= a.positional.size()) throw ValueError("str.format: not enough arguments");
                v = &a.positional[auto_index++];
            } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
                size_t idx = std::stoul(field);
                if (idx >= a.positional.size()) throw ValueError("str.format: index " + field + " out of range");
                v = &a.positional[idx];
            } else {
                v = a.kwarg(field);
                if (!v) throw ValueError("str.format: missing argument '" + field + "'");
            }
            out += v->str();
            k = close;
        } else if (c == '}') {
            throw ValueError("str.format: single '}' encountered in format string");
        } else {
            out += c;
        }
    }
    return out;
}

Value string_method(const std::string& s, const std::string& name, CallArgs& a) {
    if (name == "startswith" || name == "endswith") {
        const Value* p = arg(a, 0, "prefix");
        std::vector<std::string> options;
        if (p && p->is_list()) {
            for (const Value& v : *p->list) options.push_back(need_string(&v, name + " argument"));
        } else {
            options.push_back(need_string(p, name + " argument"));
        }
        for (const auto& o : options) {
            bool hit = name == "startswith" ? s.compare(0, o.size(), o) == 0
                                            : (s.size() >= o.size() && s.compare(s.size() - o.size(), o.size(), o) == 0);
            if (hit) return Value::boolean(true);
        }
        return Value::boolean(false);
    }
    if (name == "strip" || name == "lstrip" || name == "rstrip")
        return Value::string(py_strip(s, optional_string(arg(a, 0, "chars"), name + " argument"), name != "rstrip",
                                      name != "lstrip"));
    if (name == "split" || name == "rsplit") {
        List out;
        for (auto& part : py_split(s, optional_string(arg(a, 0, "sep"), "separator"),
                                   optional_int(arg(a, 1, "maxsplit"), -1, "maxsplit"), name == "rsplit")) {
            out.push_back(Value::string(std::move(part)));
        }
        if (const Value* sep = arg(a, 0, "sep"); sep && sep->is_string() && sep->s.empty())
            throw ValueError("empty separator");
        return Value::make_list(std::move(out));
    }
    if (name == "splitlines") {
        List out;
        for (auto& line : py_splitlines(s)) out.push_back(Value::string(std::move(line)));
        return Value::make_list(std::move(out));
    }
    if (name == "upper") return Value::string(py_upper(s));
    if (name == "lower") return Value::string(py_lower(s));
    if (name == "title") return Value::string(py_title(s));
    if (name == "capitalize") return Value::string(py_capitalize(s));
    if (name == "replace")
        return Value::string(py_replace(s, need_string(arg(a, 0, "old"), "replace argument"),
                                        need_string(arg(a, 1, "new"), "replace argument"),
                                        optional_int(arg(a, 2, "count"), -1, "count")));
    if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
        std::string needle = need_string(arg(a, 0, "sub"), name + " argument");
        std::vector<uint32_t> cps = utf8_decode(s);
        int64_t b, e;
        clamp_range(static_cast<int64_t>(cps.size()), arg(a, 1, "start"), arg(a, 2, "end"), b, e);
        std::vector<uint32_t> nd = utf8_decode(needle);
        const int64_t m = static_cast<int64_t>(nd.size());
        auto match_at = [&](int64_t k) { return std::equal(nd.begin(), nd.end(), cps.begin() + k); };
        if (name == "count") {
            int64_t n = 0;
            if (m == 0) return Value::integer(e >= b ? e - b + 1 : 0);
            for (int64_t k = b; k + m <= e;) {
                if (match_at(k)) {
                    ++n;
                    k += m;
                } else {
                    ++k;
                }
            }
            return Value::integer(n);
        }
        int64_t found = -1;
        if (name == "find" || name == "index") {
            for (int64_t k = b; k + m <= e; ++k)
                if (match_at(k)) {
                    found = k;
                    break;
                }
        } else {
            for (int64_t k = e - m; k >= b; --k)
                if (match_at(k)) {
                    found = k;
                    break;
                }
        }
        if (found < 0 && (name == "index" || name == "rindex")) throw ValueError("substring not found");
        return Value::integer(found);
    }
    if (name == "join") {
        const Value* items = arg(a, 0, "iterable");
        if (!items) throw ValueError("join() takes exactly one argument");
        std::string out;
        bool first = true;
        for (const Value& v : iterate(*items)) {
            if (!v.is_string()) throw ValueError("sequence item: expected str instance, " + v.type_name() + " found");
            if (!first) out += s;
            out += v.s;
            first = false;
        }
        return Value::string(out);
    }
    if (name == "format") return Value::string(py_format(s, a));
    if (name == "isdigit" || name == "isnumeric" || name == "isdecimal") {
        auto cps = utf8_decode(s);
        return Value::boolean(!cps.empty() && std::all_of(cps.begin(), cps.end(), [](uint32_t c) { return c >= '0' && c <= '9'; }));
    }
    if (name == "isspace") {
        auto cps = utf8_decode(s);
        return Value::boolean(!cps.empty() && std::all_of(cps.begin(), cps.end(), py_is_space));
    }
    if (name == "isupper") return Value::boolean(py_upper(s) == s && py_lower(s) != s);
    if (name == "islower") return Value::boolean(py_lower(s) == s && py_upper(s) != s);
    throw ValueError("str has no method '" + name + "'");
}

const char* const kStringMethods[] = {"startswith", "endswith", "strip", "lstrip", "rstrip", "split", "rsplit",
                                      "splitlines", "upper", "lower", "title", "capitalize", "replace", "find",
                                      "rfind", "index", "rindex", "count", "join", "format", "isdigit",
                                      "isnumeric", "isdecimal", "isspace", "isupper", "islower"};
const char* const kDictMethods[] = {"items", "keys", "values", "get"};
// Methods that modify: ImmutableSandboxedEnvironment refuses them (transformers renders there).
const char* const kUnsafeMethods[] = {"append", "extend", "insert", "pop", "remove", "clear", "sort",
                                      "reverse", "update", "setdefault", "popitem"};

template <size_t N>
bool listed(const char* const (&table)[N], const std::string& name) {
    return std::find_if(std::begin(table), std::end(table), [&](const char* m) { return name == m; }) != std::end(table);
}

Value dict_method(const Value& d, const std::string& name, CallArgs& a) {
    if (name == "items") {
        List out;
        for (const auto& kv : d.dict->items) out.push_back(Value::make_tuple({Value::string(kv.first), kv.second}));
        return Value::make_list(std::move(out));
    }
    if (name == "keys") {
        List out;
        for (const auto& kv : d.dict->items) out.push_back(Value::string(kv.first));
        return Value::make_list(std::move(out));
    }
    if (name == "values") {
        List out;
        for (const auto& kv : d.dict->items) out.push_back(kv.second);
        return Value::make_list(std::move(out));
    }
    // get(key, default=None)
    const Value* key = arg(a, 0, "key");
    if (!key) throw ValueError("get expected at least 1 argument");
    const Value* fallback = arg(a, 1, "default");
    if (key->is_string())
        if (const Value* v = d.dict->find(key->s)) return *v;
    return fallback ? *fallback : Value::none();
}

Value bound_method(const Value& obj, const std::string& name) {
    Value self = obj;
    if (obj.is_string())
        return Value::callable([self, name](CallArgs& a) { return string_method(self.s, name, a); });
    return Value::callable([self, name](CallArgs& a) { return dict_method(self, name, a); });
}

Value unsafe_method(const Value& obj, const std::string& name) {
    std::string type = obj.type_name();
    return Value::callable([type, name](CallArgs&) -> Value {
        throw ValueError("access to attribute '" + name + "' of '" + type +
                         "' object is unsafe (transformers renders in jinja2's ImmutableSandboxedEnvironment)");
    });
}

Value missing(const Value& obj, const std::string& name) {
    if (obj.is_dict()) return Value::undefined("'dict object' has no attribute '" + name + "'");
    return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + name + "'");
}

}  // namespace

std::string undefined_message(const Value& v) {
    if (v.s.empty()) return "value is undefined";
    if (v.s.find(' ') == std::string::npos) return "'" + v.s + "' is undefined";
    return v.s;
}

Value get_attribute(const Value& obj, const std::string& name) {
    switch (obj.kind) {
    case Kind::Undefined: throw ValueError(undefined_message(obj));
    case Kind::Dict:
        if (listed(kDictMethods, name)) return bound_method(obj, name);
        if (listed(kUnsafeMethods, name)) return unsafe_method(obj, name);
        if (const Value* v = obj.dict->find(name)) return *v;
        return missing(obj, name);
    case Kind::Namespace:
        if (const Value* v = obj.dict->find(name)) return *v;
        return missing(obj, name);
    case Kind::String:
        if (listed(kStringMethods, name)) return bound_method(obj, name);
        return missing(obj, name);
    case Kind::List:
        if (listed(kUnsafeMethods, name)) return unsafe_method(obj, name);
        return missing(obj, name);
    default: return missing(obj, name);
    }
}

Value get_item(const Value& obj, const Value& key) {
    if (obj.is_undefined()) throw ValueError(undefined_message(obj));
    if ((obj.is_list() || obj.is_string()) && key.is_integral()) {
        int64_t n = length(obj);
        int64_t k = key.as_int();
        if (k < 0) k += n;
        if (k < 0 || k >= n) return Value::undefined(obj.type_name() + " index " + std::to_string(key.as_int()) + " out of range");
        if (obj.is_list()) return (*obj.list)[static_cast<size_t>(k)];
        if (obj.s.size() == static_cast<size_t>(n)) return Value::string(obj.s.substr(static_cast<size_t>(k), 1));
        auto cps = utf8_decode(obj.s);
        return Value::string(utf8_encode(cps, static_cast<size_t>(k), static_cast<size_t>(k) + 1));
    }
    if ((obj.is_dict() || obj.kind == Kind::Namespace) && key.is_string()) {
        if (const Value* v = obj.dict->find(key.s)) return *v;
    }
    // jinja2 falls back to getattr for string keys (so d['items'] can reach the method).
    if (key.is_string() && obj.kind != Kind::Namespace) return get_attribute(obj, key.s);
    if (obj.is_dict()) return Value::undefined("'dict object' has no attribute " + key.repr());
    return Value::undefined("'" + obj.type_name() + " object' has no item " + key.repr());
}

Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
    if (obj.is_undefined()) throw ValueError(undefined_message(obj));
    if (!obj.is_list() && !obj.is_string()) throw ValueError("'" + obj.type_name() + "' object is not subscriptable");
    auto index = [](const Value& v, const char* what) -> std::optional<int64_t> {
        if (v.is_none() || v.is_undefined()) return std::nullopt;
        if (!v.is_integral()) throw ValueError(std::string("slice ") + what + " must be an integer or None");
        return v.as_int();
    };
    std::vector<uint32_t> cps;
    if (obj.is_string()) cps = utf8_decode(obj.s);
    const int64_t n = obj.is_list() ? static_cast<int64_t>(obj.list->size()) : static_cast<int64_t>(cps.size());
    int64_t st = index(step, "step").value_or(1);
    if (st == 0) throw ValueError("slice step cannot be zero");
    // Python's PySlice_AdjustIndices.
    auto adjust = [&](std::optional<int64_t> v, int64_t fallback) {
        if (!v) return fallback;
        int64_t x = *v;
        if (x < 0) {
            x += n;
            if (x < 0) x = st < 0 ? -1 : 0;
        } else if (x >= n) {
            x = st < 0 ? n - 1 : n;
        }
        return x;
    };
    int64_t b = adjust(index(start, "start"), st < 0 ? n - 1 : 0);
    int64_t e = adjust(index(stop, "stop"), st < 0 ? -1 : n);
    List items;
    std::string text;
    for (int64_t k = b; st > 0 ? k < e : k > e; k += st) {
        if (obj.is_list()) items.push_back((*obj.list)[static_cast<size_t>(k)]);
        else utf8_append(text, cps[static_cast<size_t>(k)]);
    }
    return obj.is_list() ? Value::make_list(std::move(items)) : Value::string(std::move(text));
}

List iterate(const Value& v) {
    switch (v.kind) {
    case Kind::Undefined: return {};
    case Kind::List: return *v.list;
    case Kind::Dict: {
        List out;
        for (const auto& kv : v.dict->items) out.push_back(Value::string(kv.first));
        return out;
    }
    case Kind::String: {
        List out;
        for (uint32_t cp : utf8_decode(v.s)) {
            std::string c;
            utf8_append(c, cp);
            out.push_back(Value::string(std::move(c)));
        }
        return out;
    }
    default: throw ValueError("'" + v.type_name() + "' object is not iterable");
    }
}

bool contains(const Value& haystack, const Value& needle) {
    switch (haystack.kind) {
    case Kind::String:
        if (!needle.is_string())
            throw ValueError("'in <string>' requires string as left operand, not " + needle.type_name());
        return haystack.s.find(needle.s) != std::string::npos;
    case Kind::Dict:
        return needle.is_string() && haystack.dict->find(needle.s) != nullptr;
    case Kind::List:
        return std::any_of(haystack.list->begin(), haystack.list->end(), [&](const Value& v) { return equals(v, needle); });
    case Kind::Undefined: return false;
    default: throw ValueError("argument of type '" + haystack.type_name() + "' is not iterable");
    }
}

int64_t length(const Value& v) {
    switch (v.kind) {
    case Kind::Undefined: return 0;
    case Kind::String: return py_length(v.s);
    case Kind::List: return static_cast<int64_t>(v.list->size());
    case Kind::Dict: return static_cast<int64_t>(v.dict->items.size());
    default: throw ValueError("object of type '" + v.type_name() + "' has no len()");
    }
}

bool less_than(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind == Kind::Float || b.kind == Kind::Float) return a.as_double() < b.as_double();
        return a.as_int() < b.as_int();
    }
    if (a.is_string() && b.is_string()) return a.s < b.s;  // UTF-8 byte order == code point order
    if (a.is_list() && b.is_list()) {
        size_t n = std::min(a.list->size(), b.list->size());
        for (size_t k = 0; k < n; ++k) {
            if (equals((*a.list)[k], (*b.list)[k])) continue;
            return less_than((*a.list)[k], (*b.list)[k]);
        }
        return a.list->size() < b.list->size();
    }
    if (a.is_undefined() || b.is_undefined()) throw ValueError(undefined_message(a.is_undefined() ? a : b));
    throw ValueError("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

Dict builtin_globals() {
    Dict g;
    g.set("range", Value::callable([](CallArgs& a) {
        int64_t start = 0, stop = 0, step = 1;
        auto num = [](const Value& v) {
            if (!v.is_integral()) throw ValueError("range() arguments must be integers, not " + v.type_name());
            return v.as_int();
        };
        if (a.positional.size() == 1) {
            stop = num(a.positional[0]);
        } else if (a.positional.size() == 2 || a.positional.size() == 3) {
            start = num(a.positional[0]);
            stop = num(a.positional[1]);
            if (a.positional.size() == 3) step = num(a.positional[2]);
        } else {
            throw ValueError("range expected 1 to 3 arguments");
        }
        if (step == 0) throw ValueError("range() arg 3 must not be zero");
        List out;
        for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
            // The sandbox caps ranges (MAX_RANGE = 100000) so a template cannot exhaust memory.
            if (out.size() >= 100000) throw ValueError("range too big (the sandbox allows 100000 items)");
            out.push_back(Value::integer(k));
        }
        return Value::make_list(std::move(out));
    }));
    g.set("namespace", Value::callable([](CallArgs& a) {
        Dict attrs;
        for (const Value& p : a.positional) {
            if (!p.is_dict()) throw ValueError("namespace() positional argument must be a dict");
            for (const auto& kv : p.dict->items) attrs.set(kv.first, kv.second);
        }
        for (const auto& kv : a.keyword) attrs.set(kv.first, kv.second);
        return Value::make_namespace(std::move(attrs));
    }));
    g.set("dict", Value::callable([](CallArgs& a) {
        Dict d;
        for (const Value& p : a.positional) {
            if (!p.is_dict()) throw ValueError("dict() positional argument must be a dict");
            for (const auto& kv : p.dict->items) d.set(kv.first, kv.second);
        }
        for (const auto& kv : a.keyword) d.set(kv.first, kv.second);
        return Value::make_dict(std::move(d));
    }));
    // transformers: raise_exception(message) raises jinja2.exceptions.TemplateError(message).
    g.set("raise_exception", Value::callable([](CallArgs& a) -> Value {
        throw RaisedError(a.positional.empty() ? std::string() : a.positional[0].str());
    }));
    // transformers: strftime_now(format) == datetime.now().strftime(format) (local time).
    g.set("strftime_now", Value::callable([](CallArgs& a) {
        if (a.positional.empty() || !a.positional[0].is_string()) throw ValueError("strftime_now expects a format string");
        std::time_t now = std::time(nullptr);
        std::tm local{};
        localtime_r(&now, &local);
        char buf[512];
        size_t n = std::strftime(buf, sizeof buf, a.positional[0].s.c_str(), &local);
        return Value::string(std::string(buf, n));
    }));
    return g;
}

}  // namespace rlhf::text::jinja
