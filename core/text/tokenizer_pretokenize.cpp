// Pre-tokenizers of tokenizer.json (tokenizers/src/pre_tokenizers). A PreTokenizedString is a
// Pieces: spans into one buffer. Splitting only rewrites the span list; transforms (ByteLevel's
// byte -> char mapping, Metaspace's ' ' -> '▁') write a new buffer into scratch and swap.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/text/tokenizer_internal.h"

namespace rlhf::text::detail {

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const Json& j, const char* key, const std::string& where, Behavior fallback) {
    if (!j.contains(key)) return fallback;
    std::string b = get_string(j, key, where, "");
    if (b == "Removed") return Behavior::Removed;
    if (b == "Isolated") return Behavior::Isolated;
    if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
    if (b == "MergedWithNext") return Behavior::MergedWithNext;
    if (b == "Contiguous") return Behavior::Contiguous;
    fail(where + "." + key, "unknown split behavior '" + b + "'");
}

struct Segment {
    size_t begin, end;
    bool flag;  // is_match, then "remove"
};

// NormalizedString::split: matches (sorted, non-overlapping) -> kept sub-spans of span.
void split_span(const Span& span, size_t len, const std::vector<std::pair<size_t, size_t>>& matches, Behavior behavior,
                bool invert, std::vector<Span>& out) {
    thread_local std::vector<Segment> segs, merged;
    segs.clear();
    if (len == 0) {
        segs.push_back({0, 0, false});
    } else {
        size_t prev = 0;
        for (auto [b, e] : matches) {
            if (prev != b) segs.push_back({prev, b, false});
            segs.push_back({b, e, true});
            prev = e;
        }
        if (prev != len) segs.push_back({prev, len, false});
    }
    if (invert)
        for (auto& s : segs) s.flag = !s.flag;
    merged.clear();
    switch (behavior) {
        case Behavior::Isolated:
            for (auto& s : segs) merged.push_back({s.begin, s.end, false});
            break;
        case Behavior::Removed:
            merged = segs;
            break;
        case Behavior::Contiguous: {
            bool previous = false;
            for (auto& s : segs) {
                if (s.flag == previous && !merged.empty()) merged.back().end = s.end;
                else merged.push_back({s.begin, s.end, false});
                previous = s.flag;
            }
            break;
        }
        case Behavior::MergedWithPrevious: {
            bool previous = false;
            for (auto& s : segs) {
                if (s.flag && !previous && !merged.empty()) merged.back().end = s.end;
                else merged.push_back({s.begin, s.end, false});
                previous = s.flag;
            }
            break;
        }
        case Behavior::MergedWithNext: {
            bool previous = false;
            for (size_t k = segs.size(); k-- > 0;) {
                const auto& s = segs[k];
                if (s.flag && !previous && !merged.empty()) merged.back().begin = s.begin;
                else merged.push_back({s.begin, s.end, false});
                previous = s.flag;
            }
            std::reverse(merged.begin(), merged.end());
            break;
        }
    }
    for (auto& s : merged) {
        if (s.flag || s.end == s.begin) continue;  // removed, or empty (PreTokenizedString drops those)
        out.push_back({static_cast<uint32_t>(span.begin + s.begin), static_cast<uint32_t>(span.begin + s.end),
                       span.at_origin && s.begin == 0});
    }
}

// Applies split_span to every span with matches from find(text, matches).
template <typename Find>
void split_all(Pieces& p, Pieces& scratch, Behavior behavior, bool invert, Find&& find) {
    thread_local std::vector<std::pair<size_t, size_t>> matches;
    scratch.spans.clear();
    for (const Span& span : p.spans) {
        matches.clear();
        std::string_view text = p.view(span);
        find(text, matches);
        split_span(span, text.size(), matches, behavior, invert, scratch.spans);
    }
    p.spans.swap(scratch.spans);
}

// tokenizers' `impl Pattern for Fn(char) -> bool`: every matching character is its own match.
template <typename Pred>
auto char_finder(Pred pred) {
    return [pred](std::string_view text, std::vector<std::pair<size_t, size_t>>& m) {
        for (size_t i = 0; i < text.size();) {
            uint32_t cp;
            size_t k = utf8_next(text, i, cp);
            if (pred(cp)) m.emplace_back(i, i + k);
            i += k;
        }
    };
}

