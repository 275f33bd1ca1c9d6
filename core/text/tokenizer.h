// rlhf::text::Tokenizer — Hugging Face tokenizer.json, id-for-id compatible with the Rust
// `tokenizers` library (checked against it through its Node binding; tests/tools/tokenizer/).
//
// Supported: model BPE (byte-level: GPT-2, Llama 3, Qwen 2/3, SmolLM; SentencePiece-style with
// byte fallback: Llama 2, Mistral, Gemma), both merges formats, ignore_merges; added tokens with
// special / lstrip / rstrip / normalized / single_word; normalizers NFC NFD NFKC NFKD Lowercase
// Strip StripAccents Prepend Replace BertNormalizer Sequence; pre-tokenizers ByteLevel Split
// Metaspace Digits Whitespace WhitespaceSplit Punctuation BertPreTokenizer CharDelimiterSplit
// Sequence; post-processors TemplateProcessing ByteLevel RobertaProcessing BertProcessing
// Sequence; decoders ByteLevel ByteFallback Metaspace Fuse Strip Replace Sequence. Anything else
// is an rlhf::Error that names the component and its JSON path.
//
// Pipeline of encode() (same order as tokenizers' TokenizerImpl::encode_single_sequence):
//   split on non-normalized added tokens -> normalize each remaining piece -> split on normalized
//   added tokens -> pre-tokenize -> BPE per pre-token (cached) -> post-process (specials).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rlhf::text {

namespace detail {
struct TokenizerImpl;
}

class Tokenizer {
public:
    // path: a model folder or the tokenizer.json itself; tokenizer_config.json beside it is read
    // when present (and chat_template.jinja when the config has no "chat_template").
    static std::shared_ptr<const Tokenizer> from_file(const std::string& path);
    // label names the source in error messages (e.g. the file path).
    static std::shared_ptr<const Tokenizer> from_json(const std::string& tokenizer_json,
                                                      const std::string& tokenizer_config_json /* may be "" */,
                                                      const std::string& label);

    // Thread-safe. Invalid UTF-8 in text is replaced by U+FFFD first (as Rust's from_utf8_lossy).
    std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
    // Ids out of range are skipped (as in tokenizers). skip_special_tokens drops added tokens
    // marked special.
    std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

    int32_t token_to_id(std::string_view token) const;   // -1 if absent
    std::string id_to_token(int32_t id) const;           // "" if out of range
    size_t vocab_size() const;                            // model vocab + added tokens

    // From tokenizer_config.json bos_token/eos_token/pad_token (a string or {"content": ...});
    // -1 / "" if none.
    int32_t bos_id() const;
    int32_t eos_id() const;
    int32_t pad_id() const;
    const std::string& bos_token() const;
    const std::string& eos_token() const;
    bool is_special(int32_t id) const;
    // tokenizer_config.json "chat_template" ("" if none; a list of named templates -> "default").
    const std::string& chat_template() const;

    ~Tokenizer();
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    // Internal: the parsed pipeline (core/text/tokenizer_internal.h).
    const detail::TokenizerImpl& impl() const { return *impl_; }

private:
    explicit Tokenizer(std::unique_ptr<detail::TokenizerImpl> impl);
    std::unique_ptr<detail::TokenizerImpl> impl_;
};

// Incremental detokenizer for streaming (the algorithm of tokenizers' DecodeStream: decode a
// short window of ids and emit what grew past the window's stable prefix). step() returns the
// newly completed text, never a partial UTF-8 sequence, so concatenating all steps and flush()
// == decode(all ids).
class DecodeStream {
public:
    DecodeStream(const Tokenizer& tok, bool skip_special_tokens);
    std::string step(int32_t id);
    // Whatever is still held back (e.g. an incomplete UTF-8 sequence, decoded lossily).
    std::string flush();

private:
    const Tokenizer& tok_;
    bool skip_special_;
    std::vector<int32_t> ids_;   // the window: ids_[0, prefix_index_) decode to prefix_
    std::string prefix_;
    size_t prefix_index_ = 0;
};

}  // namespace rlhf::text
