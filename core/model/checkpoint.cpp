// Hugging Face layout load/save. Reading is zero-copy up to the final dtype/device conversion:
// each safetensors tensor is wrapped with from_blob (its mapping kept alive) and converted once
// into the parameter's new storage.
#include "core/model/checkpoint.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/io/json_io.h"
#include "core/io/safetensors.h"
#include "core/io/safetensors_index.h"

namespace rlhf::model {

namespace {

using nlohmann::json;

bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool dir_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void make_dirs(const std::string& dir) {
    if (dir.empty() || dir_exists(dir)) return;
    auto slash = dir.find_last_of('/');
    if (slash != std::string::npos && slash > 0) make_dirs(dir.substr(0, slash));
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
        throw Error(dir + ": cannot create folder: " + std::strerror(errno));
}

std::string shape_str(at::IntArrayRef shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Tensors transformers itself skips when loading: non-persistent buffers old versions saved.
bool ignorable_tensor(const std::string& name, const ModelConfig& config) {
    if (ends_with(name, ".attn.bias") && config.is_gpt2()) return true;   // GPT-2 causal-mask buffer
    if (ends_with(name, ".attn.masked_bias")) return true;
    if (ends_with(name, "rotary_emb.inv_freq")) return true;
    if (name == "lm_head.weight" && config.tie_word_embeddings) return true;  // tied: same as wte
    return false;
}

torch::Dtype torch_dtype_of(io::DType d, const std::string& where) {
    switch (d) {
        case io::DType::F32: return torch::kFloat32;
        case io::DType::BF16: return torch::kBFloat16;
        case io::DType::F16: return torch::kFloat16;
        case io::DType::F64: return torch::kFloat64;
        default:
            throw Error(where + ": dtype " + io::dtype_name(d) +
                        " is not a floating-point type (expected F32, BF16 or F16)");
    }
}

io::DType io_dtype_of(torch::Dtype d) {
    if (d == torch::kFloat32) return io::DType::F32;
    if (d == torch::kBFloat16) return io::DType::BF16;
    if (d == torch::kFloat16) return io::DType::F16;
    throw Error("save: parameters must be float32, bfloat16 or float16");
}

// A CPU tensor over the mapped bytes (copied first if misaligned, which from_blob cannot take).
torch::Tensor tensor_from_view(const io::TensorView& view, std::shared_ptr<const void> keepalive,
                               torch::Dtype dtype) {
    std::vector<int64_t> shape(view.shape.begin(), view.shape.end());
    if (!view.is_aligned()) {
        auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
        if (view.nbytes) std::memcpy(t.data_ptr(), view.data, view.nbytes);
        return t;
    }
    auto* holder = new std::shared_ptr<const void>(std::move(keepalive));
    return torch::from_blob(const_cast<uint8_t*>(view.data), shape,
                            [holder](void*) { delete holder; }, torch::TensorOptions().dtype(dtype));
}

}  // namespace

torch::Dtype parse_dtype(const std::string& name) {
    if (name == "float32" || name == "f32" || name == "fp32") return torch::kFloat32;
    if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
    if (name == "float16" || name == "f16" || name == "fp16") return torch::kFloat16;
    throw Error("dtype '" + name + "' is not supported (float32, bfloat16, float16)");
}

std::string dtype_to_string(torch::Dtype dtype) {
    if (dtype == torch::kFloat32) return "float32";
    if (dtype == torch::kBFloat16) return "bfloat16";
    if (dtype == torch::kFloat16) return "float16";
    return "float32";
}

// ---------------------------------------------------------------------------------------------
// Load

void load_hf_parameters(const std::string& dir, const ModelConfig& config,
                        const std::vector<std::pair<std::string, torch::Tensor>>& params,
                        const std::vector<std::string>& optional, const LoadOptions& options) {
    io::SafetensorsIndex ckpt = io::SafetensorsIndex::open_dir(dir);
    const std::string& where = ckpt.path();
    std::set<std::string> optional_set(optional.begin(), optional.end());
    std::set<std::string> used;
    torch::NoGradGuard no_grad;
    for (const auto& [name, param] : params) {
        std::string stored = name;
        const io::TensorView* view = ckpt.find(name);
        // The original OpenAI GPT-2 checkpoints on the Hub name tensors without "transformer.".
        if (!view && config.is_gpt2() && name.rfind("transformer.", 0) == 0) {
            stored = name.substr(std::strlen("transformer."));
            view = ckpt.find(stored);
        }
        if (!view) {
            if (optional_set.count(name)) continue;
            throw Error(where + ": missing tensor '" + name + "' (model_type " + config.model_type + ")");
        }
        used.insert(stored);
        std::string tensor_where = where + ": tensor '" + stored + "'";
        torch::Dtype src_dtype = torch_dtype_of(view->dtype, tensor_where);
        if (!param.sizes().equals(view->shape))
            throw Error(tensor_where + " has shape " + shape_str(view->shape) + " but config.json implies " +
                        shape_str(param.sizes()) + " (hidden_size " + std::to_string(config.hidden_size) +
                        ", vocab_size " + std::to_string(config.vocab_size) + ", intermediate_size " +
                        std::to_string(config.intermediate_size) + ")");
        auto src = tensor_from_view(*view, ckpt.keepalive(stored), src_dtype);
        auto dst = src.to(torch::TensorOptions().dtype(options.dtype).device(options.device), /*non_blocking=*/false,
                          /*copy=*/true);
        torch::Tensor p = param;
        p.set_data(dst);
    }
    std::vector<std::string> unexpected;
    for (const auto& name : ckpt.tensor_names())
        if (!used.count(name) && !ignorable_tensor(name, config)) unexpected.push_back(name);
    if (!unexpected.empty()) {
        std::string list;
        for (size_t i = 0; i < unexpected.size() && i < 5; ++i) list += (i ? ", " : "") + unexpected[i];
        if (unexpected.size() > 5) list += ", ... (" + std::to_string(unexpected.size()) + " in all)";
        throw Error(where + ": unexpected tensor(s) for model_type " + config.model_type + ": " + list);
    }
}

std::shared_ptr<CausalLM> load_causal_lm(const std::string& dir, const LoadOptions& options) {
    ModelConfig config = load_config(dir);
    auto model = create_causal_lm(config);
    load_hf_parameters(dir, config, model->hf_parameters(), {}, options);
    model->eval();
    return model;
}

// ---------------------------------------------------------------------------------------------
// Save

void save_hf_checkpoint(const std::string& dir, const json& config_json,
                        const std::vector<std::pair<std::string, torch::Tensor>>& params,
                        const ModelConfig& config, const SaveOptions& options) {
    make_dirs(dir);
    std::vector<torch::Tensor> cpu;  // keeps the bytes alive while writing
    std::vector<io::TensorToWrite> tensors;
    cpu.reserve(params.size());
    for (const auto& [name, p] : params) {
        cpu.push_back(p.detach().to(torch::kCPU).contiguous());
        const auto& t = cpu.back();
        tensors.push_back(io::TensorToWrite{name, io_dtype_of(t.scalar_type()),
                                            std::vector<int64_t>(t.sizes().begin(), t.sizes().end()),
                                            t.data_ptr(), static_cast<size_t>(t.nbytes())});
    }
    io::write_safetensors_sharded(dir, tensors, options.max_shard_bytes, {{"format", "pt"}});
    io::write_file_atomic(dir + "/config.json", config_json.dump(2) + "\n");

    json gen = options.generation_config;
    if (gen.is_null()) {
        gen = json::object();
        auto ids = [](const std::vector<int64_t>& v) -> json {
            if (v.size() == 1) return v[0];
            return v;
        };
        if (!config.bos_token_ids.empty()) gen["bos_token_id"] = ids(config.bos_token_ids);
        if (!config.eos_token_ids.empty()) gen["eos_token_id"] = ids(config.eos_token_ids);
        if (config.pad_token_id >= 0) gen["pad_token_id"] = config.pad_token_id;
        gen["_from_model_config"] = true;
    }
    io::write_file_atomic(dir + "/generation_config.json", gen.dump(2) + "\n");

    if (!options.tokenizer_from.empty()) {
        std::string src = options.tokenizer_from;
        if (!dir_exists(src)) {
            auto slash = src.find_last_of('/');
            src = slash == std::string::npos ? "." : src.substr(0, slash);
        }
        static const char* kTokenizerFiles[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                                "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json",
                                                "chat_template.jinja", "chat_template.json"};
        bool any = false;
        for (const char* f : kTokenizerFiles) {
            std::string from = src + "/" + f;
            if (!file_exists(from)) continue;
            if (from == dir + "/" + f) continue;  // saving over the source folder
            io::write_file_atomic(dir + "/" + f, io::read_file(from));
            any = true;
        }
        if (!any) throw Error(options.tokenizer_from + ": no tokenizer files to copy (tokenizer.json, ...)");
    }
}

void save_causal_lm(const CausalLM& model, const std::string& dir, const SaveOptions& options) {
    ModelConfig config = model.config();
    config.torch_dtype = dtype_to_string(model.dtype());
    save_hf_checkpoint(dir, config.to_json(), model.hf_parameters(), config, options);
}

json read_generation_config(const std::string& dir) {
    std::string path = dir + "/generation_config.json";
    if (!file_exists(path)) return json::object();
    json j = io::read_json_file(path);
    if (!j.is_object()) throw Error(path + ": expected a JSON object");
    return j;
}

std::vector<int64_t> generation_eos_ids(const std::string& dir, const ModelConfig& config) {
    json gen = read_generation_config(dir);
    auto it = gen.find("eos_token_id");
    if (it == gen.end() || it->is_null()) return config.eos_token_ids;
    if (it->is_number_integer()) return {it->get<int64_t>()};
    std::vector<int64_t> out;
    if (it->is_array())
        for (const auto& v : *it)
            if (v.is_number_integer()) out.push_back(v.get<int64_t>());
    if (out.empty()) throw Error(dir + "/generation_config.json: eos_token_id must be an integer or a list of integers");
    return out;
}

}  // namespace rlhf::model
