// Text preprocessing applied to every message content before a record reaches the sink, and the
// UTF-8 check every raw record goes through.
#pragma once
#include <string>
#include <string_view>

namespace rlhf::data {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates (U+D800..DFFF), nothing past
// U+10FFFF. Returns true when valid; otherwise *bad_offset (if given) is the first bad byte.
bool is_valid_utf8(std::string_view s, size_t* bad_offset = nullptr);

// Removes HTML tags ("<b>", "</p>", "<br/>", "<!-- ... -->", "<a href='x'>") and then decodes
// &amp; &lt; &gt; &quot; &#39; &apos; &nbsp; (to a plain space) and numeric entities &#NNN; /
// &#xHH;. A '<' not followed by a letter, '/', '!' or '?' is text ("a < b"), not a tag; a tag
// never spans past the end of the text. Block tags (<br>, <p>, <div>, <li>, <tr>, h1-h6)
// become a newline so words do not run together.
std::string strip_html(std::string_view s);

// CRLF and lone CR -> LF; runs of spaces/tabs (and form feeds, vertical tabs) -> one space;
// spaces at the start and end of each line removed; 3+ newlines -> 2 (one blank line);
// the whole text trimmed.
std::string normalize_whitespace(std::string_view s);

}  // namespace rlhf::data
