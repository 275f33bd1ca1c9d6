// rlhf bench generate — prefill and decode throughput (tokens/s) and peak memory at batch 1 and
// batch 16, for a model folder or a random model of any family built on the spot (--random),
// which --save can write out in Hugging Face layout for tests and demos. Random prompt ids, no
// tokenizer needed. Figures are printed, never asserted.
//
// Two passes per batch: "model" is greedy decoding straight through the KV cache and forward
// (what the model costs); "generate()" runs core/generate's whole loop (masks, sampler, stop
// checks, streaming) greedily and with sampling (temperature 0.7, top-k 50, top-p 0.9, the
// settings many generation_config.json files carry). Each line also prints tokens per CPU
// second (user + system time of all threads), which a loaded machine distorts far less than
// wall time, and an FNV-1a hash of the generated ids, so a speed change can be checked to
// leave the tokens unchanged.
//
// generate() streams its tokens in bursts (it reads the device every --check-every steps), so
// its prefill + first token is timed by a separate call with max_new_tokens 1, and decode is the
// full call less that one. Host reads (model::host_read_count(): every device-to-host copy in the
// engine, each a synchronisation on a GPU) are counted the same way: the full call's reads less
// the 1-token call's, over its batch * (new tokens - 1) decoded tokens, split into generate()'s
// own stop checks (GenerateResult::host_checks, once every --check-every steps) and any other
// read made inside the decode loop (the model's, the sampler's), which should be 0.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <sys/resource.h>

#include <torch/torch.h>

// Debian's CPU LibTorch ships the c10/cuda headers without the CUDA toolkit they include.
#if __has_include(<c10/cuda/CUDACachingAllocator.h>) && __has_include(<cuda_runtime_api.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define RLHF_BENCH_CUDA_STATS 1
#endif

#include "app/rlhf/cli.h"
#include "core/generate/generate.h"
#include "core/io/error.h"
#include "core/model/checkpoint.h"
#include "core/model/device.h"
#include "core/model/model.h"

namespace {

using namespace rlhf;
using Clock = std::chrono::steady_clock;

// Peak resident set of this process (VmHWM), in MiB; monotonic over the process's life.
double peak_rss_mib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    return 0.0;
}

// User + system CPU seconds of this process, all threads.
double cpu_seconds() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

// FNV-1a over token ids: a fingerprint of what was generated, for before/after comparisons.
uint64_t fnv1a(uint64_t h, int64_t token) {
    for (int i = 0; i < 8; ++i) {
        h ^= static_cast<uint64_t>(token >> (8 * i)) & 0xff;
        h *= 0x100000001b3ull;
    }
    return h;
}
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;

// Presets: "tiny" ~1M and "small" ~10M parameters with a 2048/8192-token vocabulary; "medium"
// ~30M (8 layers of 512, a GPT-2 shape between the demo and gpt2-124M); "demo" is the shape of
// the model `rlhf demo` trains (128 wide, 2 layers, 512-token vocabulary, 64 positions).
model::ModelConfig random_config(const std::string& family, const std::string& size) {
    struct Shape { int64_t hidden, layers, heads, kv, llama_inter, vocab, positions; };
    Shape s;
    if (size == "tiny") s = {128, 2, 4, 2, 344, 2048, 1024};
    else if (size == "small") s = {320, 6, 5, 5, 864, 8192, 1024};
    else if (size == "medium") s = {512, 8, 8, 4, 1376, 8192, 1024};
    else if (size == "demo") s = {128, 2, 4, 2, 344, 512, 64};
    else throw UsageError("rlhf bench generate: --size must be demo, tiny, small or medium");
    int64_t kv = family == "gpt2" ? s.heads : s.kv;
    int64_t inter = family == "gpt2" ? 4 * s.hidden : s.llama_inter;
    auto cfg = model::make_config(family, s.hidden, s.layers, s.heads, kv, inter, s.vocab, s.positions);
    cfg.tie_word_embeddings = true;  // as SmolLM / small Qwen do; keeps "small" near 10M parameters
    return cfg;
}

