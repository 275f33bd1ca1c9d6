// rlhf::text::Tokenizer: loading from disk, encode (the pipeline order of tokenizers'
// TokenizerImpl::encode_single_sequence) and the small accessors.
#include "core/text/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/io/error.h"
#include "core/text/tokenizer_internal.h"

namespace rlhf::text {

namespace fs = std::filesystem;

namespace {
std::string read_text_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw Error(p.string() + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw Error(p.string() + ": read error");
    return ss.str();
}
}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<detail::TokenizerImpl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::shared_ptr<const Tokenizer> Tokenizer::from_json(const std::string& tokenizer_json, const std::string& tokenizer_config_json,
                                                      const std::string& label) {
    return std::shared_ptr<const Tokenizer>(new Tokenizer(detail::load_tokenizer(tokenizer_json, tokenizer_config_json, label)));
}

std::shared_ptr<const Tokenizer> Tokenizer::from_file(const std::string& path) {
    fs::path p(path);
    std::error_code ec;
    if (fs::is_directory(p, ec)) p /= "tokenizer.json";
    if (!fs::exists(p, ec)) throw Error(p.string() + ": no such file (expected a model folder or a tokenizer.json)");
    fs::path dir = p.parent_path();
    std::string config;
    if (fs::exists(dir / "tokenizer_config.json", ec)) config = read_text_file(dir / "tokenizer_config.json");
    auto tok = std::shared_ptr<Tokenizer>(new Tokenizer(detail::load_tokenizer(read_text_file(p), config, p.string())));
    // Newer models ship the template as its own file.
    if (tok->impl_->chat_template.empty() && fs::exists(dir / "chat_template.jinja", ec))
        tok->impl_->chat_template = read_text_file(dir / "chat_template.jinja");
    return tok;
}

void detail::TokenizerImpl::encode_piece(std::string_view piece, bool at_origin, std::vector<int32_t>& ids) const {
    thread_local Pieces p, scratch;
    p.buf.assign(piece.data(), piece.size());
    p.spans.assign(1, Span{0, static_cast<uint32_t>(piece.size()), at_origin});
    if (pre_tokenizer) pre_tokenizer->pre_tokenize(p, scratch);
    for (const Span& s : p.spans) bpe_tokenize(*model, p.view(s), ids);
}

std::vector<int32_t> Tokenizer::encode(std::string_view input, bool add_special_tokens) const {
    if (input.size() > UINT32_MAX / 4) throw Error(impl_->label + ": encode: text too long (" + std::to_string(input.size()) + " bytes)");
    const detail::TokenizerImpl& t = *impl_;
    std::string cleaned;
    std::string_view text = input;
    if (!detail::utf8_valid(input)) {
        cleaned = detail::utf8_lossy(input);
        text = cleaned;
    }
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 8);
    auto encode_normalized = [&](std::string_view s, bool at_origin) {
        if (s.empty()) return;
        t.normalized_matcher.split(s, [&](size_t b, size_t e, const detail::AddedToken* tok) {
            if (tok) ids.push_back(tok->id);
            else if (e > b) t.encode_piece(s.substr(b, e - b), at_origin && b == 0, ids);
        });
    };
    t.raw_matcher.split(text, [&](size_t b, size_t e, const detail::AddedToken* tok) {
        if (tok) {
            ids.push_back(tok->id);
            return;
        }
        if (e == b) return;
        std::string_view piece = text.substr(b, e - b);
        if (t.normalizer) {
            std::string normalized(piece);
            t.normalizer->normalize(normalized);
            encode_normalized(normalized, b == 0);
        } else {
            encode_normalized(piece, b == 0);
        }
    });
    if (add_special_tokens && t.post_processor) t.post_processor->process(ids);
    return ids;
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
    auto it = impl_->added_by_content.find(std::string(token));
    if (it != impl_->added_by_content.end()) return it->second;
    return detail::bpe_token_to_id(*impl_->model, token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= impl_->id_to_token.size() || !impl_->id_to_token[static_cast<size_t>(id)]) return "";
    return *impl_->id_to_token[static_cast<size_t>(id)];
}

size_t Tokenizer::vocab_size() const { return impl_->vocab_size; }
int32_t Tokenizer::bos_id() const { return impl_->bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->eos_id; }
int32_t Tokenizer::pad_id() const { return impl_->pad_id; }
const std::string& Tokenizer::bos_token() const { return impl_->bos_token; }
const std::string& Tokenizer::eos_token() const { return impl_->eos_token; }
const std::string& Tokenizer::chat_template() const { return impl_->chat_template; }

bool Tokenizer::is_special(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < impl_->special.size() && impl_->special[static_cast<size_t>(id)];
}

}  // namespace rlhf::text
