// Python str methods on UTF-8 text, by code point as Python counts them (len("é") == 1):
// strip/split/replace/case mapping used by both filters and methods of chat templates.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rlhf::text::jinja {

// Python str.isspace() for one code point.
bool py_is_space(uint32_t cp);
// str.strip / lstrip / rstrip; chars == nullopt strips whitespace.
std::string py_strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right);
// str.split(sep, maxsplit) (sep == nullopt: runs of whitespace); str.rsplit when from_right.
std::vector<std::string> py_split(const std::string& s, const std::optional<std::string>& sep,
                                  int64_t maxsplit, bool from_right = false);
// str.replace(old, new, count) (count < 0: all).
std::string py_replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count);
std::string py_upper(const std::string& s);
std::string py_lower(const std::string& s);
std::string py_title(const std::string& s);       // str.title()
std::string py_capitalize(const std::string& s);  // str.capitalize()
std::string jinja_title(const std::string& s);    // jinja2's | title filter (word starts only)
// str.splitlines() for the separators that occur in text (\n, \r\n, \r, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029).
std::vector<std::string> py_splitlines(const std::string& s);
// Python's regex \w for one code point (letters, digits, numbers, underscore).
bool py_is_word_char(uint32_t cp);
// Number of code points.
int64_t py_length(const std::string& s);

}  // namespace rlhf::text::jinja
