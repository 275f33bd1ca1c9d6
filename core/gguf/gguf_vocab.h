// The tokenizer part of a GGUF file (tokenizer.ggml.*), from a Hugging Face tokenizer.json and
// tokenizer_config.json — what llama.cpp needs to tokenize, detokenize and render chats itself.
// Byte-level BPE only (GPT-2, Llama 3, Qwen 2/3, SmolLM, our demo tokenizer): llama.cpp calls it
// the "gpt2" tokenizer model and picks its pre-tokenizer regex by name (tokenizer.ggml.pre).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/gguf/gguf_file.h"

namespace rlhf::gguf {

// llama_token_type (llama.h): how llama.cpp treats a vocabulary entry.
enum class TokenType : int32_t { NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 };

struct GgufVocab {
    std::string model = "gpt2";          // tokenizer.ggml.model
    std::string pre;                     // tokenizer.ggml.pre: "gpt-2" | "llama-bpe" | "qwen2" | "smollm"
    std::vector<std::string> tokens;     // by id, padded with "[PAD<id>]" up to the model's vocab_size
    std::vector<int64_t> token_types;    // TokenType per id
    std::vector<std::string> merges;     // "left right", in priority order
    int64_t bos_id = -1, eos_id = -1, pad_id = -1, unk_id = -1;  // -1 = not set
    bool add_bos = false;                // prepend BOS when encoding (tokenizer.ggml.add_bos_token)
    bool add_eos = false;                // append EOS when encoding
    std::string chat_template;           // tokenizer_config.json chat_template ("" = none)
};

// Reads <dir>/tokenizer.json (+ tokenizer_config.json when present). `vocab_size` is the number
// of embedding rows: ids the tokenizer does not use are filled as unused "[PAD<id>]" tokens, as
// llama.cpp's own converter does. `config_json` (config.json) supplies bos/eos ids the tokenizer
// config leaves out. Throws rlhf::Error naming the file and field for what we cannot express.
// Notes that do not stop the export (e.g. an unrecognised pre-tokenizer) go to `warnings`.
GgufVocab read_hf_vocab(const std::string& dir, int64_t vocab_size, const nlohmann::json& config_json,
                        std::vector<std::string>* warnings);

// Names llama.cpp's pre-tokenizer for a tokenizer.json "pre_tokenizer" object; "" if unknown.
std::string detect_pre_tokenizer(const nlohmann::json& pre_tokenizer);

// Writes the tokenizer.ggml.* keys (and tokenizer.chat_template) into `w`.
void add_vocab_metadata(GgufWriter& w, const GgufVocab& vocab);

}  // namespace rlhf::gguf
