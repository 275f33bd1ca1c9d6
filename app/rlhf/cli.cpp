#include "app/rlhf/cli.h"

#include <cstdlib>

#include "core/io/error.h"

namespace rlhf::cli {

std::map<std::string, Command>& registry() {
    static std::map<std::string, Command> commands;
    return commands;
}

Registrar::Registrar(const char* name, const char* usage, const char* summary, CommandFn fn) {
    registry()[name] = Command{name, usage, summary, fn};
}

namespace {
bool is_option(const std::string& s) { return s.size() > 2 && s[0] == '-' && s[1] == '-'; }

// "--name=value" -> ("name", "value", true); "--name" -> ("name", "", false)
void split_option(const std::string& s, std::string* name, std::string* value, bool* inline_value) {
    size_t eq = s.find('=');
    *inline_value = eq != std::string::npos;
    *name = s.substr(2, *inline_value ? eq - 2 : std::string::npos);
    *value = *inline_value ? s.substr(eq + 1) : std::string();
}
}  // namespace

void Args::parse() {}

std::string Args::get(const std::string& name, const std::string& fallback) {
    known_values_[name] = true;
    for (size_t i = 0; i < argv_.size(); ++i) {
        if (!is_option(argv_[i])) continue;
        std::string n, v;
        bool inl;
        split_option(argv_[i], &n, &v, &inl);
        if (n != name) continue;
        if (inl) return v;
        if (i + 1 >= argv_.size())
            throw UsageError("rlhf " + command_ + ": option --" + name + " needs a value");
        return argv_[i + 1];
    }
    return fallback;
}

std::string Args::require(const std::string& name) {
    if (!has(name)) throw UsageError("rlhf " + command_ + ": missing required option --" + name);
    return get(name, "");
}

bool Args::has(const std::string& name) {
    for (const auto& a : argv_) {
        if (!is_option(a)) continue;
        std::string n, v;
        bool inl;
        split_option(a, &n, &v, &inl);
        if (n == name) return true;
    }
    return false;
}

bool Args::flag(const std::string& name) {
    known_switches_[name] = true;
    return has(name);
}

long long Args::get_int(const std::string& name, long long fallback) {
    std::string s = get(name, "");
    if (s.empty()) return fallback;
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (end == s.c_str() || *end != '\0')
        throw UsageError("rlhf " + command_ + ": --" + name + " expects an integer, got '" + s + "'");
    return v;
}

double Args::get_double(const std::string& name, double fallback) {
    std::string s = get(name, "");
    if (s.empty()) return fallback;
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0')
        throw UsageError("rlhf " + command_ + ": --" + name + " expects a number, got '" + s + "'");
    return v;
}

std::vector<std::string> Args::positional(size_t min_count, size_t max_count) {
    positional_declared_ = true;
    std::vector<std::string> out;
    for (size_t i = 0; i < argv_.size(); ++i) {
        if (is_option(argv_[i])) {
            std::string n, v;
            bool inl;
            split_option(argv_[i], &n, &v, &inl);
            if (!inl && known_values_.count(n)) ++i;  // skip its value
            continue;
        }
        out.push_back(argv_[i]);
    }
    if (out.size() < min_count)
        throw UsageError("rlhf " + command_ + ": expected " + std::to_string(min_count) +
                         " positional argument(s), got " + std::to_string(out.size()));
    if (out.size() > max_count)
        throw UsageError("rlhf " + command_ + ": unexpected argument '" + out[max_count] + "'");
    return out;
}

void Args::finish() {
    if (!positional_declared_) positional(0, 0);
    for (size_t i = 0; i < argv_.size(); ++i) {
        if (!is_option(argv_[i])) continue;
        std::string n, v;
        bool inl;
        split_option(argv_[i], &n, &v, &inl);
        if (known_values_.count(n)) {
            if (!inl) ++i;
            continue;
        }
        if (known_switches_.count(n)) {
            if (inl) throw UsageError("rlhf " + command_ + ": --" + n + " takes no value");
            continue;
        }
        throw UsageError("rlhf " + command_ + ": unknown option --" + n);
    }
}

}  // namespace rlhf::cli
