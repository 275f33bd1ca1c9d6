// jinja::Value: Python semantics for printing, truthiness, equality and json.dumps.
#include "core/text/jinja_value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "core/io/utf8.h"

namespace rlhf::text::jinja {

// ---------------------------------------------------------------------------------------------
// Dict and CallArgs

const Value* Dict::find(const std::string& key) const {
    for (const auto& kv : items)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

Value* Dict::find(const std::string& key) {
    for (auto& kv : items)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

void Dict::set(const std::string& key, Value value) {
    if (Value* v = find(key)) {
        *v = std::move(value);
        return;
    }
    items.emplace_back(key, std::move(value));
}

const Value* CallArgs::kwarg(const std::string& name) const {
    for (const auto& kv : keyword)
        if (kv.first == name) return &kv.second;
    return nullptr;
}

// ---------------------------------------------------------------------------------------------
// constructors

Value Value::undefined(std::string name) {
    Value v;
    v.kind = Kind::Undefined;
    v.s = std::move(name);
    return v;
}
Value Value::none() {
    Value v;
    v.kind = Kind::None;
    return v;
}
Value Value::boolean(bool x) {
    Value v;
    v.kind = Kind::Bool;
    v.b = x;
    return v;
}
Value Value::integer(int64_t x) {
    Value v;
    v.kind = Kind::Int;
    v.i = x;
    return v;
}
Value Value::number(double x) {
    Value v;
    v.kind = Kind::Float;
    v.f = x;
    return v;
}
Value Value::string(std::string x) {
    Value v;
    v.kind = Kind::String;
    v.s = std::move(x);
    return v;
}
Value Value::make_list(List x) {
    Value v;
    v.kind = Kind::List;
    v.list = std::make_shared<List>(std::move(x));
    return v;
}
Value Value::make_tuple(List x) {
    Value v = make_list(std::move(x));
    v.tuple = true;
    return v;
}
Value Value::make_dict(Dict x) {
    Value v;
    v.kind = Kind::Dict;
    v.dict = std::make_shared<Dict>(std::move(x));
    return v;
}
Value Value::make_namespace(Dict x) {
    Value v;
    v.kind = Kind::Namespace;
    v.dict = std::make_shared<Dict>(std::move(x));
    return v;
}
Value Value::callable(Function fn) {
    Value v;
    v.kind = Kind::Callable;
    v.fn = std::make_shared<Function>(std::move(fn));
    return v;
}

// ---------------------------------------------------------------------------------------------
// Python bool / str / repr

bool Value::truthy() const {
    switch (kind) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return b;
    case Kind::Int: return i != 0;
    case Kind::Float: return f != 0.0;
    case Kind::String: return !s.empty();
    case Kind::List: return !list->empty();
    case Kind::Dict: return !dict->items.empty();
    case Kind::Namespace:
    case Kind::Callable: return true;
    }
    return false;
}

std::string python_float_repr(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    // Shortest precision that round-trips, like Python's repr (David Gay's "shortest" mode).
    char buf[64];
    for (int prec = 0; prec < 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*e", prec, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    std::string sci = buf;  // "-d.ddde+XX"
    bool negative = sci[0] == '-';
    if (negative) sci.erase(0, 1);
    size_t e_pos = sci.find('e');
    int exponent = std::atoi(sci.c_str() + e_pos + 1);
    std::string digits;
    for (size_t k = 0; k < e_pos; ++k)
        if (sci[k] != '.') digits += sci[k];
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    std::string out = negative ? "-" : "";
    // float.__repr__ switches to exponent notation outside 1e-4 <= |v| < 1e16.
    if (exponent >= -4 && exponent < 16) {
        if (exponent >= 0) {
            std::string int_part = digits.substr(0, std::min<size_t>(digits.size(), exponent + 1));
            while (int_part.size() < static_cast<size_t>(exponent + 1)) int_part += '0';
            std::string frac = digits.size() > static_cast<size_t>(exponent + 1) ? digits.substr(exponent + 1) : "0";
            out += int_part + "." + frac;
        } else {
            out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
        }
    } else {
        out += digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char exp_buf[16];
        std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
        out += exp_buf;
    }
    return out;
}

static std::string python_string_repr(const std::string& s) {
    // Python picks single quotes unless the text has a ' and no ".
    bool has_single = s.find('\'') != std::string::npos;
    bool has_double = s.find('"') != std::string::npos;
    char quote = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, quote);
    for (unsigned char c : s) {
        if (c == static_cast<unsigned char>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    out += quote;
    return out;
}

std::string Value::str() const {
    switch (kind) {
    case Kind::Undefined: return "";
    case Kind::None: return "None";
    case Kind::Bool: return b ? "True" : "False";
    case Kind::Int: return std::to_string(i);
    case Kind::Float: return python_float_repr(f);
    case Kind::String: return s;
    case Kind::List: {
        std::string out = tuple ? "(" : "[";
        for (size_t k = 0; k < list->size(); ++k) {
            if (k) out += ", ";
            out += (*list)[k].repr();
        }
        if (tuple && list->size() == 1) out += ",";  // (1,)
        return out + (tuple ? ")" : "]");
    }
    case Kind::Dict: {
        std::string out = "{";
        for (size_t k = 0; k < dict->items.size(); ++k) {
            if (k) out += ", ";
            out += python_string_repr(dict->items[k].first) + ": " + dict->items[k].second.repr();
        }
        return out + "}";
    }
    case Kind::Namespace: return "<Namespace " + make_dict(*dict).str() + ">";
    case Kind::Callable: return "<function>";
    }
    return "";
}

std::string Value::repr() const {
    if (kind == Kind::String) return python_string_repr(s);
    if (kind == Kind::Undefined) return "Undefined";
    return str();
}

std::string Value::type_name() const {
    switch (kind) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "Namespace";
    case Kind::Callable: return "function";
    }
    return "?";
}

bool equals(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind == Kind::Float || b.kind == Kind::Float) return a.as_double() == b.as_double();
        return a.as_int() == b.as_int();
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String: return a.s == b.s;
    case Kind::List:
        if (a.list->size() != b.list->size()) return false;
        for (size_t k = 0; k < a.list->size(); ++k)
            if (!equals((*a.list)[k], (*b.list)[k])) return false;
        return true;
    case Kind::Dict:
        if (a.dict->items.size() != b.dict->items.size()) return false;
        for (const auto& kv : a.dict->items) {
            const Value* other = b.dict->find(kv.first);
            if (!other || !equals(kv.second, *other)) return false;
        }
        return true;
    case Kind::Namespace: return a.dict == b.dict;
    case Kind::Callable: return a.fn == b.fn;
    default: return false;
    }
}

// ---------------------------------------------------------------------------------------------
// UTF-8

std::vector<uint32_t> utf8_decode(const std::string& s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    size_t k = 0;
    while (k < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[k]);
        uint32_t cp = c;
        size_t len = 1;
        if (c >= 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else if (c >= 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xC0) {
            len = 2;
            cp = c & 0x1F;
        }
        if (k + len > s.size()) len = 1, cp = c;  // truncated sequence: keep the byte
        for (size_t m = 1; m < len; ++m) cp = (cp << 6) | (static_cast<unsigned char>(s[k + m]) & 0x3F);
        out.push_back(cp);
        k += len;
    }
    return out;
}

// The shared encoder (core/io/utf8.h); kept under this name for the template engine's callers.
void utf8_append(std::string& out, uint32_t cp) { io::append_utf8(out, cp); }

std::string utf8_encode(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
    std::string out;
    end = std::min(end, cps.size());
    for (size_t k = begin; k < end; ++k) utf8_append(out, cps[k]);
    return out;
}

// ---------------------------------------------------------------------------------------------
// json.dumps

static void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
    out += '"';
    if (!ensure_ascii) {
        for (unsigned char c : s) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
            }
        }
    } else {
        for (uint32_t cp : utf8_decode(s)) {
            char buf[16];
            if (cp == '"') out += "\\\"";
            else if (cp == '\\') out += "\\\\";
            else if (cp == '\n') out += "\\n";
            else if (cp == '\r') out += "\\r";
            else if (cp == '\t') out += "\\t";
            else if (cp == '\b') out += "\\b";
            else if (cp == '\f') out += "\\f";
            else if (cp < 0x20 || (cp > 0x7f && cp < 0x10000)) {
                std::snprintf(buf, sizeof buf, "\\u%04x", cp);
                out += buf;
            } else if (cp >= 0x10000) {
                uint32_t v = cp - 0x10000;
                std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
                out += buf;
            } else {
                out += static_cast<char>(cp);
            }
        }
    }
    out += '"';
}

