// `rlhf check --device cpu` and `rlhf version` end to end (DESIGN.md §6, issue 12 item 6): the
// self-check that a GPU machine runs with --device cuda must pass on the CPU, every line PASS, with
// every family and every algorithm covered; `rlhf version --json` names a LibTorch 2.x, says
// whether CUDA is compiled in and lists the CPU with its thread count.
#include <QtTest/QtTest>

#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/cli_run.h"

namespace {
using cli_test::run_cli;

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(line);
    return out;
}
}  // namespace

class CheckCliTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void check_on_cpu_passes_everything() {
        auto r = run_cli({QStringLiteral("check"), QStringLiteral("--device"), QStringLiteral("cpu")}, QString(), 120000);
        QVERIFY2(r.code == 0, (r.out + r.err).c_str());
        // "PASS  <what> <family> <numbers>" per check; the tag is the first word.
        std::set<std::string> checks, families;
        int pass = 0;
        for (const auto& line : lines_of(r.out)) {
            std::istringstream w(line);
            std::string tag, what, sub, family;
            w >> tag;
            if (tag != "PASS" && tag != "FAIL" && tag != "INFO") continue;
            QVERIFY2(tag == "PASS", line.c_str());  // on the CPU even the default-kernel resume is exact
            w >> what >> sub >> family;             // "forward fp32 gpt2", "step sft llama", "resume ppo qwen2"
            checks.insert(what + " " + sub);
            families.insert(family);
            ++pass;
        }
        // 5 forward + 5 decode (fp32 only on the CPU) + 25 steps + 5 resumes.
        QCOMPARE(pass, 40);
        for (const char* c : {"forward fp32", "decode fp32", "step sft", "step rm", "step dpo", "step ppo", "step grpo",
                              "resume sft", "resume rm", "resume dpo", "resume ppo", "resume grpo"})
            QVERIFY2(checks.count(c), c);
        QCOMPARE(families, (std::set<std::string>{"gpt2", "llama", "mistral", "qwen2", "qwen3"}));
        QVERIFY2(r.out.find("check: 40 passed, 0 failed") != std::string::npos, r.out.c_str());
    }

    void check_needs_a_device() {
        auto r = run_cli({QStringLiteral("check")});
        QCOMPARE(r.code, 2);  // usage
        r = run_cli({QStringLiteral("check"), QStringLiteral("--device"), QStringLiteral("tpu")});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.find("--device") != std::string::npos, r.err.c_str());
    }

    void version_json_names_torch_cuda_and_devices() {
        auto r = run_cli({QStringLiteral("version"), QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.c_str());
        auto lines = lines_of(r.out);
        QCOMPARE(lines.size(), size_t(1));
        auto j = nlohmann::json::parse(lines[0]);
        QVERIFY(j.at("rlhf").is_string());
        QVERIFY2(j.at("torch").get<std::string>().rfind("2.", 0) == 0, lines[0].c_str());
        QVERIFY(j.at("cuda_compiled").is_boolean());
        QVERIFY(j.at("cuda_available").is_boolean());
        QVERIFY(j.contains("cuda_version"));
        const auto& devices = j.at("devices");
        QVERIFY(devices.is_array() && !devices.empty());
        QCOMPARE(devices[0].at("type").get<std::string>(), std::string("cpu"));
        QVERIFY(devices[0].at("threads").get<int>() >= 1);
        for (size_t i = 1; i < devices.size(); ++i)  // CUDA devices, when a GPU is visible
            for (const char* k : {"index", "name", "memory_bytes", "compute_capability"}) QVERIFY2(devices[i].contains(k), k);
    }

    void version_text_names_libtorch() {
        auto r = run_cli({QStringLiteral("version")});
        QVERIFY2(r.code == 0, r.err.c_str());
        QVERIFY2(r.out.find("LibTorch 2.") != std::string::npos, r.out.c_str());
        QVERIFY2(r.out.find("CUDA compiled in: ") != std::string::npos, r.out.c_str());
        QVERIFY2(r.out.find("device cpu: ") != std::string::npos, r.out.c_str());
    }
};

QTEST_GUILESS_MAIN(CheckCliTest)
#include "test_check_cli.moc"
