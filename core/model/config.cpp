// config.json -> ModelConfig. Defaults per family follow transformers' GPT2Config, LlamaConfig,
// MistralConfig, Qwen2Config and Qwen3Config, so a field left out means what it means there.
#include "core/model/config.h"

#include <sys/stat.h>

#include <map>

#include "core/io/error.h"
#include "core/io/json_io.h"

namespace rlhf::model {

namespace {

using io::get_bool;
using io::get_double;
using io::get_int;
using io::get_string;

using nlohmann::json;

bool is_dir(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// bos_token_id / eos_token_id: an integer, a list of integers (Llama 3.1), or null.
std::vector<int64_t> get_id_list(const json& j, const char* key, std::vector<int64_t> fallback,
                                 const std::string& label) {
    auto it = j.find(key);
    if (it == j.end()) return fallback;
    if (it->is_null()) return {};
    if (it->is_number_integer()) return {it->get<int64_t>()};
    if (it->is_array()) {
        std::vector<int64_t> out;
        for (const auto& v : *it) {
            if (!v.is_number_integer()) throw Error(label + ": field '" + key + "' must hold integers");
            out.push_back(v.get<int64_t>());
        }
        return out;
    }
    throw Error(label + ": field '" + key + "' must be an integer or a list of integers");
}

void require_positive(int64_t v, const char* field, const std::string& label) {
    if (v <= 0) throw Error(label + ": field '" + std::string(field) + "' must be positive (got " +
                            std::to_string(v) + ")");
}

RopeScaling parse_rope_scaling(const json& j, const std::string& label) {
    RopeScaling rs;
    auto it = j.find("rope_scaling");
    if (it == j.end() || it->is_null()) return rs;
    if (!it->is_object()) throw Error(label + ": field 'rope_scaling' must be an object or null");
    // transformers accepts both "rope_type" (new) and "type" (old).
    std::string type = get_string(*it, "rope_type", get_string(*it, "type", "default", label), label);
    if (type != "default" && type != "linear" && type != "llama3")
        throw Error(label + ": rope_scaling type '" + type + "' is not supported (supported: default, linear, llama3)");
    rs.type = type;
    rs.factor = get_double(*it, "factor", 1.0, label);
    rs.low_freq_factor = get_double(*it, "low_freq_factor", 1.0, label);
    rs.high_freq_factor = get_double(*it, "high_freq_factor", 4.0, label);
    rs.original_max_position_embeddings = get_int(*it, "original_max_position_embeddings", 8192, label);
    if (rs.factor <= 0) throw Error(label + ": rope_scaling.factor must be positive");
    if (type == "llama3" && rs.high_freq_factor <= rs.low_freq_factor)
        throw Error(label + ": rope_scaling.high_freq_factor must exceed low_freq_factor");
    return rs;
}

void parse_gpt2(const json& j, ModelConfig& c, const std::string& label) {
    c.vocab_size = get_int(j, "vocab_size", 50257, label);
    c.hidden_size = get_int(j, "n_embd", 768, label);
    c.num_hidden_layers = get_int(j, "n_layer", 12, label);
    c.num_attention_heads = get_int(j, "n_head", 12, label);
    c.num_key_value_heads = c.num_attention_heads;
    c.intermediate_size = get_int(j, "n_inner", 4 * c.hidden_size, label);
    c.max_position_embeddings = get_int(j, "n_positions", 1024, label);
    c.norm_eps = get_double(j, "layer_norm_epsilon", 1e-5, label);
    c.hidden_act = get_string(j, "activation_function", "gelu_new", label);
    if (c.hidden_act != "gelu_new" && c.hidden_act != "gelu" && c.hidden_act != "gelu_pytorch_tanh" &&
        c.hidden_act != "relu")
        throw Error(label + ": activation_function '" + c.hidden_act + "' is not supported");
    c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", true, label);
    c.bos_token_ids = get_id_list(j, "bos_token_id", {50256}, label);
    c.eos_token_ids = get_id_list(j, "eos_token_id", {50256}, label);
    // Options that change the math and that we do not implement: refuse rather than be wrong.
    if (get_bool(j, "scale_attn_by_inverse_layer_idx", false, label))
        throw Error(label + ": scale_attn_by_inverse_layer_idx=true is not supported");
    if (!get_bool(j, "scale_attn_weights", true, label))
        throw Error(label + ": scale_attn_weights=false is not supported");
}

void parse_llama_family(const json& j, ModelConfig& c, const std::string& label) {
    const std::string& t = c.model_type;
    bool qwen = t == "qwen2" || t == "qwen3";
    c.vocab_size = get_int(j, "vocab_size", qwen ? 151936 : 32000, label);
    c.hidden_size = get_int(j, "hidden_size", 4096, label);
    c.num_hidden_layers = get_int(j, "num_hidden_layers", 32, label);
    c.num_attention_heads = get_int(j, "num_attention_heads", 32, label);
    c.num_key_value_heads =
        get_int(j, "num_key_value_heads", t == "mistral" ? 8 : c.num_attention_heads, label);
    c.intermediate_size = get_int(j, "intermediate_size", t == "mistral" ? 14336 : qwen ? 22016 : 11008, label);
    c.max_position_embeddings =
        get_int(j, "max_position_embeddings", t == "mistral" ? 4096 * 32 : qwen ? 32768 : 2048, label);
    c.norm_eps = get_double(j, "rms_norm_eps", 1e-6, label);
    c.rope_theta = get_double(j, "rope_theta", 10000.0, label);
    c.rope_scaling = parse_rope_scaling(j, label);
    c.hidden_act = get_string(j, "hidden_act", "silu", label);
    if (c.hidden_act != "silu") throw Error(label + ": hidden_act '" + c.hidden_act + "' is not supported (silu)");
    c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", false, label);
    c.attention_bias = get_bool(j, "attention_bias", false, label);
    c.mlp_bias = get_bool(j, "mlp_bias", false, label);
    c.qkv_bias = t == "qwen2";  // Qwen2Attention: q/k/v Linear(bias=True), o_proj bias=False
    c.qk_norm = t == "qwen3";
    c.bos_token_ids = get_id_list(j, "bos_token_id", qwen ? std::vector<int64_t>{} : std::vector<int64_t>{1}, label);
    c.eos_token_ids = get_id_list(j, "eos_token_id", qwen ? std::vector<int64_t>{} : std::vector<int64_t>{2}, label);
    if (t == "mistral") {
        c.sliding_window = get_int(j, "sliding_window", 4096, label);
    } else if (qwen) {
        // Qwen2/3 read sliding_window only when use_sliding_window is true, and then only for
        // layers at or past max_window_layers.
        if (get_bool(j, "use_sliding_window", false, label)) {
            c.sliding_window = get_int(j, "sliding_window", 4096, label);
            c.max_window_layers = get_int(j, "max_window_layers", 28, label);
        }
    } else {
        c.sliding_window = 0;
    }
    if (c.sliding_window < 0) throw Error(label + ": field 'sliding_window' must not be negative");
    int64_t default_head_dim = c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0;
    c.head_dim = get_int(j, "head_dim", t == "qwen3" && !j.contains("head_dim") ? 128 : default_head_dim, label);
}

}  // namespace

const std::vector<std::string>& supported_model_types() {
    static const std::vector<std::string> types = {"gpt2", "llama", "mistral", "qwen2", "qwen3"};
    return types;
}

bool ModelConfig::layer_uses_sliding_window(int64_t layer) const {
    if (sliding_window <= 0) return false;
    if (model_type == "qwen2" || model_type == "qwen3") return layer >= max_window_layers;
    return true;
}

ModelConfig config_from_json(const json& j, const std::string& label) {
    if (!j.is_object()) throw Error(label + ": expected a JSON object");
    ModelConfig c;
    c.raw = j;
    c.model_type = get_string(j, "model_type", "", label);
    bool known = false;
    std::string list;
    for (const auto& t : supported_model_types()) {
        known = known || t == c.model_type;
        list += (list.empty() ? "" : ", ") + t;
    }
    if (!known)
        throw Error(label + ": model_type '" + c.model_type + "' is not supported (supported: " + list + ")");
    if (c.is_gpt2()) {
        parse_gpt2(j, c, label);
        c.head_dim = c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0;
    } else {
        parse_llama_family(j, c, label);
    }
    c.initializer_range = get_double(j, "initializer_range", 0.02, label);
    c.pad_token_id = get_int(j, "pad_token_id", -1, label);
    // transformers >= 4.56 writes "dtype"; older versions "torch_dtype".
    c.torch_dtype = get_string(j, "torch_dtype", get_string(j, "dtype", "float32", label), label);
    if (c.torch_dtype != "float32" && c.torch_dtype != "bfloat16" && c.torch_dtype != "float16")
        throw Error(label + ": torch_dtype '" + c.torch_dtype + "' is not supported (float32, bfloat16, float16)");

    require_positive(c.vocab_size, "vocab_size", label);
    require_positive(c.hidden_size, "hidden_size", label);
    require_positive(c.num_hidden_layers, "num_hidden_layers", label);
    require_positive(c.num_attention_heads, "num_attention_heads", label);
    require_positive(c.num_key_value_heads, "num_key_value_heads", label);
    require_positive(c.head_dim, "head_dim", label);
    require_positive(c.intermediate_size, "intermediate_size", label);
    require_positive(c.max_position_embeddings, "max_position_embeddings", label);
    if (c.num_attention_heads % c.num_key_value_heads != 0)
        throw Error(label + ": num_attention_heads (" + std::to_string(c.num_attention_heads) +
                    ") is not a multiple of num_key_value_heads (" + std::to_string(c.num_key_value_heads) + ")");
    if (c.is_gpt2() && c.hidden_size % c.num_attention_heads != 0)
        throw Error(label + ": n_embd is not a multiple of n_head");
    if (!c.is_gpt2() && c.head_dim % 2 != 0) throw Error(label + ": head_dim must be even for RoPE");
    return c;
}

ModelConfig load_config(const std::string& path) {
    std::string file = is_dir(path) ? path + "/config.json" : path;
    return config_from_json(io::read_json_file(file), file);
}

json ModelConfig::to_json() const {
    json j = raw.is_object() ? raw : json::object();
    j["model_type"] = model_type;
    j["vocab_size"] = vocab_size;
    auto ids = [](const std::vector<int64_t>& v) -> json {
        if (v.empty()) return nullptr;
        if (v.size() == 1) return v[0];
        return v;
    };
    if (is_gpt2()) {
        j["n_embd"] = hidden_size;
        j["n_layer"] = num_hidden_layers;
        j["n_head"] = num_attention_heads;
        j["n_inner"] = intermediate_size;
        j["n_positions"] = max_position_embeddings;
        j["n_ctx"] = max_position_embeddings;
        j["layer_norm_epsilon"] = norm_eps;
        j["activation_function"] = hidden_act;
        if (!j.contains("architectures")) j["architectures"] = {"GPT2LMHeadModel"};
    } else {
        j["hidden_size"] = hidden_size;
        j["num_hidden_layers"] = num_hidden_layers;
        j["num_attention_heads"] = num_attention_heads;
        j["num_key_value_heads"] = num_key_value_heads;
        j["head_dim"] = head_dim;
        j["intermediate_size"] = intermediate_size;
        j["max_position_embeddings"] = max_position_embeddings;
        j["rms_norm_eps"] = norm_eps;
        j["rope_theta"] = rope_theta;
        j["hidden_act"] = hidden_act;
        if (model_type != "qwen2") j["attention_bias"] = attention_bias;
        if (model_type == "llama") j["mlp_bias"] = mlp_bias;
        if (rope_scaling.type == "default") {
            j["rope_scaling"] = nullptr;
        } else {
            json rs = {{"rope_type", rope_scaling.type}, {"factor", rope_scaling.factor}};
            if (rope_scaling.type == "llama3") {
                rs["low_freq_factor"] = rope_scaling.low_freq_factor;
                rs["high_freq_factor"] = rope_scaling.high_freq_factor;
                rs["original_max_position_embeddings"] = rope_scaling.original_max_position_embeddings;
            }
            j["rope_scaling"] = rs;
        }
        if (model_type == "mistral") {
            j["sliding_window"] = sliding_window > 0 ? json(sliding_window) : json(nullptr);
        } else if (model_type == "qwen2" || model_type == "qwen3") {
            j["use_sliding_window"] = sliding_window > 0;
            if (sliding_window > 0) {
                j["sliding_window"] = sliding_window;
                j["max_window_layers"] = max_window_layers;
            }
        }
        static const std::map<std::string, std::string> kArch = {{"llama", "LlamaForCausalLM"},
            {"mistral", "MistralForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"}, {"qwen3", "Qwen3ForCausalLM"}};
        if (!j.contains("architectures")) j["architectures"] = {kArch.at(model_type)};
    }
    j["tie_word_embeddings"] = tie_word_embeddings;
    j["initializer_range"] = initializer_range;
    j["bos_token_id"] = ids(bos_token_ids);
    j["eos_token_id"] = ids(eos_token_ids);
    if (pad_token_id >= 0) j["pad_token_id"] = pad_token_id;
    j["torch_dtype"] = torch_dtype;
    return j;
}

ModelConfig make_config(const std::string& family, int64_t hidden, int64_t layers, int64_t heads,
                        int64_t kv_heads, int64_t intermediate, int64_t vocab, int64_t max_positions) {
    json j = {{"model_type", family}, {"vocab_size", vocab}};
    if (family == "gpt2") {
        j["n_embd"] = hidden;
        j["n_layer"] = layers;
        j["n_head"] = heads;
        j["n_inner"] = intermediate;
        j["n_positions"] = max_positions;
        j["bos_token_id"] = vocab - 1;
        j["eos_token_id"] = vocab - 1;
    } else {
        j["hidden_size"] = hidden;
        j["num_hidden_layers"] = layers;
        j["num_attention_heads"] = heads;
        j["num_key_value_heads"] = kv_heads;
        j["intermediate_size"] = intermediate;
        j["max_position_embeddings"] = max_positions;
        j["head_dim"] = hidden / heads;
        j["bos_token_id"] = 1;
        j["eos_token_id"] = 2;
        j["tie_word_embeddings"] = false;
        if (family == "mistral") j["sliding_window"] = nullptr;
    }
    return config_from_json(j, "make_config(" + family + ")");
}

}  // namespace rlhf::model
