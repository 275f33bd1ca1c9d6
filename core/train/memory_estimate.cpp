#include "core/train/memory_estimate.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/io/error.h"
#include "core/io/safetensors_index.h"

namespace rlhf::train {

namespace {

int64_t int_key(const nlohmann::json& j, const std::string& file, const char* key, int64_t fallback = -1) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        if (fallback >= 0) return fallback;
        throw Error(file + ": missing \"" + key + "\"");
    }
    if (!it->is_number_integer() || it->get<int64_t>() <= 0)
        throw Error(file + ": \"" + key + "\" must be a positive integer");
    return it->get<int64_t>();
}

bool is_gpt2(const nlohmann::json& j) {
    auto it = j.find("model_type");
    return (it != j.end() && it->is_string() && it->get<std::string>() == "gpt2") || j.contains("n_embd");
}

}  // namespace

ModelFootprint read_model_footprint(const std::string& dir) {
    ModelFootprint m;
    m.dir = dir;
    const std::string file = dir + "/config.json";
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error(file + ": cannot open");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw Error(file + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) throw Error(file + ": not a JSON object");
    if (is_gpt2(j)) {
        m.hidden = int_key(j, file, "n_embd");
        m.layers = int_key(j, file, "n_layer");
        m.heads = int_key(j, file, "n_head");
        m.kv_heads = m.heads;
        m.vocab = int_key(j, file, "vocab_size");
        m.intermediate = int_key(j, file, "n_inner", 4 * m.hidden);  // null means 4·n_embd
    } else {
        m.hidden = int_key(j, file, "hidden_size");
        m.layers = int_key(j, file, "num_hidden_layers");
        m.heads = int_key(j, file, "num_attention_heads");
        m.kv_heads = int_key(j, file, "num_key_value_heads", m.heads);
        m.vocab = int_key(j, file, "vocab_size");
        m.intermediate = int_key(j, file, "intermediate_size");
    }
    m.head_dim = int_key(j, file, "head_dim", m.hidden / m.heads);
    const io::SafetensorsIndex weights = io::SafetensorsIndex::open_dir(dir);
    for (const io::SafetensorsFile& shard : weights.shards())
        for (const io::TensorView& t : shard.tensors()) {
            m.params += t.numel();
            m.stored_bytes += static_cast<int64_t>(t.nbytes);
        }
    return m;
}

int64_t lora_parameter_count(const LoraConfig& lora, const ModelFootprint& m) {
    if (!lora.enabled) return 0;
    const int64_t q_out = m.heads * m.head_dim, kv_out = m.kv_heads * m.head_dim;
    int64_t per_layer = 0;
    // An adapter on a projection in -> out holds A (r × in) and B (out × r).
    auto add = [&](int64_t in, int64_t out) { per_layer += lora.r * (in + out); };
    for (const std::string& t : lora.targets) {
        if (t == "q_proj") add(m.hidden, q_out);
        else if (t == "k_proj" || t == "v_proj") add(m.hidden, kv_out);
        else if (t == "o_proj") add(q_out, m.hidden);
        else if (t == "gate_proj" || t == "up_proj") add(m.hidden, m.intermediate);
        else if (t == "down_proj") add(m.intermediate, m.hidden);
        else if (t == "c_attn") add(m.hidden, 3 * m.hidden);
        else if (t == "c_fc") add(m.hidden, m.intermediate);
        else if (t == "c_proj") {  // GPT-2 has two: attn.c_proj and mlp.c_proj
            add(m.hidden, m.hidden);
            add(m.intermediate, m.hidden);
        }
    }
    return per_layer * m.layers;
}

MemoryEstimate estimate_training_memory(const TrainConfig& c, const ModelFootprint& policy,
                                        const ModelFootprint* reference, const ModelFootprint* reward) {
    MemoryEstimate e;
    e.device = c.device;
    const bool cuda = c.device.rfind("cuda", 0) == 0;
    const int64_t w = (cuda && c.precision != Precision::Fp32) ? 2 : 4;  // activation bytes per element (auto = bf16 on CUDA)
    auto add = [&](const char* what, int64_t bytes) {
        if (bytes <= 0) return;
        e.items.push_back({what, bytes});
        e.total += bytes;
    };
    const int64_t trainable = c.lora.enabled ? lora_parameter_count(c.lora, policy) : policy.params;
    add("policy weights", 4 * policy.params);
    add(c.lora.enabled ? "LoRA adapters (gradients)" : "gradients", 4 * trainable);
    add("AdamW moments", 8 * trainable);

    const bool uses_reference = c.algo == Algo::Ppo || c.algo == Algo::Dpo ||
                                (c.algo == Algo::Grpo && c.grpo.beta > 0);
    if (uses_reference && !c.lora.enabled) add("reference model", 4 * (reference ? reference->params : policy.params));
    if (c.algo == Algo::Ppo) add("value head", 4 * (policy.hidden + 1));
    if ((c.algo == Algo::Ppo || c.algo == Algo::Grpo) && reward) add("reward model", 4 * reward->params);

    // Sequences and their length in one training micro-batch, and rollouts generated at once.
    int64_t seqs = c.batch_size, len = c.data.max_length, generated = 0, gen_len = 0;
    switch (c.algo) {
        case Algo::Sft: break;
        case Algo::Rm:
        case Algo::Dpo: seqs = 2 * c.batch_size; break;  // chosen and rejected side by side
        case Algo::Ppo:
            len = c.data.max_prompt_length + c.ppo.response_length;
            seqs = (c.batch_size + c.ppo.minibatches - 1) / std::max<int64_t>(1, c.ppo.minibatches);
            generated = c.batch_size;
            gen_len = len;
            break;
        case Algo::Grpo:
            len = c.data.max_prompt_length + c.grpo.response_length;
            seqs = c.batch_size * c.grpo.group_size;
            generated = seqs;
            gen_len = len;
            break;
    }
    const int64_t tokens = seqs * len;
    // Korthikanti et al. eq. 2 per layer: s·b·h·(34 + 5·a·s/h) bytes for 16-bit activations.
    const double per_layer = static_cast<double>(tokens) * policy.hidden *
                             (34.0 + 5.0 * policy.heads * static_cast<double>(len) / policy.hidden) * (w / 2.0);
    add("activations", static_cast<int64_t>(per_layer * policy.layers));
    add("logits", 3 * tokens * policy.vocab * 4);
    add("KV cache (rollouts)", 2 * policy.layers * generated * gen_len * policy.kv_heads * policy.head_dim * w);
    return e;
}

int64_t available_host_memory() {
    std::ifstream in("/proc/meminfo");
    std::string line;
    while (std::getline(in, line)) {
        long long kib = 0;
        if (std::sscanf(line.c_str(), "MemAvailable: %lld kB", &kib) == 1) return static_cast<int64_t>(kib) * 1024;
    }
    return -1;
}

std::string format_bytes(int64_t bytes) {
    char buf[64];
    const double b = static_cast<double>(bytes);
    if (bytes >= (int64_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1 << 30));
    else if (bytes >= (int64_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1 << 20));
    else if (bytes >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024);
    else std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
    return buf;
}

}  // namespace rlhf::train