// GPT-2's pre-tokenization regex (tokenizers' ByteLevel).
const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevel final : public PreTokenizer {
public:
    ByteLevel(bool add_prefix_space, bool use_regex, const std::string& where)
        : add_prefix_space_(add_prefix_space) {
        if (use_regex) regex_ = std::make_unique<Regex>(kGpt2Pattern, where);
    }
    void pre_tokenize(Pieces& p, Pieces& scratch) const override {
        const ByteLevelTable& table = byte_level_table();
        thread_local std::string tmp;
        thread_local std::vector<std::pair<size_t, size_t>> matches;
        scratch.buf.clear();
        scratch.spans.clear();
        for (const Span& span : p.spans) {
            std::string_view text = p.view(span);
            if (add_prefix_space_ && (text.empty() || text[0] != ' ')) {
                tmp.assign(" ");
                tmp.append(text);
                text = tmp;
            }
            auto emit = [&](size_t b, size_t e) {
                if (e == b) return;
                // Every byte becomes 1 or 2 UTF-8 bytes: size for the worst case, then trim.
                const size_t start = scratch.buf.size();
                scratch.buf.resize(start + 2 * (e - b));
                char* out = &scratch.buf[start];
                for (size_t i = b; i < e; ++i) {
                    const auto c = static_cast<unsigned char>(text[i]);
                    out[0] = table.utf8[c][0];
                    out[1] = table.utf8[c][1];
                    out += table.utf8_len[c];
                }
                scratch.buf.resize(static_cast<size_t>(out - scratch.buf.data()));
                scratch.spans.push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(scratch.buf.size()),
                                         span.at_origin && b == 0});
            };
            if (!regex_) {
                emit(0, text.size());
                continue;
            }
            matches.clear();
            regex_->find_all(text, matches);
            size_t prev = 0;
            for (auto [b, e] : matches) {
                emit(prev, b);
                emit(b, e);
                prev = e;
            }
            emit(prev, text.size());
        }
        std::swap(p.buf, scratch.buf);
        p.spans.swap(scratch.spans);
    }

private:
    bool add_prefix_space_;
    std::unique_ptr<Regex> regex_;
};

class Split final : public PreTokenizer {
public:
    Split(const Json& j, const std::string& where)
        : pattern_(field(j, "pattern", where), where + ".pattern"),
          behavior_(parse_behavior(j, "behavior", where, Behavior::Isolated)),
          invert_(get_bool(j, "invert", where, false)) {
        if (!j.contains("behavior")) fail(where, "missing field 'behavior'");
    }
    void pre_tokenize(Pieces& p, Pieces& scratch) const override {
        split_all(p, scratch, behavior_, invert_,
                  [this](std::string_view t, std::vector<std::pair<size_t, size_t>>& m) { pattern_.find_all(t, m); });
    }

private:
    Pattern pattern_;
    Behavior behavior_;
    bool invert_;
};

enum class Prepend { Always, First, Never };

class Metaspace final : public PreTokenizer {
public:
    Metaspace(uint32_t replacement, Prepend scheme, bool split) : scheme_(scheme), split_(split) {
        utf8_append(rep_, replacement);
    }
    void pre_tokenize(Pieces& p, Pieces& scratch) const override {
        scratch.buf.clear();
        scratch.spans.clear();
        for (const Span& span : p.spans) {
            std::string_view text = p.view(span);
            uint32_t start = static_cast<uint32_t>(scratch.buf.size());
            // ' ' is replaced first, so a leading space counts as a leading replacement.
            bool starts_with_rep = (!text.empty() && text[0] == ' ') || text.substr(0, rep_.size()) == rep_;
            if (!starts_with_rep && (scheme_ == Prepend::Always || (scheme_ == Prepend::First && span.at_origin)))
                scratch.buf += rep_;
            for (char c : text) {
                if (c == ' ') scratch.buf += rep_;
                else scratch.buf.push_back(c);
            }
            scratch.spans.push_back({start, static_cast<uint32_t>(scratch.buf.size()), span.at_origin});
        }
        std::swap(p.buf, scratch.buf);
        p.spans.swap(scratch.spans);
        if (split_) {
            const std::string& rep = rep_;
            split_all(p, scratch, Behavior::MergedWithNext, false,
                      [&rep](std::string_view t, std::vector<std::pair<size_t, size_t>>& m) {
                          size_t pos = 0;
                          while ((pos = t.find(rep, pos)) != std::string_view::npos) {
                              m.emplace_back(pos, pos + rep.size());
                              pos += rep.size();
                          }
                      });
        }
    }

private:
    std::string rep_;  // the replacement character, UTF-8
    Prepend scheme_;
    bool split_;
};