static void json_dump(std::string& out, const Value& v, const JsonOptions& o, int depth) {
    const bool pretty = o.indent >= 0 || !o.indent_string.empty();
    const std::string unit = !o.indent_string.empty() ? o.indent_string : std::string(std::max(o.indent, 0), ' ');
    auto newline = [&](int level) {
        out += '\n';
        for (int k = 0; k < level; ++k) out += unit;
    };
    const std::string& item_sep = o.item_separator;
    switch (v.kind) {
    case Kind::None: out += "null"; return;
    case Kind::Bool: out += v.b ? "true" : "false"; return;
    case Kind::Int: out += std::to_string(v.i); return;
    case Kind::Float:
        if (std::isnan(v.f)) out += "NaN";
        else if (std::isinf(v.f)) out += v.f < 0 ? "-Infinity" : "Infinity";
        else out += python_float_repr(v.f);
        return;
    case Kind::String: json_string(out, v.s, o.ensure_ascii); return;
    case Kind::List: {
        if (v.list->empty()) {
            out += "[]";
            return;
        }
        out += '[';
        for (size_t k = 0; k < v.list->size(); ++k) {
            if (k) out += item_sep;
            if (pretty) newline(depth + 1);
            json_dump(out, (*v.list)[k], o, depth + 1);
        }
        if (pretty) newline(depth);
        out += ']';
        return;
    }
    case Kind::Dict: {
        if (v.dict->items.empty()) {
            out += "{}";
            return;
        }
        std::vector<const std::pair<std::string, Value>*> entries;
        for (const auto& kv : v.dict->items) entries.push_back(&kv);
        if (o.sort_keys)
            std::stable_sort(entries.begin(), entries.end(),
                             [](auto* a, auto* b) { return a->first < b->first; });
        out += '{';
        for (size_t k = 0; k < entries.size(); ++k) {
            if (k) out += item_sep;
            if (pretty) newline(depth + 1);
            json_string(out, entries[k]->first, o.ensure_ascii);
            out += o.key_separator;
            json_dump(out, entries[k]->second, o, depth + 1);
        }
        if (pretty) newline(depth);
        out += '}';
        return;
    }
    default:
        throw std::invalid_argument("Object of type " + v.type_name() + " is not JSON serializable");
    }
}

