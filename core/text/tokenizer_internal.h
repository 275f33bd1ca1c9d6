// Internal pieces of rlhf::text::Tokenizer (not for other modules): UTF-8 helpers, the PCRE2
// regex wrapper, and the component interfaces (normalizer, pre-tokenizer, BPE model,
// post-processor, decoder), each built from its tokenizer.json object by a make_* function that
// throws rlhf::Error naming the JSON path ("tokenizer.json: pre_tokenizer.pretokenizers[0]: ...").
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace rlhf::text::detail {

using Json = nlohmann::json;

// ---- UTF-8 (tokenizer_unicode.cpp)
// Decodes the code point at s[i] of valid UTF-8; returns its byte length.
inline size_t utf8_next(std::string_view s, size_t i, uint32_t& cp) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
    if (p[0] < 0x80) { cp = p[0]; return 1; }
    if (p[0] < 0xE0) { cp = ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu); return 2; }
    if (p[0] < 0xF0) { cp = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu); return 3; }
    cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
    return 4;
}
inline size_t utf8_len_of_lead(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }
void utf8_append(std::string& out, uint32_t cp);
// Rust String::from_utf8_lossy: each maximal ill-formed subpart becomes one U+FFFD.
std::string utf8_lossy(std::string_view bytes);
bool utf8_valid(std::string_view bytes);
size_t utf8_count(std::string_view s);

// Character classes with Rust's `char` semantics (Unicode data from utf8proc).
bool is_whitespace(uint32_t cp);          // White_Space property (char::is_whitespace)
bool is_numeric(uint32_t cp);             // Nd, Nl, No (char::is_numeric)
bool is_punctuation(uint32_t cp);         // ASCII punctuation or P* (tokenizers' is_punc)
bool is_word_char(uint32_t cp);           // regex \w: alphabetic, M*, Nd, Pc, join controls
bool is_mark_nonspacing(uint32_t cp);     // Mn (BertNormalizer's accent stripping)
bool is_mark(uint32_t cp);                // Mn, Mc, Me (StripAccents: is_combining_mark)
bool is_control(uint32_t cp);             // Cc/Cf/Co/Cs except \t \n \r (BertNormalizer)
bool is_cjk(uint32_t cp);                 // BertNormalizer's Chinese character ranges
void append_lowercase(std::string& out, uint32_t cp);  // char::to_lowercase (full mapping)
enum class NormForm { NFC, NFD, NFKC, NFKD };
std::string unicode_normalize(std::string_view s, NormForm form);

// GPT-2's bytes_to_unicode: byte -> printable code point, UTF-8 encoded (1 or 2 bytes).
struct ByteLevelTable {
    std::string byte_to_utf8[256];
    char utf8[256][2];    // the same, as raw bytes for the hot loop
    uint8_t utf8_len[256];
    std::unordered_map<uint32_t, uint8_t> char_to_byte;
};
const ByteLevelTable& byte_level_table();

// ---- Regex (tokenizer_regex.cpp): PCRE2, UTF + UCP, JIT. Patterns are translated so that
// \s \S \w \W mean what they mean in Oniguruma / Rust regex (White_Space, Unicode word), which
// is what Hugging Face's Rust code runs.
class Regex {
public:
    Regex(const std::string& pattern, const std::string& where);  // throws rlhf::Error
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;
    // All non-overlapping matches (byte offsets into text, which must be valid UTF-8), left to
    // right; after an empty match the search resumes one character later.
    void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

private:
    struct Code;
    std::unique_ptr<Code> code_;
};

// A tokenizers Pattern: {"String": "..."} (literal) or {"Regex": "..."}.
class Pattern {
public:
    Pattern(const Json& j, const std::string& where);
    void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

private:
    std::string literal_;
    std::unique_ptr<Regex> regex_;
};

// ---- Pieces: the PreTokenizedString. Spans into one buffer; transforms write a new buffer.
struct Span {
    uint32_t begin = 0, end = 0;
    bool at_origin = false;  // starts at offset 0 of the original input (Metaspace "first")
};
struct Pieces {
    std::string buf;
    std::vector<Span> spans;
    std::string_view view(const Span& s) const { return std::string_view(buf).substr(s.begin, s.end - s.begin); }
};

// ---- Components
class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual void normalize(std::string& s) const = 0;
};
std::unique_ptr<Normalizer> make_normalizer(const Json& j, const std::string& where);

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Rewrites p (scratch is spare storage to swap with).
    virtual void pre_tokenize(Pieces& p, Pieces& scratch) const = 0;
};
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& j, const std::string& where);

class BpeModel;  // tokenizer_bpe.cpp
struct BpeModelDeleter { void operator()(BpeModel* m) const; };
using BpeModelPtr = std::unique_ptr<BpeModel, BpeModelDeleter>;
BpeModelPtr make_bpe_model(const Json& j, const std::string& where);
// Appends the ids of one pre-token.
void bpe_tokenize(const BpeModel& m, std::string_view word, std::vector<int32_t>& out);
int32_t bpe_token_to_id(const BpeModel& m, std::string_view token);  // -1 if absent
// The model's vocab as id -> token ("" holes); size = largest id + 1.
const std::vector<std::string>& bpe_id_to_token(const BpeModel& m);
size_t bpe_vocab_count(const BpeModel& m);  // number of vocab entries (get_vocab_size)

