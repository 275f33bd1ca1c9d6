// A byte-level BPE trainer (GPT-2 style) for the embedded demo: learns merges from a corpus and
// writes a tokenizer.json (+ tokenizer_config.json) that Hugging Face `tokenizers` and our
// rlhf::text::Tokenizer both load.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace rlhf::demo {

struct BpeTrainOptions {
    size_t vocab_size = 1024;                   // 256 byte tokens + merges + special tokens
    size_t min_pair_count = 2;                  // stop early when no pair occurs this often
    std::string eos_token = "<|endoftext|>";    // also bos and pad, as in GPT-2
};

struct BpeModel {
    std::vector<std::string> vocab;                           // id -> token (byte-level alphabet)
    std::vector<std::pair<std::string, std::string>> merges;  // in rank order
    std::string eos_token;
    size_t eos_id = 0;
};

BpeModel train_byte_level_bpe(const std::vector<std::string>& corpus, const BpeTrainOptions& options);

// Writes <dir>/tokenizer.json and <dir>/tokenizer_config.json (with a small chat template),
// atomically. Returns the path of tokenizer.json.
std::string save_bpe_tokenizer(const BpeModel& model, const std::string& dir);

// GPT-2's reversible byte -> printable code point map (the ByteLevel alphabet), as UTF-8.
const std::vector<std::string>& byte_level_alphabet();

}  // namespace rlhf::demo
