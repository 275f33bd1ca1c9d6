// LoRA application, merge and the PEFT adapter format.
#include "core/model/lora.h"

#include <sys/stat.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/io/json_io.h"
#include "core/io/safetensors.h"

namespace rlhf::model {

namespace {

using nlohmann::json;

// PEFT prefixes adapter tensor names with the PeftModel's path to the base model.
const char kPeftPrefix[] = "base_model.model.";

bool matches_target(const std::string& module, const std::vector<std::string>& targets) {
    for (const auto& t : targets) {
        if (module == t) return true;
        if (module.size() > t.size() && module.compare(module.size() - t.size(), t.size(), t) == 0 &&
            module[module.size() - t.size() - 1] == '.')
            return true;
    }
    return false;
}

torch::Dtype dtype_from_io(io::DType d, const std::string& where) {
    if (d == io::DType::F32) return torch::kFloat32;
    if (d == io::DType::BF16) return torch::kBFloat16;
    if (d == io::DType::F16) return torch::kFloat16;
    throw Error(where + ": dtype " + std::string(io::dtype_name(d)) + " is not F32, BF16 or F16");
}

}  // namespace

int apply_lora(CausalLM& model, const LoraConfig& config, uint64_t seed) {
    if (config.rank <= 0) throw Error("LoRA: rank must be positive");
    if (config.target_modules.empty()) throw Error("LoRA: target_modules is empty");
    auto gen = at::detail::createCPUGenerator(seed);
    torch::NoGradGuard no_grad;
    int count = 0;
    std::set<std::string> leaf_names;
    for (auto& [name, lin] : model.linear_layers()) {
        leaf_names.insert(name.substr(name.find_last_of('.') + 1));
        if (!matches_target(name, config.target_modules)) continue;
        lin->add_lora(config.rank, config.alpha, config.dropout);
        // Re-draw A from our generator so (config, seed) fixes the adapter.
        double bound = 1.0 / std::sqrt(static_cast<double>(lin->in_features));
        auto a = torch::empty(lin->lora_a().sizes(), torch::kFloat32).uniform_(-bound, bound, gen);
        lin->lora_a().copy_(a);
        lin->lora_a().set_requires_grad(true);
        lin->lora_b().set_requires_grad(true);
        ++count;
    }
    if (count == 0) {
        std::string list;
        for (const auto& n : leaf_names) list += (list.empty() ? "" : ", ") + n;
        std::string targets;
        for (const auto& t : config.target_modules) targets += (targets.empty() ? "" : ", ") + t;
        throw Error("LoRA: target_modules [" + targets + "] match no projection of this " +
                    model.config().model_type + " model (it has: " + list + ")");
    }
    return count;
}

void set_lora_enabled(CausalLM& model, bool enabled) {
    for (auto& [name, lin] : model.linear_layers()) lin->set_lora_enabled(enabled);
}

void merge_lora(CausalLM& model) {
    for (auto& [name, lin] : model.linear_layers()) lin->merge_lora();
}

void remove_lora(CausalLM& model) {
    for (auto& [name, lin] : model.linear_layers()) lin->remove_lora();
}

std::vector<torch::Tensor> lora_parameters(const CausalLM& model) {
    std::vector<torch::Tensor> out;
    for (auto& [name, lin] : model.linear_layers()) {
        if (!lin->has_lora()) continue;
        out.push_back(lin->lora_a());
        out.push_back(lin->lora_b());
    }
    return out;
}

void save_lora_adapter(const CausalLM& model, const LoraConfig& config, const std::string& dir,
                       const std::string& base_model_name) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
        throw Error(dir + ": cannot create folder: " + std::strerror(errno));
    std::vector<torch::Tensor> cpu;
    std::vector<io::TensorToWrite> tensors;
    bool fan_in_fan_out = false;
    for (auto& [name, lin] : model.linear_layers()) {
        if (!lin->has_lora()) continue;
        fan_in_fan_out = fan_in_fan_out || lin->conv1d();
        for (const char* which : {"lora_A", "lora_B"}) {
            auto& src = std::strcmp(which, "lora_A") == 0 ? lin->lora_a() : lin->lora_b();
            cpu.push_back(src.detach().to(torch::kCPU).contiguous());
            const auto& t = cpu.back();
            io::DType d = t.scalar_type() == torch::kBFloat16 ? io::DType::BF16
                          : t.scalar_type() == torch::kFloat16 ? io::DType::F16
                                                               : io::DType::F32;
            tensors.push_back(io::TensorToWrite{std::string(kPeftPrefix) + name + "." + which + ".weight", d,
                                                std::vector<int64_t>(t.sizes().begin(), t.sizes().end()),
                                                t.data_ptr(), static_cast<size_t>(t.nbytes())});
        }
    }
    if (tensors.empty()) throw Error(dir + ": the model has no LoRA adapter to save");
    io::write_safetensors(dir + "/adapter_model.safetensors", tensors, {{"format", "pt"}});
    json cfg = {{"peft_type", "LORA"},
                {"task_type", "CAUSAL_LM"},
                {"r", config.rank},
                {"lora_alpha", config.alpha},
                {"lora_dropout", config.dropout},
                {"target_modules", config.target_modules},
                {"bias", "none"},
                {"fan_in_fan_out", fan_in_fan_out},
                {"inference_mode", true},
                {"modules_to_save", nullptr},
                {"base_model_name_or_path", base_model_name}};
    io::write_file_atomic(dir + "/adapter_config.json", cfg.dump(2) + "\n");
}

