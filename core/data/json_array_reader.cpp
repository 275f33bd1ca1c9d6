#include "core/data/json_array_reader.h"

#include "core/data/record_error.h"
#include "core/io/error.h"

namespace rlhf::data {
namespace {
bool is_ws(int c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
}  // namespace

int JsonArrayReader::get() {
    int c = in_.get();
    if (c == '\n') ++line_;
    return c;
}

void JsonArrayReader::skip_ws() {
    while (is_ws(in_.peek())) get();
}

JsonArrayReader::JsonArrayReader(ByteStream& in, size_t max_element_bytes, int max_depth)
    : in_(in), max_bytes_(max_element_bytes), max_depth_(max_depth) {
    skip_ws();
    int c = in_.peek();
    if (c == '[') {
        get();
    } else if (c == '{') {
        get();
        find_list_in_object();
    } else if (c < 0) {
        throw Error(in_.path() + ": empty file (no records)");
    } else {
        throw Error(in_.path() + ":" + std::to_string(line_) +
                    ": a JSON dataset must be an array of records or an object with a "
                    "'data', 'rows' or 'train' list");
    }
}

std::string JsonArrayReader::read_key() {
    std::string key;
    get();  // opening quote
    for (;;) {
        int c = get();
        if (c < 0)
            throw Error(in_.path() + ":" + std::to_string(line_) + ": file ends inside a key");
        if (c == '"') return key;
        if (c == '\\') {
            key += '\\';
            c = get();
            if (c < 0) continue;
        }
        if (key.size() < 256) key += static_cast<char>(c);
    }
}

void JsonArrayReader::skip_value() {
    int c = in_.peek();
    if (c == '"') {
        read_key();
        return;
    }
    if (c != '{' && c != '[') {  // number, true, false, null
        while ((c = in_.peek()) >= 0 && c != ',' && c != '}' && c != ']' && !is_ws(c)) get();
        return;
    }
    uint64_t depth = 0;
    bool in_string = false;
    while ((c = get()) >= 0) {
        if (in_string) {
            if (c == '\\')
                get();
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) return;
        }
    }
}

void JsonArrayReader::find_list_in_object() {
    for (;;) {
        skip_ws();
        int c = in_.peek();
        if (c == '}' || c < 0) break;
        if (c != '"')
            throw Error(in_.path() + ":" + std::to_string(line_) +
                        ": expected a key in the top-level object");
        std::string key = read_key();
        skip_ws();
        if (get() != ':')
            throw Error(in_.path() + ":" + std::to_string(line_) + ": expected ':' after key '" +
                        key + "'");
        skip_ws();
        if ((key == "data" || key == "rows" || key == "train") && in_.peek() == '[') {
            get();
            return;
        }
        skip_value();
        skip_ws();
        if (in_.peek() == ',') get();
    }
    throw Error(in_.path() +
                ": the top-level JSON object has no 'data', 'rows' or 'train' list of records");
}

bool JsonArrayReader::next(JsonElement& out) {
    if (done_) return false;
    out = JsonElement{};
    skip_ws();
    int c = in_.peek();
    if (c == ',' && index_ > 0) {
        get();
        skip_ws();
        c = in_.peek();
    }
    if (c == ']') {
        get();
        done_ = true;
        return false;
    }
    out.index = ++index_;
    out.line = line_;
    if (c < 0) {
        done_ = true;
        out.category = kIssueTruncated;
        out.error = "the JSON array is not closed: the file ends before ']'";
        return true;
    }
    // Copy the element's bytes until its nesting closes, a buffer span at a time. Brackets are
    // counted without matching their kinds: a mismatch is left for the JSON parser to name.
    bool too_long = false, in_string = false, escape = false, started = false, ended = false;
    const bool is_string = c == '"';
    int64_t depth = 0, max_seen = 0;
    while (!ended) {
        size_t n = in_.available();
        if (n == 0) {
            c = -1;
            break;
        }
        const char* p = in_.data();
        size_t i = 0;
        for (; i < n; ++i) {
            const char ch = p[i];
            if (in_string) {
                if (ch == '\n')
                    ++line_;  // invalid in JSON (the parser says so), but a line all the same
                if (escape)
                    escape = false;
                else if (ch == '\\')
                    escape = true;
                else if (ch == '"') {
                    in_string = false;
                    if (depth == 0) {  // a string element ends here
                        ++i;
                        ended = true;
                        break;
                    }
                }
                continue;
            }
            if (depth == 0 && started && (ch == ',' || ch == ']' || (!is_string && is_ws(ch)))) {
                ended = true;  // the end of a scalar element; leave the byte to the caller
                break;
            }
            started = true;
            if (ch == '\n') ++line_;
            if (ch == '"') {
                in_string = true;
            } else if (ch == '{' || ch == '[') {
                if (++depth > max_seen) max_seen = depth;
            } else if (ch == '}' || ch == ']') {
                if (--depth <= 0) {
                    ++i;
                    ended = true;
                    break;
                }
            }
        }
        if (!too_long) {
            if (out.text.size() + i > max_bytes_) {
                too_long = true;
                out.text.clear();
                out.text.shrink_to_fit();
            } else {
                out.text.append(p, i);
            }
        }
        in_.consume(i);
    }
    c = ended ? 0 : -1;
    if (c < 0) {
        done_ = true;
        out.text.clear();
        out.category = kIssueTruncated;
        out.error = "the file ends inside this element (JSON array cut off)";
    } else if (too_long) {
        out.text.clear();
        out.category = kIssueLineTooLong;
        out.error = "element longer than " + std::to_string(max_bytes_) + " bytes";
    } else if (max_seen > max_depth_) {
        out.text.clear();
        out.category = kIssueTooDeep;
        out.error = "element nested deeper than " + std::to_string(max_depth_) + " levels";
    }
    return true;
}

}  // namespace rlhf::data
