// rlhf convert --to gguf — a Hugging Face model folder (ours or anyone's: config.json,
// safetensors, tokenizer.json) as one GGUF file for llama.cpp, LM Studio, Ollama (docs/export.md).
// Prints one JSON line: {"out", "architecture", "dtype", "tensors", "bytes", "seconds"}; notes on
// what llama.cpp will run differently go to stderr as "warning: ...".
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/rlhf/cli.h"
#include "core/gguf/hf_to_gguf.h"
#include "core/io/error.h"

namespace {

int run_convert(rlhf::cli::Args& args) {
    std::string to = args.require("to");
    rlhf::gguf::ConvertOptions o;
    o.model_dir = args.require("model");
    o.out_path = args.require("out");
    std::string dtype = args.get("dtype", "f32");
    o.name = args.get("name", "");
    args.finish();
    if (to != "gguf") throw rlhf::UsageError("--to '" + to + "': the only target is gguf");
    o.dtype = rlhf::gguf::parse_tensor_type(dtype);

    auto t0 = std::chrono::steady_clock::now();
    rlhf::gguf::ConvertResult r = rlhf::gguf::convert_hf_to_gguf(o);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    nlohmann::json line = {{"out", o.out_path},       {"architecture", r.architecture},
                           {"dtype", rlhf::gguf::tensor_type_name(o.dtype)}, {"tensors", r.tensor_count},
                           {"bytes", r.file_bytes},   {"seconds", seconds}};
    std::printf("%s\n", line.dump().c_str());
    return 0;
}

}  // namespace

RLHF_CLI_COMMAND(convert, "rlhf convert --to gguf --model HF_DIR --out FILE.gguf [--dtype f32|f16|bf16] [--name NAME]",
                 "Convert a Hugging Face model folder to GGUF (llama.cpp, LM Studio, Ollama).", run_convert);
