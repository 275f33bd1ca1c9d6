// Decoders of tokenizer.json (tokenizers/src/decoders), Tokenizer::decode and DecodeStream.
// A decoder rewrites the list of token strings (decode_chain); the result is their
// concatenation. Without a decoder, tokens are joined with " " (as tokenizers does).
#include <nlohmann/json.hpp>

#include "core/text/tokenizer.h"
#include "core/text/tokenizer_internal.h"

namespace rlhf::text {

namespace detail {
namespace {

class ByteLevelDecoder final : public Decoder {
public:
    // Each token maps char -> byte; a token with a char outside the table is taken as its raw
    // UTF-8 (added tokens such as "<|im_start|>"). The bytes are then decoded lossily.
    void decode_chain(std::vector<std::string>& tokens) const override {
        const ByteLevelTable& t = byte_level_table();
        std::string bytes;
        std::string one;
        for (const std::string& tok : tokens) {
            one.clear();
            bool ok = true;
            for (size_t i = 0; i < tok.size() && ok;) {
                uint32_t cp;
                i += utf8_next(tok, i, cp);
                auto it = t.char_to_byte.find(cp);
                if (it == t.char_to_byte.end()) ok = false;
                else one.push_back(static_cast<char>(it->second));
            }
            bytes += ok ? one : tok;
        }
        tokens.assign(1, utf8_lossy(bytes));
    }
};

class ByteFallbackDecoder final : public Decoder {
public:
    // Runs of "<0xAB>" tokens become their bytes if those are valid UTF-8, else one U+FFFD per
    // byte token.
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        std::string bytes;
        size_t count = 0;
        auto flush = [&] {
            if (count == 0) return;
            if (utf8_valid(bytes)) out.push_back(bytes);
            else
                for (size_t k = 0; k < count; ++k) out.emplace_back("\xEF\xBF\xBD");
            bytes.clear();
            count = 0;
        };
        for (std::string& tok : tokens) {
            int byte = parse_byte(tok);
            if (byte >= 0) {
                bytes.push_back(static_cast<char>(byte));
                ++count;
            } else {
                flush();
                out.push_back(std::move(tok));
            }
        }
        flush();
        tokens.swap(out);
    }

private:
    static int hex(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }
    static int parse_byte(const std::string& t) {
        if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
        int h = hex(t[3]), l = hex(t[4]);
        return h < 0 || l < 0 ? -1 : h * 16 + l;
    }
};

class FuseDecoder final : public Decoder {
public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::string all;
        for (const auto& t : tokens) all += t;
        tokens.assign(1, std::move(all));
    }
};

class StripDecoder final : public Decoder {
public:
    StripDecoder(uint32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
    // Removes up to start_ leading and stop_ trailing occurrences of content_ from each token.
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<uint32_t> chars;
        for (std::string& tok : tokens) {
            chars.clear();
            for (size_t i = 0; i < tok.size();) {
                uint32_t cp;
                i += utf8_next(tok, i, cp);
                chars.push_back(cp);
            }
            size_t begin = 0;
            while (begin < start_ && begin < chars.size() && chars[begin] == content_) ++begin;
            size_t end = chars.size();
            for (size_t k = 0; k < stop_ && end > begin && chars[end - 1] == content_; ++k) --end;
            std::string out;
            for (size_t k = begin; k < end; ++k) utf8_append(out, chars[k]);
            tok.swap(out);
        }
    }

private:
    uint32_t content_;
    size_t start_, stop_;
};

class ReplaceDecoder final : public Decoder {
public:
    ReplaceDecoder(const Json& j, const std::string& where)
        : pattern_(field(j, "pattern", where), where + ".pattern"), content_(get_string(j, "content", where, "")) {
        if (!j.contains("content")) fail(where, "missing field 'content'");
    }
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<std::pair<size_t, size_t>> m;
        for (std::string& tok : tokens) {
            m.clear();
            pattern_.find_all(tok, m);
            if (m.empty()) continue;
            std::string out;
            size_t prev = 0;
            for (auto [b, e] : m) {
                out.append(tok, prev, b - prev);
                out += content_;
                prev = e;
            }
            out.append(tok, prev, std::string::npos);
            tok.swap(out);
        }
    }

private:
    Pattern pattern_;
    std::string content_;
};

class MetaspaceDecoder final : public Decoder {
public:
    MetaspaceDecoder(uint32_t replacement, bool drop_first) : replacement_(replacement), drop_first_(drop_first) {}
    // tokenizers drops every replacement char of the first token (unless prepend_scheme is
    // "never") and turns the others into spaces.
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (size_t t = 0; t < tokens.size(); ++t) {
            std::string out;
            const std::string& tok = tokens[t];
            for (size_t i = 0; i < tok.size();) {
                uint32_t cp;
                size_t k = utf8_next(tok, i, cp);
                if (cp == replacement_) {
                    if (!(t == 0 && drop_first_)) out.push_back(' ');
                } else {
                    out.append(tok, i, k);
                }
                i += k;
            }
            tokens[t].swap(out);
        }
    }

private:
    uint32_t replacement_;
    bool drop_first_;
};

