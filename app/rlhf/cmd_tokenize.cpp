// rlhf tokenize --tokenizer PATH [--add-special-tokens]
// stdin JSONL {"text": …} -> stdout JSONL {"ids": […], "decoded": "…"} (DESIGN.md §6). A bad
// input line is an error naming its line number (exit 1); earlier lines are already written.
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "app/rlhf/cli.h"
#include "core/io/error.h"
#include "core/text/tokenizer.h"

namespace {
int run_tokenize(rlhf::cli::Args& args) {
    const std::string path = args.require("tokenizer");
    const bool add_special = args.flag("add-special-tokens");
    args.positional(0, 0);
    args.finish();
    auto tok = rlhf::text::Tokenizer::from_file(path);

    std::string line;
    uint64_t line_no = 0;
    while (std::getline(std::cin, line)) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines are allowed
        nlohmann::json in;
        try {
            in = nlohmann::json::parse(line);
        } catch (const nlohmann::json::parse_error& e) {
            throw rlhf::Error("stdin: line " + std::to_string(line_no) + ": invalid JSON: " + e.what());
        }
        if (!in.is_object() || !in.contains("text") || !in["text"].is_string())
            throw rlhf::Error("stdin: line " + std::to_string(line_no) + ": expected {\"text\": \"...\"}");
        std::vector<int32_t> ids = tok->encode(in["text"].get_ref<const std::string&>(), add_special);
        nlohmann::json out;
        out["ids"] = ids;
        out["decoded"] = tok->decode(ids, false);
        std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    std::cout.flush();
    if (!std::cout) throw rlhf::Error("stdout: write error");
    return 0;
}
}  // namespace

RLHF_CLI_COMMAND(tokenize, "rlhf tokenize --tokenizer PATH [--add-special-tokens]",
                 "Encode JSONL {\"text\"} lines from stdin to {\"ids\", \"decoded\"} lines.", run_tokenize);