template <typename Pred>
class CharSplit final : public PreTokenizer {
public:
    CharSplit(Pred pred, Behavior behavior) : pred_(pred), behavior_(behavior) {}
    void pre_tokenize(Pieces& p, Pieces& scratch) const override {
        split_all(p, scratch, behavior_, false, char_finder(pred_));
    }

private:
    Pred pred_;
    Behavior behavior_;
};
template <typename Pred>
std::unique_ptr<PreTokenizer> make_char_split(Pred pred, Behavior b) {
    return std::make_unique<CharSplit<Pred>>(pred, b);
}

class RegexSplit final : public PreTokenizer {
public:
    RegexSplit(const char* pattern, Behavior behavior, bool invert, const std::string& where)
        : regex_(pattern, where), behavior_(behavior), invert_(invert) {}
    void pre_tokenize(Pieces& p, Pieces& scratch) const override {
        split_all(p, scratch, behavior_, invert_,
                  [this](std::string_view t, std::vector<std::pair<size_t, size_t>>& m) { regex_.find_all(t, m); });
    }

private:
    Regex regex_;
    Behavior behavior_;
    bool invert_;
};

class Sequence final : public PreTokenizer {
public:
    explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
    void pre_tokenize(Pieces& p, Pieces& scratch) const override {
        for (const auto& part : parts_) part->pre_tokenize(p, scratch);
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

uint32_t single_char(const Json& j, const char* key, const std::string& where, const char* fallback) {
    std::string s = get_string(j, key, where, fallback);
    if (s.empty() || !utf8_valid(s) || utf8_count(s) != 1) fail(where + "." + key, "expected exactly one character");
    uint32_t cp;
    utf8_next(s, 0, cp);
    return cp;
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& j, const std::string& where) {
    std::string type = type_of(j, where);
    if (type == "ByteLevel")
        return std::make_unique<ByteLevel>(get_bool(j, "add_prefix_space", where, true), get_bool(j, "use_regex", where, true),
                                           where);
    if (type == "Split") return std::make_unique<Split>(j, where);
    if (type == "Metaspace") {
        uint32_t rep = single_char(j, "replacement", where, "\xE2\x96\x81");
        Prepend scheme = Prepend::Always;
        if (j.contains("prepend_scheme")) {
            std::string s = get_string(j, "prepend_scheme", where, "always");
            if (s == "always") scheme = Prepend::Always;
            else if (s == "first") scheme = Prepend::First;
            else if (s == "never") scheme = Prepend::Never;
            else fail(where + ".prepend_scheme", "unknown prepend_scheme '" + s + "'");
        } else if (!get_bool(j, "add_prefix_space", where, true)) {
            scheme = Prepend::Never;  // legacy field
        }
        return std::make_unique<Metaspace>(rep, scheme, get_bool(j, "split", where, true));
    }
    if (type == "Digits") {
        bool individual = get_bool(j, "individual_digits", where, false);
        return make_char_split([](uint32_t c) { return is_numeric(c); },
                               individual ? Behavior::Isolated : Behavior::Contiguous);
    }
    if (type == "Whitespace") return std::make_unique<RegexSplit>(R"(\w+|[^\w\s]+)", Behavior::Removed, true, where);
    if (type == "WhitespaceSplit") return make_char_split([](uint32_t c) { return is_whitespace(c); }, Behavior::Removed);
    if (type == "Punctuation")
        return make_char_split([](uint32_t c) { return is_punctuation(c); },
                               parse_behavior(j, "behavior", where, Behavior::Isolated));
    if (type == "BertPreTokenizer") {
        std::vector<std::unique_ptr<PreTokenizer>> parts;
        parts.push_back(make_char_split([](uint32_t c) { return is_whitespace(c); }, Behavior::Removed));
        parts.push_back(make_char_split([](uint32_t c) { return is_punctuation(c); }, Behavior::Isolated));
        return std::make_unique<Sequence>(std::move(parts));
    }
    if (type == "CharDelimiterSplit") {
        uint32_t d = single_char(j, "delimiter", where, "");
        return make_char_split([d](uint32_t c) { return c == d; }, Behavior::Removed);
    }
    if (type == "Sequence") {
        const Json& list = field(j, "pretokenizers", where);
        if (!list.is_array()) fail(where + ".pretokenizers", "expected an array");
        std::vector<std::unique_ptr<PreTokenizer>> parts;
        for (size_t i = 0; i < list.size(); ++i)
            parts.push_back(make_pre_tokenizer(list[i], where + ".pretokenizers[" + std::to_string(i) + "]"));
        return std::make_unique<Sequence>(std::move(parts));
    }
    fail(where, "unsupported pre_tokenizer type '" + type + "'");
}

}  // namespace rlhf::text::detail