class BpeSuffixDecoder final : public Decoder {
public:
    explicit BpeSuffixDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (size_t t = 0; t < tokens.size(); ++t) {
            const char* rep = t + 1 == tokens.size() ? "" : " ";
            std::string& tok = tokens[t];
            if (suffix_.empty()) continue;
            size_t pos = 0;
            while ((pos = tok.find(suffix_, pos)) != std::string::npos) {
                tok.replace(pos, suffix_.size(), rep);
                pos += std::char_traits<char>::length(rep);
            }
        }
    }

private:
    std::string suffix_;
};

class SequenceDecoder final : public Decoder {
public:
    explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (const auto& p : parts_) p->decode_chain(tokens);
    }

private:
    std::vector<std::unique_ptr<Decoder>> parts_;
};

uint32_t one_char(const Json& j, const char* key, const std::string& where, const char* fallback) {
    std::string s = get_string(j, key, where, fallback);
    if (s.empty() || !utf8_valid(s) || utf8_count(s) != 1) fail(where + "." + key, "expected exactly one character");
    uint32_t cp;
    utf8_next(s, 0, cp);
    return cp;
}

size_t count_field(const Json& j, const char* key, const std::string& where) {
    int64_t v = get_int(j, key, where, 0);
    if (v < 0) fail(where + "." + key, "must be >= 0");
    return static_cast<size_t>(v);
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const Json& j, const std::string& where) {
    std::string type = type_of(j, where);
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip")
        return std::make_unique<StripDecoder>(one_char(j, "content", where, " "), count_field(j, "start", where),
                                              count_field(j, "stop", where));
    if (type == "Replace") return std::make_unique<ReplaceDecoder>(j, where);
    if (type == "Metaspace") {
        bool drop_first = true;
        if (j.contains("prepend_scheme")) drop_first = get_string(j, "prepend_scheme", where, "always") != "never";
        else if (j.contains("add_prefix_space")) drop_first = get_bool(j, "add_prefix_space", where, true);
        return std::make_unique<MetaspaceDecoder>(one_char(j, "replacement", where, "\xE2\x96\x81"), drop_first);
    }
    if (type == "BPEDecoder") return std::make_unique<BpeSuffixDecoder>(get_string(j, "suffix", where, "</w>"));
    if (type == "Sequence") {
        const Json& list = field(j, "decoders", where);
        if (!list.is_array()) fail(where + ".decoders", "expected an array");
        std::vector<std::unique_ptr<Decoder>> parts;
        for (size_t i = 0; i < list.size(); ++i)
            parts.push_back(make_decoder(list[i], where + ".decoders[" + std::to_string(i) + "]"));
        return std::make_unique<SequenceDecoder>(std::move(parts));
    }
    fail(where, "unsupported decoder type '" + type + "'");
}

}  // namespace detail

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
    const detail::TokenizerImpl& t = *impl_;
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
        if (id < 0 || static_cast<size_t>(id) >= t.id_to_token.size() || !t.id_to_token[static_cast<size_t>(id)]) continue;
        if (skip_special_tokens && t.special[static_cast<size_t>(id)]) continue;
        tokens.push_back(*t.id_to_token[static_cast<size_t>(id)]);
    }
    if (!t.decoder) {
        std::string out;
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (i) out += ' ';
            out += tokens[i];
        }
        return out;
    }
    t.decoder->decode_chain(tokens);
    std::string out;
    for (const auto& s : tokens) out += s;
    return out;
}

// ---- DecodeStream: tokenizers' step_decode_stream.
DecodeStream::DecodeStream(const Tokenizer& tok, bool skip_special_tokens) : tok_(tok), skip_special_(skip_special_tokens) {}

namespace {
bool ends_with_replacement(const std::string& s) {
    return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}
}  // namespace

std::string DecodeStream::step(int32_t id) {
    if (prefix_.empty() && !ids_.empty()) {
        std::string p = tok_.decode(ids_, skip_special_);
        if (!ends_with_replacement(p)) {
            prefix_ = std::move(p);
            prefix_index_ = ids_.size();
        }
    }
    ids_.push_back(id);
    std::string s = tok_.decode(ids_, skip_special_);
    if (s.size() > prefix_.size() && !ends_with_replacement(s)) {
        if (s.compare(0, prefix_.size(), prefix_) != 0) {
            // The window no longer extends its prefix (a decoder that rewrites earlier text):
            // hold everything back and let flush() deliver it.
            return std::string();
        }
        std::string new_text = s.substr(prefix_.size());
        size_t new_prefix_index = ids_.size() - prefix_index_;
        ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_index_));
        prefix_ = tok_.decode(ids_, skip_special_);
        prefix_index_ = new_prefix_index;
        return new_text;
    }
    return std::string();
}

std::string DecodeStream::flush() {
    std::string s = tok_.decode(ids_, skip_special_);
    std::string rest = s.size() > prefix_.size() && s.compare(0, prefix_.size(), prefix_) == 0 ? s.substr(prefix_.size()) : std::string();
    ids_.clear();
    prefix_.clear();
    prefix_index_ = 0;
    return rest;
}

}  // namespace rlhf::text
