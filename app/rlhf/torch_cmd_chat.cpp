// rlhf chat --model DIR — an interactive REPL over stdin: each line is a user turn, rendered
// with the model's chat template together with the conversation so far; the reply streams to
// stdout. "/reset" clears the conversation, "/exit" (or end of input) quits. The prompt marker
// goes to stderr so stdout carries only the replies (scriptable).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "app/rlhf/cli.h"
#include "core/generate/defaults.h"
#include "core/generate/generate.h"
#include "core/io/error.h"
#include "core/model/checkpoint.h"
#include "core/text/chat_template.h"
#include "core/text/tokenizer.h"

namespace {

using namespace rlhf;

int run_chat(cli::Args& args) {
    const std::string dir = args.require("model");
    const std::string system_prompt = args.get("system", "");
    const long long max_new = args.get_int("max-new-tokens", 256);
    const bool has_temperature = args.has("temperature");
    const double temperature = args.get_double("temperature", 0.0);
    const double top_p = args.get_double("top-p", -1.0);
    const long long top_k = args.get_int("top-k", -1);
    const long long seed = args.get_int("seed", 0);
    const std::string dtype_name = args.get("dtype", "float32");
    const std::string device_name = args.get("device", "cpu");
    const long long threads = args.get_int("threads", 0);
    args.finish();
    if (max_new <= 0) throw UsageError("rlhf chat: --max-new-tokens must be positive");

    at::set_num_threads(threads > 0 ? static_cast<int>(threads)
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    model::LoadOptions lo;
    lo.dtype = model::parse_dtype(dtype_name);
    lo.device = torch::Device(device_name);
    if (lo.device.is_cuda() && !torch::cuda::is_available())
        throw Error("rlhf chat: --device " + device_name + " requested but this LibTorch has no CUDA device");
    auto tok = text::Tokenizer::from_file(dir);
    auto tmpl = text::ChatTemplate::from_tokenizer_config(dir);
    auto lm = model::load_causal_lm(dir, lo);
    generate::GenerateOptions o = generate::options_from_model_dir(dir, lm->config());
    if (tok->eos_id() >= 0 &&
        std::find(o.eos_token_ids.begin(), o.eos_token_ids.end(), tok->eos_id()) == o.eos_token_ids.end())
        o.eos_token_ids.push_back(tok->eos_id());
    o.max_new_tokens = max_new;
    if (has_temperature) {
        o.sampling.do_sample = temperature > 0;
        o.sampling.temperature = temperature;
    }
    if (top_p >= 0) o.sampling.top_p = top_p;
    if (top_k >= 0) o.sampling.top_k = top_k;
    o.decode = [&](const std::vector<int32_t>& v) { return tok->decode(v, /*skip_special_tokens=*/true); };

    nlohmann::json messages = nlohmann::json::array();
    if (!system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", system_prompt}});
    std::string line;
    uint64_t turn = 0;
    while (true) {
        std::fprintf(stderr, "> ");
        std::fflush(stderr);
        if (!std::getline(std::cin, line)) break;
        if (line == "/exit" || line == "/quit") break;
        if (line == "/reset") {
            messages = nlohmann::json::array();
            if (!system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", system_prompt}});
            continue;
        }
        if (line.empty()) continue;
        messages.push_back({{"role", "user"}, {"content", line}});
        auto ids = tok->encode(tmpl.render(messages, /*add_generation_prompt=*/true), /*add_special_tokens=*/false);
        auto opts = o;
        opts.sampling.seed = static_cast<uint64_t>(seed) + turn++;
        if (lm->config().is_gpt2()) {
            int64_t room = lm->config().max_position_embeddings - static_cast<int64_t>(ids.size());
            if (room <= 0) throw Error("rlhf chat: the conversation no longer fits the model's context; use /reset");
            opts.max_new_tokens = std::min<int64_t>(opts.max_new_tokens, room);
        }
        text::DecodeStream stream(*tok, /*skip_special_tokens=*/true);
        opts.on_token = [&](int64_t, int32_t id) {
            std::string piece = stream.step(id);
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
        };
        auto res = generate::generate(*lm, {ids}, opts);
        std::string rest = stream.flush();
        std::fwrite(rest.data(), 1, rest.size(), stdout);
        std::printf("\n");
        std::fflush(stdout);
        messages.push_back({{"role", "assistant"}, {"content", res.texts[0]}});
    }
    return 0;
}

}  // namespace

RLHF_CLI_COMMAND(chat,
                 "rlhf chat --model DIR [--system TEXT] [--max-new-tokens N] [--temperature T] [--top-p P] "
                 "[--top-k K] [--seed S] [--dtype float32|bfloat16|float16] [--device cpu|cuda] [--threads N]",
                 "Chat with a model over stdin/stdout using its chat template, streaming replies.", run_chat);
