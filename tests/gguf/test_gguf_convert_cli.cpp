// `rlhf convert` as a command: exit codes and messages (DESIGN.md §6: 2 = usage, 1 = bad input
// naming the file), and a converted file that parses as GGUF with the folder's architecture.
#include <QtTest/QtTest>

#include <QProcess>
#include <QTemporaryDir>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/gguf/gguf_file.h"
#include "core/io/safetensors.h"

namespace {

struct Run {
    int exit_code = -1;
    QString out, err;
};

Run run_cli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(RLHF_CLI_PATH), args);
    Run r;
    if (!p.waitForFinished(120000)) return r;
    r.exit_code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

}  // namespace

class GgufConvertCliTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void usage_errors_exit_2();
    void bad_folder_exits_1_naming_the_file();
    void converts_a_gpt2_folder();
};

void GgufConvertCliTest::usage_errors_exit_2() {
    const QString c = QStringLiteral("convert");
    Run r = run_cli({c, QStringLiteral("--to"), QStringLiteral("onnx"), QStringLiteral("--model"), QStringLiteral("m"),
                  QStringLiteral("--out"), QStringLiteral("x")});
    QCOMPARE(r.exit_code, 2);
    QVERIFY2(r.err.contains(QStringLiteral("--to 'onnx'")), qPrintable(r.err));
    r = run_cli({c, QStringLiteral("--to"), QStringLiteral("gguf"), QStringLiteral("--model"), QStringLiteral("m"),
              QStringLiteral("--out"), QStringLiteral("x"), QStringLiteral("--dtype"), QStringLiteral("q4_0")});
    QCOMPARE(r.exit_code, 2);
    QVERIFY2(r.err.contains(QStringLiteral("--dtype 'q4_0'")), qPrintable(r.err));
    r = run_cli({c, QStringLiteral("--to"), QStringLiteral("gguf"), QStringLiteral("--model"), QStringLiteral("m")});
    QCOMPARE(r.exit_code, 2);  // --out missing
}

void GgufConvertCliTest::bad_folder_exits_1_naming_the_file() {
    QTemporaryDir tmp;
    Run r = run_cli({QStringLiteral("convert"), QStringLiteral("--to"), QStringLiteral("gguf"), QStringLiteral("--model"),
                  tmp.path(), QStringLiteral("--out"), tmp.path() + QStringLiteral("/x.gguf")});
    QCOMPARE(r.exit_code, 1);
    QVERIFY2(r.err.contains(tmp.path() + QStringLiteral("/config.json: not found")), qPrintable(r.err));
}

void GgufConvertCliTest::converts_a_gpt2_folder() {
    // A 1-layer GPT-2 (C = 4, V = 512 for the committed demo tokenizer) with zero weights: the
    // command's job here is the plumbing; layouts and numbers are test_gguf_file / test_gguf_llamacpp.
    QTemporaryDir tmp;
    const std::string dir = tmp.path().toStdString();
    nlohmann::json cfg = {{"model_type", "gpt2"}, {"vocab_size", 512}, {"n_embd", 4}, {"n_layer", 1}, {"n_head", 2},
                          {"n_positions", 16}};
    std::ofstream(dir + "/config.json") << cfg.dump();
    const std::vector<std::pair<std::string, std::vector<int64_t>>> specs = {
        {"wte.weight", {512, 4}}, {"wpe.weight", {16, 4}},
        {"h.0.ln_1.weight", {4}}, {"h.0.ln_1.bias", {4}}, {"h.0.attn.c_attn.weight", {4, 12}}, {"h.0.attn.c_attn.bias", {12}},
        {"h.0.attn.c_proj.weight", {4, 4}}, {"h.0.attn.c_proj.bias", {4}}, {"h.0.ln_2.weight", {4}}, {"h.0.ln_2.bias", {4}},
        {"h.0.mlp.c_fc.weight", {4, 16}}, {"h.0.mlp.c_fc.bias", {16}}, {"h.0.mlp.c_proj.weight", {16, 4}},
        {"h.0.mlp.c_proj.bias", {4}}, {"ln_f.weight", {4}}, {"ln_f.bias", {4}}};
    std::vector<std::vector<float>> data;
    std::vector<rlhf::io::TensorToWrite> tensors;
    for (const auto& [name, shape] : specs) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        data.emplace_back(static_cast<size_t>(n), 0.0f);
    }
    for (size_t i = 0; i < specs.size(); ++i)
        tensors.push_back({specs[i].first, rlhf::io::DType::F32, specs[i].second, data[i].data(), data[i].size() * 4});
    rlhf::io::write_safetensors(dir + "/model.safetensors", tensors);
    std::filesystem::copy_file(std::string(RLHF_FIXTURES_DIR) + "/demo/tokenizer.json", dir + "/tokenizer.json");
    Run r = run_cli({QStringLiteral("convert"), QStringLiteral("--to"), QStringLiteral("gguf"), QStringLiteral("--model"),
                  tmp.path(), QStringLiteral("--out"), tmp.path() + QStringLiteral("/m.gguf"), QStringLiteral("--dtype"),
                  QStringLiteral("bf16")});
    QCOMPARE(r.exit_code, 0);
    auto line = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(line["architecture"].get<std::string>(), std::string("gpt2"));
    QCOMPARE(line["dtype"].get<std::string>(), std::string("BF16"));
    QCOMPARE(line["tensors"].get<int>(), int(specs.size()));
    auto gguf = rlhf::gguf::read_gguf(dir + "/m.gguf");
    QCOMPARE(line["bytes"].get<uint64_t>(), uint64_t(gguf.bytes.size()));
    QCOMPARE(gguf.metadata.at("general.architecture").str, std::string("gpt2"));
    QCOMPARE(gguf.find("blk.0.ffn_up.weight")->type, rlhf::gguf::TensorType::BF16);
}

QTEST_APPLESS_MAIN(GgufConvertCliTest)
#include "test_gguf_convert_cli.moc"
