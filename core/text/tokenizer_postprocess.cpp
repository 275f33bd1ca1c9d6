// Post-processors of tokenizer.json (tokenizers/src/processors), for add_special_tokens on a
// single sequence: TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel (which only
// trims offsets, so it changes no ids) and Sequence.
#include <nlohmann/json.hpp>

#include "core/text/tokenizer_internal.h"

namespace rlhf::text::detail {

namespace {

class Template final : public PostProcessor {
public:
    Template(const Json& j, const std::string& where) {
        const Json& specials = field(j, "special_tokens", where);
        if (!specials.is_object()) fail(where + ".special_tokens", "expected an object");
        const Json& single = field(j, "single", where);
        if (!single.is_array()) fail(where + ".single", "expected an array of pieces");
        for (size_t i = 0; i < single.size(); ++i) {
            const Json& piece = single[i];
            std::string at = where + ".single[" + std::to_string(i) + "]";
            if (piece.is_object() && piece.contains("Sequence")) {
                std::string id = get_string(piece["Sequence"], "id", at + ".Sequence", "A");
                if (id != "A") fail(at + ".Sequence.id", "a single-sequence template can only use 'A', got '" + id + "'");
                items_.push_back(Item{true, {}});
            } else if (piece.is_object() && piece.contains("SpecialToken")) {
                std::string name = get_string(field(piece, "SpecialToken", at), "id", at + ".SpecialToken", "");
                if (!specials.contains(name))
                    fail(at + ".SpecialToken.id", "'" + name + "' is not in special_tokens");
                const Json& ids = field(specials[name], "ids", where + ".special_tokens[\"" + name + "\"]");
                if (!ids.is_array()) fail(where + ".special_tokens[\"" + name + "\"].ids", "expected an array of ids");
                Item item{false, {}};
                for (const Json& id : ids) {
                    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
                        fail(where + ".special_tokens[\"" + name + "\"].ids", "expected non-negative integer ids");
                    item.ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
                }
                items_.push_back(std::move(item));
            } else {
                fail(at, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
            }
        }
    }
    void process(std::vector<int32_t>& ids) const override {
        std::vector<int32_t> out;
        out.reserve(ids.size() + 4);
        for (const Item& it : items_) {
            if (it.sequence) out.insert(out.end(), ids.begin(), ids.end());
            else out.insert(out.end(), it.ids.begin(), it.ids.end());
        }
        ids.swap(out);
    }

private:
    struct Item {
        bool sequence;
        std::vector<int32_t> ids;
    };
    std::vector<Item> items_;
};

// RobertaProcessing / BertProcessing on one sequence: cls + ids + sep.
class ClsSep final : public PostProcessor {
public:
    ClsSep(const Json& j, const std::string& where) : cls_(token(j, "cls", where)), sep_(token(j, "sep", where)) {}
    void process(std::vector<int32_t>& ids) const override {
        ids.insert(ids.begin(), cls_);
        ids.push_back(sep_);
    }

private:
    static int32_t token(const Json& j, const char* key, const std::string& where) {
        const Json& t = field(j, key, where);
        if (!t.is_array() || t.size() != 2 || !t[0].is_string() || !t[1].is_number_integer() || t[1].get<int64_t>() < 0 ||
            t[1].get<int64_t>() > INT32_MAX)
            fail(where + "." + key, "expected [\"token\", id]");
        return static_cast<int32_t>(t[1].get<int64_t>());
    }
    int32_t cls_, sep_;
};

class Nothing final : public PostProcessor {
public:
    void process(std::vector<int32_t>&) const override {}
};

class Sequence final : public PostProcessor {
public:
    explicit Sequence(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
    void process(std::vector<int32_t>& ids) const override {
        for (const auto& p : parts_) p->process(ids);
    }

private:
    std::vector<std::unique_ptr<PostProcessor>> parts_;
};

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const Json& j, const std::string& where) {
    std::string type = type_of(j, where);
    if (type == "TemplateProcessing") return std::make_unique<Template>(j, where);
    if (type == "RobertaProcessing" || type == "BertProcessing") return std::make_unique<ClsSep>(j, where);
    if (type == "ByteLevel") return std::make_unique<Nothing>();
    if (type == "Sequence") {
        const Json& list = field(j, "processors", where);
        if (!list.is_array()) fail(where + ".processors", "expected an array");
        std::vector<std::unique_ptr<PostProcessor>> parts;
        for (size_t i = 0; i < list.size(); ++i)
            parts.push_back(make_post_processor(list[i], where + ".processors[" + std::to_string(i) + "]"));
        return std::make_unique<Sequence>(std::move(parts));
    }
    fail(where, "unsupported post_processor type '" + type + "'");
}

}  // namespace rlhf::text::detail
