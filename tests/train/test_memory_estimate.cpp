// The launcher's memory estimate (core/train/memory_estimate.h) against totals worked out by hand
// from the formulas in the header, on tiny model folders written here.
#include <QtTest/QtTest>

#include <fstream>
#include <string>
#include <vector>

#include "core/io/error.h"
#include "core/io/safetensors.h"
#include "core/train/memory_estimate.h"

using namespace rlhf;

namespace {

// A folder with config.json and a model.safetensors holding F32 tensors of the given sizes.
void write_model(const QString& dir, const std::string& config_json, const std::vector<int64_t>& sizes) {
    QDir().mkpath(dir);
    std::ofstream(dir.toStdString() + "/config.json") << config_json;
    std::vector<std::vector<float>> data;
    std::vector<io::TensorToWrite> tensors;
    for (size_t i = 0; i < sizes.size(); ++i) data.emplace_back(static_cast<size_t>(sizes[i]), 0.5f);
    for (size_t i = 0; i < sizes.size(); ++i)
        tensors.push_back({"t" + std::to_string(i), io::DType::F32, {sizes[i]}, data[i].data(),
                           static_cast<size_t>(sizes[i]) * 4});
    io::write_safetensors(dir.toStdString() + "/model.safetensors", tensors);
}

const char* kGpt2 = R"({"model_type":"gpt2","n_embd":8,"n_layer":2,"n_head":2,"vocab_size":10,"n_positions":16})";

}  // namespace

class MemoryEstimateTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void gpt2Footprint() {
        QTemporaryDir tmp;
        write_model(tmp.path(), kGpt2, {80, 128});
        const auto m = train::read_model_footprint(tmp.path().toStdString());
        QCOMPARE(m.params, int64_t(208));
        QCOMPARE(m.stored_bytes, int64_t(832));
        QCOMPARE(m.hidden, int64_t(8));
        QCOMPARE(m.layers, int64_t(2));
        QCOMPARE(m.intermediate, int64_t(32));  // n_inner absent -> 4 * n_embd
        QCOMPARE(m.head_dim, int64_t(4));
        QCOMPARE(m.kv_heads, int64_t(2));
    }

    void sftTotal() {
        QTemporaryDir tmp;
        write_model(tmp.path(), kGpt2, {80, 128});
        const auto m = train::read_model_footprint(tmp.path().toStdString());
        train::TrainConfig c;
        c.algo = train::Algo::Sft;
        c.batch_size = 2;
        c.data.max_length = 16;
        const auto e = train::estimate_training_memory(c, m);
        // weights 4*208 = 832, gradients 832, AdamW 8*208 = 1664;
        // activations: 32 tokens * 8 * (34 + 5*2*16/8) * (4/2) = 27648 per layer, * 2 layers = 55296;
        // logits 3 * 32 * 10 * 4 = 3840.  Total 62464.
        QCOMPARE(e.total, int64_t(62464));
        QCOMPARE(int(e.items.size()), 5);
        QCOMPARE(QString::fromStdString(e.items[3].what), QStringLiteral("activations"));
        QCOMPARE(e.items[3].bytes, int64_t(55296));
    }

    void ppoWithLoraAndRewardModel() {
        QTemporaryDir tmp;
        write_model(tmp.path() + QStringLiteral("/policy"), kGpt2, {80, 128});
        write_model(tmp.path() + QStringLiteral("/rm"), kGpt2, {100});
        const auto policy = train::read_model_footprint((tmp.path() + QStringLiteral("/policy")).toStdString());
        const auto rm = train::read_model_footprint((tmp.path() + QStringLiteral("/rm")).toStdString());
        train::TrainConfig c;
        c.algo = train::Algo::Ppo;
        c.batch_size = 4;
        c.ppo.minibatches = 2;
        c.data.max_prompt_length = 6;
        c.ppo.response_length = 10;
        c.lora.enabled = true;
        c.lora.r = 2;
        c.lora.targets = {"c_attn"};
        // c_attn 8 -> 24 with r = 2: 2 * (8 + 24) = 64 per layer, 128 in all.
        QCOMPARE(train::lora_parameter_count(c.lora, policy), int64_t(128));
        const auto e = train::estimate_training_memory(c, policy, nullptr, &rm);
        // weights 832, adapter gradients 4*128 = 512, AdamW 8*128 = 1024, no reference (LoRA),
        // value head 4*(8+1) = 36, reward model 4*100 = 400;
        // micro-batch 4/2 = 2 sequences of 6+10 = 16 tokens: activations 55296, logits 3840;
        // KV cache 2 * 2 layers * 4 rollouts * 16 * 2 kv heads * 4 head dim * 4 bytes = 8192.
        QCOMPARE(e.total, int64_t(832 + 512 + 1024 + 36 + 400 + 55296 + 3840 + 8192));
        // Without LoRA the reference is a second copy of the policy: + 4*208 and full gradients.
        c.lora.enabled = false;
        const auto full = train::estimate_training_memory(c, policy, nullptr, &rm);
        QCOMPARE(full.total, int64_t(832 + 832 + 1664 + 832 + 36 + 400 + 55296 + 3840 + 8192));
    }

    void llamaShapeAndLora() {
        QTemporaryDir tmp;
        write_model(tmp.path(), R"({"model_type":"llama","hidden_size":8,"num_hidden_layers":1,
            "num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":12,"vocab_size":5})", {40});
        const auto m = train::read_model_footprint(tmp.path().toStdString());
        QCOMPARE(m.head_dim, int64_t(2));
        train::LoraConfig lora;
        lora.enabled = true;
        lora.r = 1;
        lora.targets = {"q_proj", "k_proj", "down_proj"};
        // q 8->8: 16, k 8->4: 12, down 12->8: 20; one layer.
        QCOMPARE(train::lora_parameter_count(lora, m), int64_t(48));
    }

    void badConfigNamesFileAndKey() {
        QTemporaryDir tmp;
        write_model(tmp.path(), R"({"model_type":"gpt2","n_embd":8,"n_head":2,"vocab_size":10})", {4});
        try {
            train::read_model_footprint(tmp.path().toStdString());
            QFAIL("expected an error");
        } catch (const Error& e) {
            const QString msg = QString::fromUtf8(e.what());
            QVERIFY2(msg.contains(QStringLiteral("config.json")) && msg.contains(QStringLiteral("n_layer")), e.what());
        }
        QVERIFY(QFile::remove(tmp.path() + QStringLiteral("/model.safetensors")));
        std::ofstream(tmp.path().toStdString() + "/config.json") << kGpt2;
        QVERIFY_THROWS_EXCEPTION(Error, train::read_model_footprint(tmp.path().toStdString()));
    }

    void formatting() {
        QCOMPARE(QString::fromStdString(train::format_bytes(900)), QStringLiteral("900 B"));
        QCOMPARE(QString::fromStdString(train::format_bytes(3 * 1024 * 1024 / 2)), QStringLiteral("1.5 MiB"));
        QCOMPARE(QString::fromStdString(train::format_bytes(int64_t(5) << 30)), QStringLiteral("5.00 GiB"));
        QVERIFY(train::available_host_memory() > 0);
    }
};

QTEST_APPLESS_MAIN(MemoryEstimateTest)
#include "test_memory_estimate.moc"