std::string to_python_json(const Value& v, const JsonOptions& options) {
    JsonOptions o = options;
    const bool pretty = o.indent >= 0 || !o.indent_string.empty();
    if (!o.custom_separators) o.item_separator = pretty ? "," : ", ";
    std::string out;
    json_dump(out, v, o, 0);
    return out;
}

// ---------------------------------------------------------------------------------------------
// from JSON

template <typename J>
static Value from_json_impl(const J& j) {
    switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value::integer(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
        return Value::integer(static_cast<int64_t>(j.template get<uint64_t>()));
    case nlohmann::json::value_t::number_float: return Value::number(j.template get<double>());
    case nlohmann::json::value_t::string: return Value::string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
        List out;
        out.reserve(j.size());
        for (const auto& e : j) out.push_back(from_json_impl(e));
        return Value::make_list(std::move(out));
    }
    case nlohmann::json::value_t::object: {
        Dict out;
        for (auto it = j.begin(); it != j.end(); ++it) out.items.emplace_back(it.key(), from_json_impl(it.value()));
        return Value::make_dict(std::move(out));
    }
    default: return Value::none();
    }
}

Value from_json(const nlohmann::json& j) { return from_json_impl(j); }
Value from_json(const nlohmann::ordered_json& j) { return from_json_impl(j); }

}  // namespace rlhf::text::jinja
