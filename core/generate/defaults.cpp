// generation_config.json -> GenerateOptions (transformers' GenerationConfig field names).
#include "core/generate/defaults.h"

#include "core/io/error.h"
#include "core/model/checkpoint.h"

namespace rlhf::generate {

GenerateOptions options_from_model_dir(const std::string& dir, const model::ModelConfig& config) {
    GenerateOptions o;
    nlohmann::json g = model::read_generation_config(dir);
    const std::string where = dir + "/generation_config.json";
    auto num = [&](const char* key, double fallback) {
        auto it = g.find(key);
        if (it == g.end() || it->is_null()) return fallback;
        if (!it->is_number()) throw Error(where + ": field '" + key + "' must be a number");
        return it->get<double>();
    };
    o.eos_token_ids = model::generation_eos_ids(dir, config);
    o.sampling.do_sample = g.value("do_sample", false);
    o.sampling.temperature = num("temperature", 1.0);
    o.sampling.top_k = static_cast<int64_t>(num("top_k", 50));  // GenerationConfig default 50
    o.sampling.top_p = num("top_p", 1.0);
    o.sampling.min_p = num("min_p", 0.0);
    o.sampling.repetition_penalty = num("repetition_penalty", 1.0);
    if (g.contains("max_new_tokens") && g["max_new_tokens"].is_number_integer())
        o.max_new_tokens = g["max_new_tokens"].get<int64_t>();
    int64_t pad = config.pad_token_id;
    if (g.contains("pad_token_id") && g["pad_token_id"].is_number_integer()) pad = g["pad_token_id"].get<int64_t>();
    if (pad < 0 && !o.eos_token_ids.empty()) pad = o.eos_token_ids[0];
    o.pad_token_id = pad < 0 ? 0 : pad;
    return o;
}

}  // namespace rlhf::generate