LoraConfig load_lora_adapter(CausalLM& model, const std::string& dir) {
    std::string cfg_path = dir + "/adapter_config.json";
    json cfg = io::read_json_file(cfg_path);
    if (!cfg.is_object()) throw Error(cfg_path + ": expected a JSON object");
    if (cfg.value("peft_type", "LORA") != "LORA")
        throw Error(cfg_path + ": peft_type '" + cfg.value("peft_type", "") + "' is not LORA");
    LoraConfig lc;
    try {
        lc.rank = cfg.at("r").get<int64_t>();
        lc.alpha = cfg.value("lora_alpha", static_cast<double>(lc.rank));
        lc.dropout = cfg.value("lora_dropout", 0.0);
        const auto& tm = cfg.at("target_modules");
        lc.target_modules.clear();
        if (tm.is_string()) lc.target_modules.push_back(tm.get<std::string>());
        else for (const auto& t : tm) lc.target_modules.push_back(t.get<std::string>());
    } catch (const nlohmann::json::exception& e) {
        throw Error(cfg_path + ": bad field: " + e.what());
    }
    if (cfg.contains("use_dora") && cfg["use_dora"].is_boolean() && cfg["use_dora"].get<bool>())
        throw Error(cfg_path + ": use_dora is not supported");
    apply_lora(model, lc);

    std::string st_path = dir + "/adapter_model.safetensors";
    auto file = io::SafetensorsFile::open(st_path);
    std::set<std::string> used;
    torch::NoGradGuard no_grad;
    for (auto& [name, lin] : model.linear_layers()) {
        if (!lin->has_lora()) continue;
        for (const char* which : {"lora_A", "lora_B"}) {
            std::string key = std::string(kPeftPrefix) + name + "." + which + ".weight";
            const io::TensorView* view = file.find(key);
            if (!view) {
                // PEFT before 0.3 kept the adapter name in the key.
                key = std::string(kPeftPrefix) + name + "." + which + ".default.weight";
                view = file.find(key);
            }
            if (!view) throw Error(st_path + ": missing tensor '" + std::string(kPeftPrefix) + name + "." + which + ".weight'");
            auto& dst = std::strcmp(which, "lora_A") == 0 ? lin->lora_a() : lin->lora_b();
            if (!dst.sizes().equals(view->shape))
                throw Error(st_path + ": tensor '" + key + "' has the wrong shape for r=" + std::to_string(lc.rank) +
                            " on this model");
            auto dtype = dtype_from_io(view->dtype, st_path + ": tensor '" + key + "'");
            auto src = torch::empty(dst.sizes(), torch::TensorOptions().dtype(dtype));
            std::memcpy(src.data_ptr(), view->data, view->nbytes);
            dst.copy_(src);
            used.insert(key);
        }
    }
    for (const auto& t : file.tensors())
        if (!used.count(t.name))
            throw Error(st_path + ": unexpected tensor '" + t.name + "' (no matching LoRA layer in this model)");
    return lc;
}

}  // namespace rlhf::model
