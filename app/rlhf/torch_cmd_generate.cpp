// rlhf generate --model DIR --prompt TEXT [--chat] ... — one completion, streamed to stdout as it
// is generated (or one JSON line with --json). Sampling defaults come from the model folder's
// generation_config.json; any flag given overrides them, and --temperature > 0 turns sampling on.
#include <algorithm>
#include <cstdio>
#include <iostream>
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

int run_generate(cli::Args& args) {
    const std::string dir = args.require("model");
    const std::string prompt = args.require("prompt");
    const bool chat = args.flag("chat");
    const bool as_json = args.flag("json");
    const long long max_new = args.get_int("max-new-tokens", -1);
    const bool has_temperature = args.has("temperature");
    const double temperature = args.get_double("temperature", 0.0);
    const double top_p = args.get_double("top-p", -1.0);
    const long long top_k = args.get_int("top-k", -1);
    const double min_p = args.get_double("min-p", -1.0);
    const double rep = args.get_double("repetition-penalty", -1.0);
    const long long seed = args.get_int("seed", 0);
    const std::string dtype_name = args.get("dtype", "float32");
    const std::string device_name = args.get("device", "cpu");
    const long long threads = args.get_int("threads", 0);
    args.finish();
    if (max_new == 0 || max_new < -1) throw UsageError("rlhf generate: --max-new-tokens must be positive");
    if (has_temperature && temperature < 0) throw UsageError("rlhf generate: --temperature must be >= 0");
    if (device_name != "cpu" && device_name.rfind("cuda", 0) != 0)
        throw UsageError("rlhf generate: --device must be cpu or cuda[:N]");

    // DESIGN.md §3: set the intra-op thread count explicitly (all cores unless told).
    at::set_num_threads(threads > 0 ? static_cast<int>(threads)
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    model::LoadOptions lo;
    lo.dtype = model::parse_dtype(dtype_name);
    lo.device = torch::Device(device_name);
    if (lo.device.is_cuda() && !torch::cuda::is_available())
        throw Error("rlhf generate: --device " + device_name + " requested but this LibTorch has no CUDA device");

    auto tok = text::Tokenizer::from_file(dir);
    auto lm = model::load_causal_lm(dir, lo);
    generate::GenerateOptions o = generate::options_from_model_dir(dir, lm->config());
    if (tok->eos_id() >= 0 &&
        std::find(o.eos_token_ids.begin(), o.eos_token_ids.end(), tok->eos_id()) == o.eos_token_ids.end())
        o.eos_token_ids.push_back(tok->eos_id());
    if (max_new > 0) o.max_new_tokens = max_new;
    if (has_temperature) {
        o.sampling.do_sample = temperature > 0;
        o.sampling.temperature = temperature;
    }
    if (top_p >= 0) o.sampling.top_p = top_p;
    if (top_k >= 0) o.sampling.top_k = top_k;
    if (min_p >= 0) o.sampling.min_p = min_p;
    if (rep > 0) o.sampling.repetition_penalty = rep;
    o.sampling.seed = static_cast<uint64_t>(seed);

    std::vector<int32_t> ids;
    if (chat) {
        auto tmpl = text::ChatTemplate::from_tokenizer_config(dir);
        nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", prompt}}});
        // The rendered template already holds BOS where the model wants it.
        ids = tok->encode(tmpl.render(messages, /*add_generation_prompt=*/true), /*add_special_tokens=*/false);
    } else {
        ids = tok->encode(prompt, /*add_special_tokens=*/true);
    }
    if (ids.empty()) throw Error("rlhf generate: the prompt encodes to no tokens");
    if (lm->config().is_gpt2() && static_cast<int64_t>(ids.size()) + o.max_new_tokens > lm->config().max_position_embeddings)
        o.max_new_tokens = std::max<int64_t>(1, lm->config().max_position_embeddings - static_cast<int64_t>(ids.size()));

    text::DecodeStream stream(*tok, /*skip_special_tokens=*/true);
    if (!as_json) {
        o.on_token = [&](int64_t, int32_t id) {
            std::string piece = stream.step(id);
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
        };
    }
    o.decode = [&](const std::vector<int32_t>& v) { return tok->decode(v, /*skip_special_tokens=*/true); };
    auto res = generate::generate(*lm, {ids}, o);
    if (as_json) {
        nlohmann::json out = {{"text", res.texts[0]},
                              {"tokens", res.tokens[0]},
                              {"logprobs", res.logprobs[0]},
                              {"prompt_tokens", ids.size()},
                              {"finish_reason", generate::finish_reason_name(res.finish[0])}};
        std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
        std::string rest = stream.flush();
        std::fwrite(rest.data(), 1, rest.size(), stdout);
        std::printf("\n");
    }
    return 0;
}

}  // namespace

RLHF_CLI_COMMAND(generate,
                 "rlhf generate --model DIR --prompt TEXT [--chat] [--max-new-tokens N] [--temperature T] "
                 "[--top-p P] [--top-k K] [--min-p M] [--repetition-penalty R] [--seed S] "
                 "[--dtype float32|bfloat16|float16] [--device cpu|cuda] [--threads N] [--json]",
                 "Generate a completion from a Hugging Face model folder, streaming it to stdout.", run_generate);