class PostProcessor {
public:
    virtual ~PostProcessor() = default;
    virtual void process(std::vector<int32_t>& ids) const = 0;  // only called with add_special_tokens
};
// The loader checks the ids it inserts against the vocab (by processing an empty sequence).
std::unique_ptr<PostProcessor> make_post_processor(const Json& j, const std::string& where);

class Decoder {
public:
    virtual ~Decoder() = default;
    virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};
std::unique_ptr<Decoder> make_decoder(const Json& j, const std::string& where);

// ---- Added tokens: leftmost-longest matcher over their contents.
struct AddedToken {
    std::string content;
    int32_t id = -1;
    bool special = false, lstrip = false, rstrip = false, normalized = false, single_word = false;
};
class AddedMatcher {
public:
    void build(const std::vector<const AddedToken*>& tokens, const std::vector<std::string>& patterns);
    bool empty() const { return nodes_.size() <= 1; }
    // Splits text as tokenizers' AddedVocabulary::find_matches: fn(begin, end, token or nullptr).
    template <typename Fn>
    void split(std::string_view text, Fn&& fn) const;

private:
    struct Node {
        std::vector<std::pair<unsigned char, int32_t>> next;  // sorted by byte
        int32_t token = -1;                                   // index into tokens_
    };
    // Longest token starting at text[pos]: its index and end, or -1.
    int32_t longest_at(std::string_view text, size_t pos, size_t& end) const;
    std::vector<Node> nodes_;
    std::vector<const AddedToken*> tokens_;
    bool first_byte_[256] = {};
};

// ---- The whole tokenizer
struct TokenizerImpl {
    std::string label;
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> pre_tokenizer;
    BpeModelPtr model;
    std::unique_ptr<PostProcessor> post_processor;
    std::unique_ptr<Decoder> decoder;

    std::vector<AddedToken> added;                 // in tokenizer.json order
    std::unordered_map<std::string, int32_t> added_by_content;
    AddedMatcher raw_matcher;                      // normalized == false
    AddedMatcher normalized_matcher;               // normalized == true (matched after normalizing)
    std::vector<const std::string*> id_to_token;   // model vocab overlaid with added tokens
    std::vector<uint8_t> special;                  // per id: 1 if a special added token
    size_t vocab_size = 0;

    std::string bos_token, eos_token, pad_token, chat_template;
    int32_t bos_id = -1, eos_id = -1, pad_id = -1;

    void encode_piece(std::string_view piece, bool at_origin, std::vector<int32_t>& ids) const;
};

// tokenizer_load.cpp
std::unique_ptr<TokenizerImpl> load_tokenizer(const std::string& tokenizer_json, const std::string& config_json,
                                              const std::string& label);

// ---- Small JSON helpers shared by the make_* functions (tokenizer_load.cpp).
[[noreturn]] void fail(const std::string& where, const std::string& what);
const Json& field(const Json& obj, const char* key, const std::string& where);   // required
std::string get_string(const Json& obj, const char* key, const std::string& where, const std::string& fallback);
bool get_bool(const Json& obj, const char* key, const std::string& where, bool fallback);
int64_t get_int(const Json& obj, const char* key, const std::string& where, int64_t fallback);
std::string type_of(const Json& obj, const std::string& where);  // obj["type"], an object required

// ---- AddedMatcher::split (template, used by tokenizer.cpp)
bool ends_with_word(std::string_view s);
bool starts_with_word(std::string_view s);
size_t trailing_space_start(std::string_view s);
size_t leading_space_len(std::string_view s);

template <typename Fn>
void AddedMatcher::split(std::string_view text, Fn&& fn) const {
    if (empty() || text.empty()) {
        fn(size_t{0}, text.size(), static_cast<const AddedToken*>(nullptr));
        return;
    }
    size_t start_offset = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        if (!first_byte_[static_cast<unsigned char>(text[pos])]) { ++pos; continue; }
        size_t end = 0;
        int32_t t = longest_at(text, pos, end);
        if (t < 0) { ++pos; continue; }
        const AddedToken* tok = tokens_[t];
        size_t start = pos, stop = end;
        pos = end;  // the automaton resumes after the raw match
        if (tok->single_word) {
            bool start_space = start == 0 || !ends_with_word(text.substr(0, start));
            bool stop_space = stop == text.size() || !starts_with_word(text.substr(stop));
            if (!start_space || !stop_space) continue;
        }
        if (tok->lstrip) {
            size_t new_start = trailing_space_start(text.substr(0, start));
            start = new_start > start_offset ? new_start : start_offset;
        }
        if (tok->rstrip) stop += leading_space_len(text.substr(stop));
        if (start_offset < start) fn(start_offset, start, static_cast<const AddedToken*>(nullptr));
        fn(start, stop, tok);
        start_offset = stop;
        if (pos < stop) pos = stop;
    }
    if (start_offset != text.size()) fn(start_offset, text.size(), static_cast<const AddedToken*>(nullptr));
}

}  // namespace rlhf::text::detail
