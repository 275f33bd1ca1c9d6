// rlhf template --tokenizer PATH [--add-generation-prompt]
// stdin JSONL {"messages": […], "tools": […]?, "extra": {…}?} -> stdout JSONL {"rendered": "…"}
// (DESIGN.md §6). PATH is a model folder, its tokenizer.json or tokenizer_config.json; the chat
// template is the model's, rendered as transformers' apply_chat_template would. "extra" holds more
// template variables (documents, enable_thinking, date_string, …). A bad line is an error naming
// its line number (exit 1); earlier lines are already written.
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "app/rlhf/cli.h"
#include "core/io/error.h"
#include "core/text/chat_template.h"

namespace {
int run_template(rlhf::cli::Args& args) {
    const std::string path = args.require("tokenizer");
    const bool add_generation_prompt = args.flag("add-generation-prompt");
    args.positional(0, 0);
    args.finish();
    const auto tmpl = rlhf::text::ChatTemplate::from_tokenizer_config(path);

    std::string line;
    uint64_t line_no = 0;
    while (std::getline(std::cin, line)) {
        ++line_no;
        const std::string where = "stdin: line " + std::to_string(line_no);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines are allowed
        // ordered_json keeps the keys as written: tojson in a template prints them in that order.
        nlohmann::ordered_json in;
        try {
            in = nlohmann::ordered_json::parse(line);
        } catch (const nlohmann::json::parse_error& e) {
            throw rlhf::Error(where + ": invalid JSON: " + e.what());
        }
        if (!in.is_object() || !in.contains("messages") || !in["messages"].is_array())
            throw rlhf::Error(where + ": expected {\"messages\": [...]}");
        for (size_t k = 0; k < in["messages"].size(); ++k)
            if (!in["messages"][k].is_object())
                throw rlhf::Error(where + ": field 'messages[" + std::to_string(k) + "]': expected an object");
        nlohmann::ordered_json extra = nlohmann::ordered_json::object();
        if (in.contains("extra")) {
            if (!in["extra"].is_object()) throw rlhf::Error(where + ": field 'extra': expected an object");
            extra = in["extra"];
        }
        if (in.contains("tools")) {
            if (!in["tools"].is_array() && !in["tools"].is_null())
                throw rlhf::Error(where + ": field 'tools': expected a list of tool schemas");
            extra["tools"] = in["tools"];
        }
        std::string rendered;
        try {
            rendered = tmpl.render_ordered(in["messages"], add_generation_prompt, extra);
        } catch (const rlhf::Error& e) {
            throw rlhf::Error(where + ": " + e.what());
        }
        nlohmann::ordered_json out;
        out["rendered"] = rendered;
        std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    std::cout.flush();
    if (!std::cout) throw rlhf::Error("stdout: write error");
    return 0;
}
}  // namespace

RLHF_CLI_COMMAND(template, "rlhf template --tokenizer PATH [--add-generation-prompt]",
                 "Render JSONL {\"messages\", \"tools\"?} lines from stdin with the model's chat template to {\"rendered\"} lines.",
                 run_template);
