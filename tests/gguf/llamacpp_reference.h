// Runs tests/tools/llamacpp/ref.mjs (llama.cpp through node-llama-cpp) on one JSON request and
// returns its JSON answer; shared by test_gguf_llamacpp and test_gguf_demo_cli. The including
// test defines RLHF_NODE_PATH (tests/gguf/CMakeLists.txt) and RLHF_SOURCE_DIR.
#pragma once
#include <QProcess>
#include <QString>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace gguf_test {

inline const std::string kRefScript = std::string(RLHF_SOURCE_DIR) + "/tests/tools/llamacpp/ref.mjs";

// Writes `request` to <tmp>/request.json and runs node on it. A failed run leaves `*error` set
// (exit code and node's stderr) and returns null, so the caller QVERIFYs with the message.
inline nlohmann::json run_reference(const nlohmann::json& request, const QString& tmp, std::string* error) {
    std::string req_path = (tmp + QStringLiteral("/request.json")).toStdString();
    std::ofstream(req_path) << request.dump();
    QProcess p;
    p.start(QStringLiteral(RLHF_NODE_PATH), {QString::fromStdString(kRefScript), QString::fromStdString(req_path)});
    if (!p.waitForFinished(180000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        *error = "ref.mjs failed (exit " + std::to_string(p.exitCode()) + "): " + p.readAllStandardError().toStdString();
        return {};
    }
    return nlohmann::json::parse(p.readAllStandardOutput().toStdString());
}

}  // namespace gguf_test
