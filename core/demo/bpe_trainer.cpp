#include "core/demo/bpe_trainer.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/io/utf8.h"

namespace rlhf::demo {

namespace {

std::string utf8(uint32_t cp) {
    std::string s;
    io::append_utf8(s, cp);
    return s;
}

// Pre-tokenization for training statistics only: splits like GPT-2's pattern does on ASCII
// text (an optional leading space joined to a run of letters, digits or punctuation; other
// whitespace on its own). Encoding later uses the ByteLevel pre-tokenizer written into
// tokenizer.json, so a different split here could only make merges less useful, never wrong.
std::vector<std::string> pre_split(const std::string& text) {
    std::vector<std::string> out;
    auto cls = [](unsigned char c) {
        if (std::isalpha(c) || c >= 0x80) return 1;
        if (std::isdigit(c)) return 2;
        if (std::isspace(c)) return 3;
        return 4;
    };
    size_t i = 0;
    while (i < text.size()) {
        size_t start = i;
        if (text[i] == ' ' && i + 1 < text.size() && cls(text[i + 1]) != 3) ++i;
        int c = cls(static_cast<unsigned char>(text[i]));
        while (i < text.size() && cls(static_cast<unsigned char>(text[i])) == c) ++i;
        out.push_back(text.substr(start, i - start));
    }
    return out;
}

}  // namespace

const std::vector<std::string>& byte_level_alphabet() {
    // Printable bytes map to themselves; the rest to 256 + n in byte order (GPT-2 encoder.py).
    static const std::vector<std::string> table = [] {
        std::vector<std::string> t(256);
        uint32_t n = 0;
        for (uint32_t b = 0; b < 256; ++b) {
            bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            t[b] = utf8(printable ? b : 256 + n++);
        }
        return t;
    }();
    return table;
}

BpeModel train_byte_level_bpe(const std::vector<std::string>& corpus, const BpeTrainOptions& options) {
    const auto& alpha = byte_level_alphabet();
    if (options.vocab_size < 257) throw Error("bpe trainer: vocab_size must be at least 257");

    // word (as symbol ids) -> count
    std::map<std::string, size_t> word_counts;
    for (const auto& doc : corpus)
        for (auto& w : pre_split(doc)) ++word_counts[w];

    BpeModel m;
    m.vocab.reserve(options.vocab_size);
    // Base vocabulary in byte order of their mapped characters' id: GPT-2 orders by the
    // printable-first table; we simply use byte order (ids are ours to choose).
    for (int b = 0; b < 256; ++b) m.vocab.push_back(alpha[b]);
    std::unordered_map<std::string, int> token_id;
    for (int i = 0; i < 256; ++i) token_id[m.vocab[i]] = i;

    struct Word {
        std::vector<int> symbols;
        size_t count;
    };
    std::vector<Word> words;
    for (const auto& [w, c] : word_counts) {
        Word word{{}, c};
        for (unsigned char ch : w) word.symbols.push_back(ch);
        words.push_back(std::move(word));
    }

    const size_t merges_wanted = options.vocab_size - 256 - 1;  // one id for eos
    while (m.merges.size() < merges_wanted) {
        std::map<std::pair<int, int>, size_t> pairs;  // ordered: ties break deterministically
        for (const auto& w : words)
            for (size_t i = 0; i + 1 < w.symbols.size(); ++i) pairs[{w.symbols[i], w.symbols[i + 1]}] += w.count;
        if (pairs.empty()) break;
        auto best = pairs.begin();
        for (auto it = pairs.begin(); it != pairs.end(); ++it)
            if (it->second > best->second) best = it;
        if (best->second < options.min_pair_count) break;
        const auto [a, b] = best->first;
        int new_id = static_cast<int>(m.vocab.size());
        m.vocab.push_back(m.vocab[a] + m.vocab[b]);
        m.merges.emplace_back(m.vocab[a], m.vocab[b]);
        for (auto& w : words) {
            std::vector<int> merged;
            merged.reserve(w.symbols.size());
            for (size_t i = 0; i < w.symbols.size(); ++i) {
                if (i + 1 < w.symbols.size() && w.symbols[i] == a && w.symbols[i + 1] == b) {
                    merged.push_back(new_id);
                    ++i;
                } else {
                    merged.push_back(w.symbols[i]);
                }
            }
            w.symbols.swap(merged);
        }
    }
    m.eos_token = options.eos_token;
    m.eos_id = m.vocab.size();
    return m;
}

std::string save_bpe_tokenizer(const BpeModel& model, const std::string& dir) {
    using nlohmann::json;
    std::filesystem::create_directories(dir);
    json vocab = json::object();
    for (size_t i = 0; i < model.vocab.size(); ++i) vocab[model.vocab[i]] = i;
    json merges = json::array();
    for (const auto& [a, b] : model.merges) merges.push_back(a + " " + b);
    json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    json tok = {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", json::array({{{"id", model.eos_id}, {"content", model.eos_token}, {"single_word", false},
                                       {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", true}}})},
        {"normalizer", nullptr},
        {"pre_tokenizer", byte_level},
        // add_special_tokens prepends <|endoftext|> as BOS: the model is trained on text that
        // follows it, so prompts encoded for generation start the same way.
        {"post_processor",
         {{"type", "TemplateProcessing"},
          {"single", json::array({{{"SpecialToken", {{"id", model.eos_token}, {"type_id", 0}}}},
                                  {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
          {"pair", json::array({{{"SpecialToken", {{"id", model.eos_token}, {"type_id", 0}}}},
                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
          {"special_tokens",
           {{model.eos_token, {{"id", model.eos_token}, {"ids", {model.eos_id}}, {"tokens", {model.eos_token}}}}}}}},
        {"decoder", byte_level},
        {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                   {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                   {"ignore_merges", false}, {"vocab", vocab}, {"merges", merges}}},
    };
    // A minimal chat template in the style of ChatML, so `rlhf chat` works on the demo model.
    const char* chat_template =
        "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}";
    json config = {
        {"tokenizer_class", "GPT2Tokenizer"},
        {"bos_token", model.eos_token},
        {"eos_token", model.eos_token},
        {"pad_token", model.eos_token},
        {"unk_token", model.eos_token},
        {"model_max_length", 1024},
        {"add_prefix_space", false},
        {"chat_template", chat_template},
    };
    std::string path = (std::filesystem::path(dir) / "tokenizer.json").string();
    io::write_file_atomic(path, tok.dump(2));
    io::write_file_atomic((std::filesystem::path(dir) / "tokenizer_config.json").string(), config.dump(2));
    return path;
}

}  // namespace rlhf::demo
