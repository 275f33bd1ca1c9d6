// HF folder -> GGUF (see hf_to_gguf.h). Reads config.json itself (no core/model, which needs
// LibTorch) with the defaults of the transformers *Config classes.
// Glossary: C = hidden_size, L = layers, H = query heads, Hkv = key/value heads, D = head_dim,
// F = feed-forward width, V = vocab_size.
#include "core/gguf/hf_to_gguf.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <tuple>

#include "core/gguf/gguf_vocab.h"
#include "core/gguf/half.h"
#include "core/io/error.h"
#include "core/io/json_io.h"
#include "core/io/safetensors_index.h"

namespace rlhf::gguf {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using io::get_bool;
using io::get_double;
using io::get_int;

// ---------------------------------------------------------------------------------------------
// config.json

struct HParams {
    std::string model_type;          // config.json model_type
    std::string arch;                // llama.cpp architecture name
    int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, ff = 0, context = 0;
    double norm_eps = 1e-5;          // rms_norm_eps or layer_norm_epsilon
    double rope_theta = 10000.0;     // RoPE base
    std::string rope_type = "default";  // rope_scaling type: default | linear | llama3
    double rope_factor = 1.0, rope_low = 1.0, rope_high = 4.0;
    int64_t rope_original_context = 8192;
    bool tied = false;               // tie_word_embeddings
    int64_t sliding_window = 0;      // 0 = none
};

HParams read_hparams(const json& j, const std::string& label, std::vector<std::string>& warnings) {
    HParams h;
    h.model_type = j.value("model_type", std::string());
    h.vocab = get_int(j, "vocab_size", 0, label);
    if (h.model_type == "gpt2") {
        h.arch = "gpt2";
        h.hidden = get_int(j, "n_embd", 768, label);
        h.layers = get_int(j, "n_layer", 12, label);
        h.heads = get_int(j, "n_head", 12, label);
        h.kv_heads = h.heads;
        h.head_dim = h.heads > 0 ? h.hidden / h.heads : 0;
        h.ff = get_int(j, "n_inner", 4 * h.hidden, label);
        h.context = get_int(j, "n_positions", 1024, label);
        h.norm_eps = get_double(j, "layer_norm_epsilon", 1e-5, label);
        h.tied = get_bool(j, "tie_word_embeddings", true, label);
        std::string act = j.value("activation_function", std::string("gelu_new"));
        // llama.cpp's GPT-2 graph runs ggml_gelu, the tanh approximation (= gelu_new).
        if (act == "gelu") warnings.push_back(label + ": activation_function 'gelu' (erf) runs as the tanh approximation in llama.cpp");
        else if (act != "gelu_new" && act != "gelu_pytorch_tanh")
            throw Error(label + ": field 'activation_function' is '" + act + "'; llama.cpp's gpt2 runs gelu only");
    } else if (h.model_type == "llama" || h.model_type == "mistral" || h.model_type == "qwen2" || h.model_type == "qwen3") {
        h.arch = h.model_type == "qwen2" || h.model_type == "qwen3" ? h.model_type : "llama";
        h.hidden = get_int(j, "hidden_size", 0, label);
        h.layers = get_int(j, "num_hidden_layers", 0, label);
        h.heads = get_int(j, "num_attention_heads", 0, label);
        h.kv_heads = get_int(j, "num_key_value_heads", h.heads, label);
        int64_t default_head_dim = h.heads > 0 ? h.hidden / h.heads : 0;
        h.head_dim = get_int(j, "head_dim", h.model_type == "qwen3" ? 128 : default_head_dim, label);
        h.ff = get_int(j, "intermediate_size", 0, label);
        h.context = get_int(j, "max_position_embeddings", 2048, label);
        h.norm_eps = get_double(j, "rms_norm_eps", 1e-6, label);
        h.rope_theta = get_double(j, "rope_theta", 10000.0, label);
        h.tied = get_bool(j, "tie_word_embeddings", false, label);
        std::string act = j.value("hidden_act", std::string("silu"));
        if (act != "silu") throw Error(label + ": field 'hidden_act' is '" + act + "'; llama.cpp runs silu");
        if (auto it = j.find("rope_scaling"); it != j.end() && it->is_object()) {
            h.rope_type = it->value("rope_type", it->value("type", std::string("default")));
            h.rope_factor = get_double(*it, "factor", 1.0, label + " rope_scaling");
            h.rope_low = get_double(*it, "low_freq_factor", 1.0, label + " rope_scaling");
            h.rope_high = get_double(*it, "high_freq_factor", 4.0, label + " rope_scaling");
            h.rope_original_context = get_int(*it, "original_max_position_embeddings", 8192, label + " rope_scaling");
            if (h.rope_type != "default" && h.rope_type != "linear" && h.rope_type != "llama3")
                throw Error(label + ": field 'rope_scaling.rope_type' is '" + h.rope_type + "' (exported: default, linear, llama3)");
        }
        h.sliding_window = get_int(j, "sliding_window", 0, label);
        bool sliding_used = h.model_type == "mistral" || get_bool(j, "use_sliding_window", false, label);
        if (sliding_used && h.sliding_window > 0 && h.sliding_window < h.context)
            warnings.push_back(label + ": sliding_window " + std::to_string(h.sliding_window) +
                               " is not applied by llama.cpp's " + h.arch + " graph: sequences longer than it differ");
    } else {
        throw Error(label + ": field 'model_type' is '" + h.model_type + "' (exported: gpt2, llama, mistral, qwen2, qwen3)");
    }
    for (auto [v, name] : {std::pair{h.vocab, "vocab_size"}, {h.hidden, "hidden size"}, {h.layers, "layers"},
                           {h.heads, "attention heads"}, {h.kv_heads, "key/value heads"}, {h.head_dim, "head_dim"},
                           {h.ff, "feed-forward size"}})
        if (v <= 0) throw Error(label + ": " + name + " must be positive");
    if (h.heads % h.kv_heads) throw Error(label + ": num_attention_heads must be a multiple of num_key_value_heads");
    if (h.arch != "gpt2" && h.head_dim % 2) throw Error(label + ": head_dim must be even for RoPE");
    return h;
}

// ---------------------------------------------------------------------------------------------
// Tensor data

std::vector<float> to_f32(const io::TensorView& t, const std::string& label) {
    std::vector<float> out(static_cast<size_t>(t.numel()));
    const uint8_t* p = t.data;
    switch (t.dtype) {
        case io::DType::F32:
            std::memcpy(out.data(), p, out.size() * 4);
            break;
        case io::DType::F16:
            for (size_t i = 0; i < out.size(); ++i) out[i] = f16_to_f32(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
            break;
        case io::DType::BF16:
            for (size_t i = 0; i < out.size(); ++i) out[i] = bf16_to_f32(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
            break;
        default:
            throw Error(label + ": tensor '" + t.name + "' has dtype " + io::dtype_name(t.dtype) + " (exported: F32, F16, BF16)");
    }
    return out;
}

void encode(const std::vector<float>& v, TensorType type, std::vector<uint8_t>& out) {
    out.resize(v.size() * tensor_type_size(type));
    if (type == TensorType::F32) {
        std::memcpy(out.data(), v.data(), out.size());
        return;
    }
    for (size_t i = 0; i < v.size(); ++i) {
        uint16_t h = type == TensorType::F16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
        out[2 * i] = static_cast<uint8_t>(h & 0xff);
        out[2 * i + 1] = static_cast<uint8_t>(h >> 8);
    }
}

// (rows, cols) -> (cols, rows)
std::vector<float> transpose(const std::vector<float>& w, int64_t rows, int64_t cols) {
    std::vector<float> out(w.size());
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(c * rows + r)] = w[static_cast<size_t>(r * cols + c)];
    return out;
}

enum class Transform { None, Transpose, PermuteQ, PermuteK };

// One HF tensor -> one GGUF tensor.
struct Mapping {
    std::string hf_name;
    std::string gguf_name;
    Transform transform = Transform::None;
    std::vector<int64_t> expect;  // HF shape the tensor must have
};

// The name map of one family, with the shapes config.json implies (so a misshapen checkpoint is
// named here rather than by llama.cpp's loader).
std::vector<Mapping> name_map(const HParams& h, const io::SafetensorsIndex& st, bool permute_qk,
                              std::vector<std::string>& optional) {
    std::vector<Mapping> m;
    auto add = [&](std::string hf, std::string gg, std::vector<int64_t> shape, Transform tr = Transform::None) {
        m.push_back({std::move(hf), std::move(gg), tr, std::move(shape)});
    };
    const int64_t C = h.hidden, F = h.ff, V = h.vocab, D = h.head_dim;
    if (h.arch == "gpt2") {
        // transformers saves GPT2LMHeadModel as "transformer.*"; a bare GPT2Model has no prefix.
        std::string p = st.find("transformer.wte.weight") ? "transformer." : "";
        add(p + "wte.weight", "token_embd.weight", {V, C});
        add(p + "wpe.weight", "position_embd.weight", {h.context, C});
        for (int64_t i = 0; i < h.layers; ++i) {
            std::string hf = p + "h." + std::to_string(i) + ".", gg = "blk." + std::to_string(i) + ".";
            for (const char* wb : {"weight", "bias"}) {
                bool w = std::string(wb) == "weight";
                add(hf + "ln_1." + wb, gg + "attn_norm." + wb, {C});
                add(hf + "attn.c_attn." + wb, gg + "attn_qkv." + wb, w ? std::vector<int64_t>{C, 3 * C} : std::vector<int64_t>{3 * C},
                    w ? Transform::Transpose : Transform::None);
                add(hf + "attn.c_proj." + wb, gg + "attn_output." + wb, w ? std::vector<int64_t>{C, C} : std::vector<int64_t>{C},
                    w ? Transform::Transpose : Transform::None);
                add(hf + "ln_2." + wb, gg + "ffn_norm." + wb, {C});
                add(hf + "mlp.c_fc." + wb, gg + "ffn_up." + wb, w ? std::vector<int64_t>{C, F} : std::vector<int64_t>{F},
                    w ? Transform::Transpose : Transform::None);
                add(hf + "mlp.c_proj." + wb, gg + "ffn_down." + wb, w ? std::vector<int64_t>{F, C} : std::vector<int64_t>{C},
                    w ? Transform::Transpose : Transform::None);
            }
        }
        add(p + "ln_f.weight", "output_norm.weight", {C});
        add(p + "ln_f.bias", "output_norm.bias", {C});
        if (!h.tied) add("lm_head.weight", "output.weight", {V, C});
        return m;
    }
    const int64_t Hq = h.heads * D, Hk = h.kv_heads * D;
    bool permute = permute_qk && h.arch == "llama";
    add("model.embed_tokens.weight", "token_embd.weight", {V, C});
    for (int64_t i = 0; i < h.layers; ++i) {
        std::string hf = "model.layers." + std::to_string(i) + ".", gg = "blk." + std::to_string(i) + ".";
        add(hf + "input_layernorm.weight", gg + "attn_norm.weight", {C});
        add(hf + "self_attn.q_proj.weight", gg + "attn_q.weight", {Hq, C}, permute ? Transform::PermuteQ : Transform::None);
        add(hf + "self_attn.k_proj.weight", gg + "attn_k.weight", {Hk, C}, permute ? Transform::PermuteK : Transform::None);
        add(hf + "self_attn.v_proj.weight", gg + "attn_v.weight", {Hk, C});
        add(hf + "self_attn.o_proj.weight", gg + "attn_output.weight", {C, Hq});
        // Biases exist when config.json says so (qwen2 always, llama attention_bias / mlp_bias).
        for (auto [name, gname, n, tr] : {std::tuple{"self_attn.q_proj.bias", "attn_q.bias", Hq, Transform::PermuteQ},
                                          std::tuple{"self_attn.k_proj.bias", "attn_k.bias", Hk, Transform::PermuteK},
                                          std::tuple{"self_attn.v_proj.bias", "attn_v.bias", Hk, Transform::None},
                                          std::tuple{"self_attn.o_proj.bias", "attn_output.bias", C, Transform::None},
                                          std::tuple{"mlp.gate_proj.bias", "ffn_gate.bias", F, Transform::None},
                                          std::tuple{"mlp.up_proj.bias", "ffn_up.bias", F, Transform::None},
                                          std::tuple{"mlp.down_proj.bias", "ffn_down.bias", C, Transform::None}}) {
            add(hf + name, gg + gname, {n}, permute ? tr : Transform::None);
            optional.push_back(hf + name);
        }
        if (h.arch == "qwen3") {
            add(hf + "self_attn.q_norm.weight", gg + "attn_q_norm.weight", {D});
            add(hf + "self_attn.k_norm.weight", gg + "attn_k_norm.weight", {D});
        }
        add(hf + "post_attention_layernorm.weight", gg + "ffn_norm.weight", {C});
        add(hf + "mlp.gate_proj.weight", gg + "ffn_gate.weight", {F, C});
        add(hf + "mlp.up_proj.weight", gg + "ffn_up.weight", {F, C});
        add(hf + "mlp.down_proj.weight", gg + "ffn_down.weight", {C, F});
    }
    add("model.norm.weight", "output_norm.weight", {C});
    if (!h.tied) add("lm_head.weight", "output.weight", {V, C});
    return m;
}

std::string shape_string(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

// Tensors a model folder may hold that are not part of the language model (heads of reward /
// value models saved next to it, GPT-2's causal-mask buffers).
bool ignorable(const std::string& name) {
    static const std::regex kIgnored(R"(^(score\.|v_head\.|value_head\.|summary\.)|\.attn\.(masked_)?bias$)");
    return std::regex_search(name, kIgnored);
}

}  // namespace

TensorType parse_tensor_type(const std::string& name) {
    if (name == "f32" || name == "float32") return TensorType::F32;
    if (name == "f16" || name == "float16" || name == "fp16") return TensorType::F16;
    if (name == "bf16" || name == "bfloat16") return TensorType::BF16;
    throw UsageError("--dtype '" + name + "': expected f32, f16 or bf16");
}

std::vector<float> permute_rope_rows(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads) {
    const int64_t D = rows / heads, half = D / 2;
    std::vector<float> out(w.size());
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t j = 0; j < half; ++j)
            for (int64_t i = 0; i < 2; ++i) {
                const float* src = w.data() + (h * D + i * half + j) * cols;
                float* dst = out.data() + (h * D + 2 * j + i) * cols;
                std::copy(src, src + cols, dst);
            }
    return out;
}

std::vector<float> llama3_rope_factors(double theta, int64_t head_dim, double factor, double low_freq_factor,
                                       double high_freq_factor, int64_t original_context) {
    const double kPi = 3.14159265358979323846;
    const double low_wavelen = static_cast<double>(original_context) / low_freq_factor;
    const double high_wavelen = static_cast<double>(original_context) / high_freq_factor;
    std::vector<float> out;
    for (int64_t i = 0; i < head_dim; i += 2) {
        // Computed in float32 as transformers' _compute_llama3_parameters does.
        float freq = 1.0f / std::pow(static_cast<float>(theta), static_cast<float>(i) / static_cast<float>(head_dim));
        double wavelen = 2.0 * kPi / freq;
        if (wavelen < high_wavelen) {
            out.push_back(1.0f);
        } else if (wavelen > low_wavelen) {
            out.push_back(static_cast<float>(factor));
        } else {
            double smooth = (static_cast<double>(original_context) / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
            out.push_back(static_cast<float>(1.0 / ((1.0 - smooth) / factor + smooth)));
        }
    }
    return out;
}

ConvertResult convert_hf_to_gguf(const ConvertOptions& o) {
    ConvertResult result;
    const fs::path dir(o.model_dir);
    const std::string config_path = (dir / "config.json").string();
    if (!fs::exists(config_path)) throw Error(config_path + ": not found (expected a Hugging Face model folder)");
    json config = io::read_json_file(config_path);
    HParams h = read_hparams(config, config_path, result.warnings);
    result.architecture = h.arch;

    auto st = std::make_shared<io::SafetensorsIndex>(io::SafetensorsIndex::open_dir(o.model_dir));
    std::vector<std::string> optional;
    std::vector<Mapping> mappings = name_map(h, *st, o.permute_qk, optional);
    std::set<std::string> optional_set(optional.begin(), optional.end());

    GgufWriter w;
    const std::string a = h.arch;
    w.set("general.architecture", Value::string(a));
    w.set("general.name", Value::string(o.name.empty() ? fs::absolute(dir).lexically_normal().filename().string() : o.name));
    // llama_ftype: 0 = all F32, 1 = mostly F16, 32 = mostly BF16 (1-D tensors stay F32).
    uint32_t ftype = o.dtype == TensorType::F32 ? 0u : o.dtype == TensorType::F16 ? 1u : 32u;
    w.set("general.file_type", Value::u32(ftype));
    w.set("general.alignment", Value::u32(static_cast<uint32_t>(kDefaultAlignment)));
    w.set(a + ".vocab_size", Value::u32(static_cast<uint32_t>(h.vocab)));
    w.set(a + ".context_length", Value::u32(static_cast<uint32_t>(h.context)));
    w.set(a + ".embedding_length", Value::u32(static_cast<uint32_t>(h.hidden)));
    w.set(a + ".block_count", Value::u32(static_cast<uint32_t>(h.layers)));
    w.set(a + ".feed_forward_length", Value::u32(static_cast<uint32_t>(h.ff)));
    w.set(a + ".attention.head_count", Value::u32(static_cast<uint32_t>(h.heads)));
    w.set(a + ".attention.head_count_kv", Value::u32(static_cast<uint32_t>(h.kv_heads)));
    if (a == "gpt2") {
        w.set(a + ".attention.layer_norm_epsilon", Value::f32(static_cast<float>(h.norm_eps)));
    } else {
        w.set(a + ".attention.layer_norm_rms_epsilon", Value::f32(static_cast<float>(h.norm_eps)));
        w.set(a + ".attention.key_length", Value::u32(static_cast<uint32_t>(h.head_dim)));
        w.set(a + ".attention.value_length", Value::u32(static_cast<uint32_t>(h.head_dim)));
        w.set(a + ".rope.dimension_count", Value::u32(static_cast<uint32_t>(h.head_dim)));
        w.set(a + ".rope.freq_base", Value::f32(static_cast<float>(h.rope_theta)));
        if (h.rope_type == "linear") {
            w.set(a + ".rope.scaling.type", Value::string("linear"));
            w.set(a + ".rope.scaling.factor", Value::f32(static_cast<float>(h.rope_factor)));
        }
    }
    add_vocab_metadata(w, read_hf_vocab(o.model_dir, h.vocab, config, &result.warnings));

    // Every checkpoint tensor must be mapped or known to be ignorable.
    std::set<std::string> mapped;
    for (const auto& mp : mappings) mapped.insert(mp.hf_name);
    for (const auto& name : st->tensor_names()) {
        if (mapped.count(name)) continue;
        if (name == "lm_head.weight" && h.tied) continue;  // a tied head saved anyway
        if (ignorable(name)) {
            if (name.find(".attn.") == std::string::npos)
                result.warnings.push_back(st->path() + ": tensor '" + name + "' is not part of the language model; left out");
            continue;
        }
        throw Error(st->path() + ": tensor '" + name + "' has no GGUF name for model_type '" + h.model_type + "'");
    }

    const std::string label = st->path();
    for (const auto& mp : mappings) {
        const io::TensorView* t = st->find(mp.hf_name);
        if (!t) {
            if (optional_set.count(mp.hf_name)) continue;
            throw Error(label + ": tensor '" + mp.hf_name + "' is missing (needed for " + mp.gguf_name + ")");
        }
        if (t->shape != mp.expect)
            throw Error(label + ": tensor '" + mp.hf_name + "' has shape " + shape_string(t->shape) + ", config.json implies " +
                        shape_string(mp.expect));
        TensorSpec spec;
        spec.name = mp.gguf_name;
        spec.type = t->shape.size() == 1 ? TensorType::F32 : o.dtype;
        spec.shape = mp.transform == Transform::Transpose ? std::vector<int64_t>{t->shape[1], t->shape[0]} : t->shape;
        const int64_t heads = mp.transform == Transform::PermuteQ ? h.heads : h.kv_heads;
        spec.fill = [st, view = *t, mp, type = spec.type, heads, label](std::vector<uint8_t>& out) {
            std::vector<float> v = to_f32(view, label);
            const int64_t rows = view.shape[0], cols = view.shape.size() > 1 ? view.shape[1] : 1;
            if (mp.transform == Transform::Transpose) v = transpose(v, rows, cols);
            if (mp.transform == Transform::PermuteQ || mp.transform == Transform::PermuteK) v = permute_rope_rows(v, rows, cols, heads);
            encode(v, type, out);
        };
        w.add_tensor(std::move(spec));
    }
    if (a != "gpt2" && h.rope_type == "llama3") {
        TensorSpec spec;
        spec.name = "rope_freqs.weight";
        spec.type = TensorType::F32;
        spec.shape = {h.head_dim / 2};
        auto factors = llama3_rope_factors(h.rope_theta, h.head_dim, h.rope_factor, h.rope_low, h.rope_high, h.rope_original_context);
        spec.fill = [factors](std::vector<uint8_t>& out) { encode(factors, TensorType::F32, out); };
        w.add_tensor(std::move(spec));
    }
    w.write(o.out_path);
    result.tensor_count = static_cast<int64_t>(w.tensors().size());
    result.file_bytes = fs::file_size(o.out_path);
    return result;
}

}  // namespace rlhf::gguf
