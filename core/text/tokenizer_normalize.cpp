// Normalizers of tokenizer.json (tokenizers/src/normalizers). Offsets are not tracked: the
// workbench needs ids, not alignments, so each normalizer is a plain string -> string rewrite.
#include <nlohmann/json.hpp>

#include "core/text/tokenizer_internal.h"

namespace rlhf::text::detail {

namespace {

class UnicodeNorm final : public Normalizer {
public:
    explicit UnicodeNorm(NormForm f) : form_(f) {}
    void normalize(std::string& s) const override { s = unicode_normalize(s, form_); }

private:
    NormForm form_;
};

class Lowercase final : public Normalizer {
public:
    void normalize(std::string& s) const override {
        std::string out;
        out.reserve(s.size());
        for (size_t i = 0; i < s.size();) {
            uint32_t cp;
            i += utf8_next(s, i, cp);
            append_lowercase(out, cp);
        }
        s.swap(out);
    }
};

class Strip final : public Normalizer {
public:
    Strip(bool left, bool right) : left_(left), right_(right) {}
    void normalize(std::string& s) const override {
        size_t end = right_ ? trailing_space_start(s) : s.size();
        size_t begin = left_ ? leading_space_len(std::string_view(s).substr(0, end)) : 0;
        s = s.substr(begin, end - begin);
    }

private:
    bool left_, right_;
};

// Drops combining marks: all of M* for the StripAccents normalizer (is_combining_mark), only Mn
// inside BertNormalizer (is_mark_nonspacing).
class StripAccents final : public Normalizer {
public:
    explicit StripAccents(bool nonspacing_only) : nonspacing_only_(nonspacing_only) {}
    void normalize(std::string& s) const override {
        std::string out;
        out.reserve(s.size());
        for (size_t i = 0; i < s.size();) {
            uint32_t cp;
            size_t k = utf8_next(s, i, cp);
            if (!(nonspacing_only_ ? is_mark_nonspacing(cp) : is_mark(cp))) out.append(s, i, k);
            i += k;
        }
        s.swap(out);
    }

private:
    bool nonspacing_only_;
};

class Prepend final : public Normalizer {
public:
    explicit Prepend(std::string p) : prepend_(std::move(p)) {}
    // tokenizers prepends only to a non-empty string.
    void normalize(std::string& s) const override {
        if (!s.empty()) s.insert(0, prepend_);
    }

private:
    std::string prepend_;
};

class Replace final : public Normalizer {
public:
    Replace(const Json& j, const std::string& where)
        : pattern_(field(j, "pattern", where), where + ".pattern"), content_(get_string(j, "content", where, "")) {
        if (!j.contains("content")) fail(where, "missing field 'content'");
    }
    void normalize(std::string& s) const override {
        std::vector<std::pair<size_t, size_t>> m;
        pattern_.find_all(s, m);
        if (m.empty()) return;
        std::string out;
        out.reserve(s.size() + m.size() * content_.size());
        size_t prev = 0;
        for (auto [b, e] : m) {
            out.append(s, prev, b - prev);
            out += content_;
            prev = e;
        }
        out.append(s, prev, std::string::npos);
        s.swap(out);
    }

private:
    Pattern pattern_;
    std::string content_;
};

// BERT's cleanup: drop NUL/U+FFFD/controls, whitespace -> ' ', pad CJK ideographs with spaces,
// optionally strip accents (NFD, drop Mn) and lowercase.
class BertNormalizer final : public Normalizer {
public:
    BertNormalizer(bool clean, bool chinese, bool strip_accents, bool lowercase)
        : clean_(clean), chinese_(chinese), strip_accents_(strip_accents), lowercase_(lowercase) {}
    void normalize(std::string& s) const override {
        std::string out;
        out.reserve(s.size());
        for (size_t i = 0; i < s.size();) {
            uint32_t cp;
            size_t k = utf8_next(s, i, cp);
            i += k;
            if (clean_) {
                if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
                if (is_whitespace(cp)) { out.push_back(' '); continue; }
            }
            if (chinese_ && is_cjk(cp)) {
                out.push_back(' ');
                utf8_append(out, cp);
                out.push_back(' ');
                continue;
            }
            utf8_append(out, cp);
        }
        if (strip_accents_) {
            out = unicode_normalize(out, NormForm::NFD);
            StripAccents(/*nonspacing_only=*/true).normalize(out);
        }
        if (lowercase_) Lowercase().normalize(out);
        s.swap(out);
    }

private:
    bool clean_, chinese_, strip_accents_, lowercase_;
};

class Sequence final : public Normalizer {
public:
    explicit Sequence(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
    void normalize(std::string& s) const override {
        for (const auto& p : parts_) p->normalize(s);
    }

private:
    std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const Json& j, const std::string& where) {
    std::string type = type_of(j, where);
    if (type == "NFC") return std::make_unique<UnicodeNorm>(NormForm::NFC);
    if (type == "NFD") return std::make_unique<UnicodeNorm>(NormForm::NFD);
    if (type == "NFKC") return std::make_unique<UnicodeNorm>(NormForm::NFKC);
    if (type == "NFKD") return std::make_unique<UnicodeNorm>(NormForm::NFKD);
    if (type == "Lowercase") return std::make_unique<Lowercase>();
    if (type == "StripAccents") return std::make_unique<StripAccents>(/*nonspacing_only=*/false);
    if (type == "Strip")
        return std::make_unique<Strip>(get_bool(j, "strip_left", where, true), get_bool(j, "strip_right", where, true));
    if (type == "Prepend") {
        if (!j.contains("prepend")) fail(where, "missing field 'prepend'");
        return std::make_unique<Prepend>(get_string(j, "prepend", where, ""));
    }
    if (type == "Replace") return std::make_unique<Replace>(j, where);
    if (type == "BertNormalizer") {
        bool lowercase = get_bool(j, "lowercase", where, true);
        bool strip = lowercase;  // strip_accents: null follows lowercase
        if (j.contains("strip_accents") && !j["strip_accents"].is_null()) strip = get_bool(j, "strip_accents", where, lowercase);
        return std::make_unique<BertNormalizer>(get_bool(j, "clean_text", where, true),
                                                get_bool(j, "handle_chinese_chars", where, true), strip, lowercase);
    }
    if (type == "Sequence") {
        const Json& list = field(j, "normalizers", where);
        if (!list.is_array()) fail(where + ".normalizers", "expected an array");
        std::vector<std::unique_ptr<Normalizer>> parts;
        for (size_t i = 0; i < list.size(); ++i)
            parts.push_back(make_normalizer(list[i], where + ".normalizers[" + std::to_string(i) + "]"));
        return std::make_unique<Sequence>(std::move(parts));
    }
    fail(where, "unsupported normalizer type '" + type + "'");
}

}  // namespace rlhf::text::detail
