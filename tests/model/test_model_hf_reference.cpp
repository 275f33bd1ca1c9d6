// Our models against Hugging Face transformers itself: tiny random checkpoints saved by
// save_pretrained, with logits and greedy continuations computed by transformers
// (tests/tools/model/make_fixtures.py). Registered only when tests/fixtures/model/manifest.json
// exists; the fixtures are never hand-made.
#include <QtTest/QtTest>

#include "core/generate/generate.h"
#include "core/io/json_io.h"
#include "core/io/safetensors.h"
#include "core/model/checkpoint.h"
#include "model/model_test_util.h"

using namespace rlhf::model;
using namespace rlhf::model::test;

namespace {
const std::string kDir = std::string(RLHF_FIXTURES_DIR) + "/model";

torch::Tensor read_tensor(const rlhf::io::SafetensorsFile& f, const std::string& name, torch::Dtype dtype) {
    const auto& v = f.at(name);
    auto t = torch::empty(std::vector<int64_t>(v.shape.begin(), v.shape.end()), dtype);
    std::memcpy(t.data_ptr(), v.data, v.nbytes);
    return t;
}
}  // namespace

class ModelHfReferenceTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { torch::set_num_threads(2); }

    void matches_transformers_data() {
        QTest::addColumn<QString>("dir");
        QTest::addColumn<int>("index");
        auto manifest = rlhf::io::read_json_file(kDir + "/manifest.json");
        int i = 0;
        for (const auto& c : manifest["cases"]) {
            QTest::newRow(c["family"].get<std::string>().c_str())
                << QString::fromStdString(kDir + "/" + c["dir"].get<std::string>()) << i++;
        }
    }

    // Logits at every real (unpadded) position within 1e-4 of transformers' eager fp32 forward,
    // and the greedy continuation token for token.
    void matches_transformers() {
        QFETCH(QString, dir);
        QFETCH(int, index);
        auto manifest = rlhf::io::read_json_file(kDir + "/manifest.json");
        const auto& c = manifest["cases"][index];
        auto model = load_causal_lm(dir.toStdString());
        auto ref = rlhf::io::SafetensorsFile::open(dir.toStdString() + "/reference.safetensors");
        auto ids = read_tensor(ref, "input_ids", torch::kLong);
        auto mask = read_tensor(ref, "attention_mask", torch::kLong);
        auto logits = read_tensor(ref, "logits", torch::kFloat32);
        torch::NoGradGuard ng;
        auto ours = model->forward(ids, mask);
        auto real = mask.to(torch::kBool).unsqueeze(-1).expand_as(ours);
        double d = max_abs_diff(ours.masked_select(real), logits.masked_select(real));
        QVERIFY2(d < 1e-4, qPrintable(QStringLiteral("max |logit diff| %1").arg(d)));

        std::vector<int32_t> prompt = c["greedy_prompt"].get<std::vector<int32_t>>();
        rlhf::generate::GenerateOptions o;
        o.max_new_tokens = c["max_new_tokens"].get<int64_t>();
        auto r = rlhf::generate::generate(*model, {prompt}, o);
        QCOMPARE(r.tokens[0], c["greedy_tokens"].get<std::vector<int32_t>>());
    }
};

QTEST_APPLESS_MAIN(ModelHfReferenceTest)
#include "test_model_hf_reference.moc"