double seconds_since(Clock::time_point t0, torch::Device dev) {
    if (dev.is_cuda()) torch::cuda::synchronize();
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

int run_bench_generate(cli::Args& args) {
    const std::string dir = args.get("model", "");
    const std::string random_family = args.get("random", "");
    const std::string size = args.get("size", "small");
    const std::string save_dir = args.get("save", "");
    const std::string dtype_name = args.get("dtype", "f32");
    const std::string device_name = args.get("device", "cpu");
    const long long prompt_len = args.get_int("prompt-len", 128);
    const long long new_tokens = args.get_int("new-tokens", 64);
    const long long threads = args.get_int("threads", 0);
    const long long seed = args.get_int("seed", 0);
    const long long only_batch = args.get_int("batch", 0);  // 0 = both 1 and 16
    const long long check_every = args.get_int("check-every", 16);  // GenerateOptions::host_check_every
    const bool with_generate = !args.flag("model-only");
    args.finish();
    if (only_batch < 0) throw UsageError("rlhf bench generate: --batch must be positive (0 = 1 and 16)");
    if (dir.empty() == random_family.empty())
        throw UsageError("rlhf bench generate: give exactly one of --model DIR or --random FAMILY");
    if (prompt_len <= 0 || new_tokens <= 0) throw UsageError("rlhf bench generate: lengths must be positive");
    if (check_every < 1) throw UsageError("rlhf bench generate: --check-every must be at least 1");

    at::set_num_threads(threads > 0 ? static_cast<int>(threads)
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    torch::Device device(device_name);
    if (device.is_cuda() && !torch::cuda::is_available())
        throw Error("rlhf bench generate: --device " + device_name + " but this LibTorch has no CUDA device");
    torch::Dtype dtype = model::parse_dtype(dtype_name);

    std::shared_ptr<model::CausalLM> lm;
    if (!dir.empty()) {
        model::LoadOptions lo;
        lo.dtype = dtype;
        lo.device = device;
        lm = model::load_causal_lm(dir, lo);
    } else {
        lm = model::make_random_model(random_config(random_family, size), static_cast<uint64_t>(seed), dtype, device);
        if (!save_dir.empty()) {
            model::save_causal_lm(*lm, save_dir);
            std::printf("saved random %s model to %s\n", random_family.c_str(), save_dir.c_str());
        }
    }
    const auto& cfg = lm->config();
    int64_t n_params = 0;
    for (auto& [name, p] : lm->hf_parameters()) n_params += p.numel();
    std::printf("model: %s, %.2fM parameters, hidden %lld, layers %lld, heads %lld/%lld kv, vocab %lld; "
                "dtype %s, device %s, %d threads\n",
                cfg.model_type.c_str(), n_params / 1e6, (long long)cfg.hidden_size, (long long)cfg.num_hidden_layers,
                (long long)cfg.num_attention_heads, (long long)cfg.num_key_value_heads, (long long)cfg.vocab_size,
                model::dtype_to_string(dtype).c_str(), device_name.c_str(), at::get_num_threads());
    if (cfg.is_gpt2() && prompt_len + new_tokens > cfg.max_position_embeddings)
        throw UsageError("rlhf bench generate: prompt + new tokens exceed n_positions");

    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(seed));
    std::vector<int64_t> batches = {1, 16};
    if (only_batch > 0) batches = {static_cast<int64_t>(only_batch)};
    for (int64_t batch : batches) {
        auto ids = torch::randint(0, cfg.vocab_size, {batch, prompt_len}, gen, torch::kLong).to(device);
        // Warm-up (allocator, OpenMP pool, kernels) on a short run, not timed.
        {
            const int64_t w = std::min<int64_t>(8, prompt_len);
            auto c = model::KvCache::allocate(cfg, batch, w + 1, lm->dtype(), device);
            auto h = lm->forward_hidden(ids.narrow(1, 0, w), {}, &c);
            lm->lm_logits(h.narrow(1, w - 1, 1));
            lm->forward(ids.narrow(1, 0, 1), {}, &c);
        }
#ifdef RLHF_BENCH_CUDA_STATS
        if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index() < 0 ? 0 : device.index());
#endif
        auto cache = model::KvCache::allocate(cfg, batch, prompt_len + new_tokens, lm->dtype(), device);
        auto t0 = Clock::now();
        double c0 = cpu_seconds();
        auto hidden = lm->forward_hidden(ids, {}, &cache);
        auto logits = lm->lm_logits(hidden.narrow(1, prompt_len - 1, 1)).squeeze(1);  // (B, V)
        auto next = logits.argmax(-1, /*keepdim=*/true);                               // (B, 1)
        double prefill_s = seconds_since(t0, device), prefill_cpu = cpu_seconds() - c0;
        std::vector<torch::Tensor> steps = {next};
        auto t1 = Clock::now();
        double c1 = cpu_seconds();
        for (int64_t i = 1; i < new_tokens; ++i) {
            logits = lm->forward(next, {}, &cache).squeeze(1);
            next = logits.argmax(-1, true);
            steps.push_back(next);
        }
        next.to(torch::kCPU);  // wait for the last token
        double decode_s = seconds_since(t1, device), decode_cpu = cpu_seconds() - c1;
        auto all = torch::cat(steps, 1).to(torch::kCPU).contiguous();  // (B, N)
        uint64_t hash = kFnvOffset;
        for (int64_t k = 0; k < all.numel(); ++k) hash = fnv1a(hash, all.data_ptr<int64_t>()[k]);
        double prefill_tps = batch * prompt_len / prefill_s;
        double decode_tps = batch * (new_tokens - 1) / decode_s;
        double kv_mib = 0;
        for (auto& k : cache.k) kv_mib += 2.0 * k.nbytes() / (1024.0 * 1024.0);
        std::string mem;
#ifdef RLHF_BENCH_CUDA_STATS
        if (device.is_cuda()) {
            auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
            mem = "peak CUDA allocated " +
                  std::to_string(stats.allocated_bytes[0].peak / (1024 * 1024)) + " MiB";
        }
#endif
        if (mem.empty()) {
            std::ostringstream s;
            s.precision(1);
            s << std::fixed << "peak RSS " << peak_rss_mib() << " MiB";
            mem = s.str();
        }
        auto per_cpu = [](double tokens, double cpu) { return cpu > 0 ? tokens / cpu : 0.0; };
        std::printf("batch %2lld: prefill %lld tokens %8.1f tok/s (%.3f s; %.1f tok/CPU-s) | decode %lld tokens "
                    "%8.1f tok/s (%.2f ms/step; %.1f tok/CPU-s) | KV cache %.1f MiB | %s | ids fnv %016llx\n",
                    (long long)batch, (long long)(batch * prompt_len), prefill_tps, prefill_s,
                    per_cpu(double(batch * prompt_len), prefill_cpu), (long long)(batch * (new_tokens - 1)),
                    decode_tps, 1000.0 * decode_s / (new_tokens - 1),
                    per_cpu(double(batch * (new_tokens - 1)), decode_cpu), kv_mib, mem.c_str(),
                    (unsigned long long)hash);
        std::fflush(stdout);
        if (!with_generate) continue;

        // The same prompts through core/generate: greedy, then sampled. No EOS, so every row
        // runs the full length.
        std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(batch));
        auto ids_cpu = ids.to(torch::kCPU).contiguous();
        for (int64_t r = 0; r < batch; ++r)
            for (int64_t t = 0; t < prompt_len; ++t)
                prompts[r].push_back(static_cast<int32_t>(ids_cpu[r][t].item<int64_t>()));
        for (bool sampled : {false, true}) {
            generate::GenerateOptions o;
            o.max_new_tokens = new_tokens;
            o.sampling.do_sample = sampled;
            o.sampling.temperature = 0.7;
            o.sampling.top_k = 50;
            o.sampling.top_p = 0.9;
            o.sampling.seed = static_cast<uint64_t>(seed);
            o.host_check_every = check_every;
            // Prefill + first token: the same call stopped after one token.
            auto first_opts = o;
            first_opts.max_new_tokens = 1;
            auto f0 = Clock::now();
            double fc0 = cpu_seconds();
            int64_t fr0 = model::host_read_count();
            auto first = generate::generate(*lm, prompts, first_opts);
            double first_s = seconds_since(f0, device), first_cpu = cpu_seconds() - fc0;
            int64_t first_reads = model::host_read_count() - fr0;

            auto g0 = Clock::now();
            double gc0 = cpu_seconds();
            int64_t gr0 = model::host_read_count();
            auto res = generate::generate(*lm, prompts, o);
            double total_s = seconds_since(g0, device), total_cpu = cpu_seconds() - gc0;
            int64_t total_reads = model::host_read_count() - gr0;
            double dec_s = std::max(total_s - first_s, 1e-9), dec_cpu = total_cpu - first_cpu;
            const int64_t decoded = batch * (new_tokens - 1);
            const int64_t dec_reads = total_reads - first_reads;
            const int64_t dec_checks = res.host_checks - first.host_checks;
            uint64_t h = kFnvOffset;
            for (const auto& row : res.tokens)
                for (int32_t tok : row) h = fnv1a(h, tok);
            std::printf("batch %2lld: generate() %-35s prefill+first token %.3f s | decode %8.1f tok/s "
                        "(%.2f ms/step; %.1f tok/CPU-s) | total %.3f s, %.1f CPU-s | host reads in decode %lld "
                        "= %.4f per token (%lld stop checks every %lld steps + %lld in the loop) | ids fnv %016llx\n",
                        (long long)batch, sampled ? "sampled (T 0.7, top-k 50, top-p 0.9)" : "greedy", first_s,
                        decoded / dec_s, 1000.0 * dec_s / (new_tokens - 1), per_cpu(double(decoded), dec_cpu), total_s,
                        total_cpu, (long long)dec_reads, decoded > 0 ? double(dec_reads) / double(decoded) : 0.0,
                        (long long)dec_checks, (long long)check_every, (long long)(dec_reads - dec_checks),
                        (unsigned long long)h);
            std::fflush(stdout);
        }
    }
    return 0;
}

}  // namespace

RLHF_CLI_BENCH(generate,
               "rlhf bench generate (--model DIR | --random gpt2|llama|mistral|qwen2|qwen3 [--size demo|tiny|small|medium] "
               "[--save DIR]) [--dtype f32|bf16|f16] [--device cpu|cuda] [--prompt-len N] [--new-tokens N] "
               "[--threads N] [--seed S] [--batch N] [--check-every N] [--model-only]",
               "Prefill/decode tokens per second (wall and per CPU second) and peak memory at batch 1 and 16 "
               "(--batch: one batch size), through the model and through core/generate (--model-only skips "
               "that), with generate()'s host reads per decoded token (--check-every: its host_check_every, 16).",
               run_bench_generate);
