// rlhf chat --model DIR — an interactive REPL over stdin: each line is a user turn, rendered
// with the model's chat template together with the conversation so far; the reply streams to
// stdout. "/reset" clears the conversation, "/exit" (or end of input) quits. The prompt marker
// goes to stderr so stdout carries only the replies (scriptable).
//
// rlhf chat --model DIR --json — the machine protocol the workbench's Chat panel speaks: the model
// is loaded once, then every stdin line is one JSON request and every stdout line one JSON event.
//   request  {"id":7, "messages":[{"role":"user","content":"Hi"}, …], "system":"…",
//             "max_new_tokens":64, "temperature":0.7, "top_p":0.9, "top_k":50, "seed":1}
//            or {"id":7, "prompt":"This blender"}: a plain completion (no chat template), as
//            `rlhf generate --prompt` without --chat (the demo's review models are not chat models)
//   cancel   {"cancel":7}: stops request 7 between two tokens (queued or in flight)
//   events   {"event":"ready","model":DIR}                      once, after loading
//            {"id":7,"event":"token","text":"…"}               one per DecodeStream piece
//            {"id":7,"event":"done","text":FULL,"tokens":n,"tokens_per_second":x,
//             "finish_reason":"eos|length|stop|cancelled"}
//            {"id":7,"event":"error","message":"…"}             a bad request; the process goes on
// Requests run one at a time in arrival order; a reader thread keeps reading stdin meanwhile so
// a cancel reaches the reply in flight (generate polls the flag before every token). End of
// input finishes the queued requests and exits.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <torch/version.h>

#include "app/rlhf/cli.h"
#include "core/generate/defaults.h"
#include "core/generate/generate.h"
#include "core/io/error.h"
#include "core/model/checkpoint.h"
#include "core/text/chat_template.h"
#include "core/text/tokenizer.h"

namespace {

using namespace rlhf;
using nlohmann::json;

// What both modes share: the model, its tokenizer and chat template, and the generation defaults
// of its folder with the command line's overrides applied.
struct LoadedChat {
    std::shared_ptr<const text::Tokenizer> tok;
    std::optional<text::ChatTemplate> tmpl;  // unset when the folder has no chat template
    std::string tmpl_error;                  // why it is unset
    std::shared_ptr<model::CausalLM> lm;
    generate::GenerateOptions base;
    std::string default_system;              // --system: used when a request sets none
};

// ---- the JSON protocol

// stdout is written by the generating thread (tokens, done) and the reader thread (errors for
// bad lines): one mutex keeps every event on its own line.
class EventWriter {
public:
    void write(const json& event) {
        const std::string line = event.dump(-1, ' ', false, json::error_handler_t::replace);
        std::lock_guard<std::mutex> lock(mutex_);
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
    }

private:
    std::mutex mutex_;
};

struct ChatRequest {
    json id;
    json body;
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
};

// The queue between the stdin reader and the generating thread, and the cancel lookup by id.
class RequestQueue {
public:
    void push(ChatRequest r) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            queue_.push_back(std::move(r));
        }
        cv_.notify_one();
    }
    // Raises the flag of the queued or running request with this id; false when there is none.
    bool cancel(const json& id) {
        std::lock_guard<std::mutex> lock(mutex_);
        bool found = false;
        for (auto& r : queue_)
            if (r.id == id) r.cancel->store(true), found = true;
        if (running_ && running_->first == id) running_->second->store(true), found = true;
        return found;
    }
    void close() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            closed_ = true;
        }
        cv_.notify_one();
    }
    // Blocks for the next request; nullopt once input has ended and the queue is empty.
    std::optional<ChatRequest> pop() {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return std::nullopt;
        ChatRequest r = std::move(queue_.front());
        queue_.pop_front();
        running_ = std::make_pair(r.id, r.cancel);
        return r;
    }
    void finished() {
        std::lock_guard<std::mutex> lock(mutex_);
        running_.reset();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<ChatRequest> queue_;
    std::optional<std::pair<json, std::shared_ptr<std::atomic<bool>>>> running_;
    bool closed_ = false;
};

// Reads a number field of a request, naming the field when it has the wrong type.
template <typename T>
T number_field(const json& body, const char* name, T fallback) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return fallback;
    if (!it->is_number()) throw Error(std::string("request field '") + name + "': expected a number");
    return it->get<T>();
}

// One reply: builds the prompt ids, generates with streaming, and returns the "done" event.
json answer_request(LoadedChat& m, const ChatRequest& req, EventWriter& out) {
    const json& body = req.body;
    generate::GenerateOptions opts = m.base;
    opts.max_new_tokens = number_field<int64_t>(body, "max_new_tokens", opts.max_new_tokens);
    if (opts.max_new_tokens <= 0) throw Error("request field 'max_new_tokens': must be positive");
    if (body.contains("temperature") && !body["temperature"].is_null()) {
        const double t = number_field<double>(body, "temperature", 0.0);
        if (t < 0) throw Error("request field 'temperature': must be >= 0");
        opts.sampling.do_sample = t > 0;
        opts.sampling.temperature = t;
    }
    opts.sampling.top_p = number_field<double>(body, "top_p", opts.sampling.top_p);
    opts.sampling.top_k = number_field<int64_t>(body, "top_k", opts.sampling.top_k);
    opts.sampling.min_p = number_field<double>(body, "min_p", opts.sampling.min_p);
    opts.sampling.repetition_penalty = number_field<double>(body, "repetition_penalty", opts.sampling.repetition_penalty);
    opts.sampling.seed = number_field<uint64_t>(body, "seed", opts.sampling.seed);

    std::vector<int32_t> ids;
    if (body.contains("prompt")) {
        if (!body["prompt"].is_string()) throw Error("request field 'prompt': expected a string");
        // Same encoding as `rlhf generate --prompt` without --chat.
        ids = m.tok->encode(body["prompt"].get<std::string>(), /*add_special_tokens=*/true);
    } else {
        if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
            throw Error("request: needs 'messages' (a non-empty array) or 'prompt'");
        json messages = json::array();
        const std::string system = body.value("system", m.default_system);
        const bool has_system = body["messages"][0].value("role", std::string()) == "system";
        if (!system.empty() && !has_system) messages.push_back({{"role", "system"}, {"content", system}});
        for (size_t i = 0; i < body["messages"].size(); ++i) {
            const json& msg = body["messages"][i];
            if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string() || !msg.contains("content") ||
                !msg["content"].is_string())
                throw Error("request field 'messages[" + std::to_string(i) + "]': needs string 'role' and 'content'");
            messages.push_back({{"role", msg["role"]}, {"content", msg["content"]}});
        }
        if (!m.tmpl) throw Error("chat template: " + m.tmpl_error + " (send 'prompt' for a plain completion)");
        // The rendered template already holds BOS where the model wants it.
        ids = m.tok->encode(m.tmpl->render(messages, /*add_generation_prompt=*/true), /*add_special_tokens=*/false);
    }
    if (ids.empty()) throw Error("request: the prompt encodes to no tokens");
    if (m.lm->config().is_gpt2()) {
        const int64_t room = m.lm->config().max_position_embeddings - static_cast<int64_t>(ids.size());
        if (room <= 0)
            throw Error("request: the prompt (" + std::to_string(ids.size()) + " tokens) does not fit the model's " +
                        std::to_string(m.lm->config().max_position_embeddings) + " positions");
        opts.max_new_tokens = std::min<int64_t>(opts.max_new_tokens, room);
    }

    text::DecodeStream stream(*m.tok, /*skip_special_tokens=*/true);
    opts.cancel = req.cancel.get();
    opts.on_token = [&](int64_t, int32_t id) {
        std::string piece = stream.step(id);
        if (!piece.empty()) out.write({{"id", req.id}, {"event", "token"}, {"text", piece}});
    };
    const auto t0 = std::chrono::steady_clock::now();
    auto res = generate::generate(*m.lm, {ids}, opts);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string rest = stream.flush();
    if (!rest.empty()) out.write({{"id", req.id}, {"event", "token"}, {"text", rest}});
    const auto n = static_cast<int64_t>(res.tokens[0].size());
    return {{"id", req.id},
            {"event", "done"},
            {"text", res.texts[0]},
            {"tokens", n},
            {"prompt_tokens", ids.size()},
            {"tokens_per_second", secs > 0 ? static_cast<double>(n) / secs : 0.0},
            {"finish_reason", generate::finish_reason_name(res.finish[0])}};
}

int run_json_protocol(LoadedChat& m, const std::string& dir) {
    EventWriter out;
    RequestQueue queue;
    out.write({{"event", "ready"}, {"model", dir}, {"chat_template", m.tmpl.has_value()}});
    // The reader only parses and queues (or cancels); it never touches the model.
    std::thread reader([&] {
        std::string line;
        while (std::getline(std::cin, line)) {
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            json body;
            try {
                body = json::parse(line);
            } catch (const json::exception& e) {
                out.write({{"event", "error"}, {"message", std::string("stdin: not JSON: ") + e.what()}});
                continue;
            }
            if (!body.is_object()) {
                out.write({{"event", "error"}, {"message", "stdin: a request is a JSON object"}});
                continue;
            }
            if (body.contains("cancel")) {
                queue.cancel(body["cancel"]);  // an id already answered is not an error: it raced the reply
                continue;
            }
            ChatRequest r;
            r.id = body.value("id", json());
            r.body = std::move(body);
            queue.push(std::move(r));
        }
        queue.close();
    });
    while (auto req = queue.pop()) {
        try {
            out.write(answer_request(m, *req, out));
        } catch (const std::exception& e) {
            out.write({{"id", req->id}, {"event", "error"}, {"message", e.what()}});
        }
        queue.finished();
    }
    reader.join();
    return 0;
}

// ---- the REPL

int run_repl(LoadedChat& m, const std::string& system_prompt, uint64_t seed) {
    if (!m.tmpl) throw Error("rlhf chat: chat template: " + m.tmpl_error);
    json messages = json::array();
    if (!system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", system_prompt}});
    std::string line;
    uint64_t turn = 0;
    while (true) {
        std::fprintf(stderr, "> ");
        std::fflush(stderr);
        if (!std::getline(std::cin, line)) break;
        if (line == "/exit" || line == "/quit") break;
        if (line == "/reset") {
            messages = json::array();
            if (!system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", system_prompt}});
            continue;
        }
        if (line.empty()) continue;
        messages.push_back({{"role", "user"}, {"content", line}});
        auto ids = m.tok->encode(m.tmpl->render(messages, /*add_generation_prompt=*/true), /*add_special_tokens=*/false);
        auto opts = m.base;
        opts.sampling.seed = seed + turn++;
        if (m.lm->config().is_gpt2()) {
            int64_t room = m.lm->config().max_position_embeddings - static_cast<int64_t>(ids.size());
            if (room <= 0) throw Error("rlhf chat: the conversation no longer fits the model's context; use /reset");
            opts.max_new_tokens = std::min<int64_t>(opts.max_new_tokens, room);
        }
        text::DecodeStream stream(*m.tok, /*skip_special_tokens=*/true);
        opts.on_token = [&](int64_t, int32_t id) {
            std::string piece = stream.step(id);
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
        };
        auto res = generate::generate(*m.lm, {ids}, opts);
        std::string rest = stream.flush();
        std::fwrite(rest.data(), 1, rest.size(), stdout);
        std::printf("\n");
        std::fflush(stdout);
        messages.push_back({{"role", "assistant"}, {"content", res.texts[0]}});
    }
    return 0;
}

// rlhf chat --info: the LibTorch build and devices this CLI runs models with, as one JSON line
// (the workbench's About box; `rlhf version` is built without LibTorch headers).
int print_backend_info() {
    json info = {{"torch", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                               std::to_string(TORCH_VERSION_PATCH)},
                 {"cuda_available", torch::cuda::is_available()},
                 {"cuda_devices", torch::cuda::is_available() ? torch::cuda::device_count() : 0},
                 // what `rlhf chat`/`generate` use unless --threads says otherwise: every core
                 {"threads", std::max(1u, std::thread::hardware_concurrency())}};
    std::printf("%s\n", info.dump().c_str());
    return 0;
}

int run_chat(cli::Args& args) {
    if (args.flag("info")) {
        args.finish();
        return print_backend_info();
    }
    const std::string dir = args.require("model");
    const bool as_json = args.flag("json");
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
    if (has_temperature && temperature < 0) throw UsageError("rlhf chat: --temperature must be >= 0");

    at::set_num_threads(threads > 0 ? static_cast<int>(threads)
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    model::LoadOptions lo;
    lo.dtype = model::parse_dtype(dtype_name);
    lo.device = torch::Device(device_name);
    if (lo.device.is_cuda() && !torch::cuda::is_available())
        throw Error("rlhf chat: --device " + device_name + " requested but this LibTorch has no CUDA device");
    LoadedChat m;
    m.tok = text::Tokenizer::from_file(dir);
    try {
        m.tmpl.emplace(text::ChatTemplate::from_tokenizer_config(dir));
    } catch (const std::exception& e) {
        m.tmpl_error = e.what();
    }
    m.lm = model::load_causal_lm(dir, lo);
    generate::GenerateOptions& o = m.base;
    o = generate::options_from_model_dir(dir, m.lm->config());
    if (m.tok->eos_id() >= 0 &&
        std::find(o.eos_token_ids.begin(), o.eos_token_ids.end(), m.tok->eos_id()) == o.eos_token_ids.end())
        o.eos_token_ids.push_back(m.tok->eos_id());
    o.max_new_tokens = max_new;
    if (has_temperature) {
        o.sampling.do_sample = temperature > 0;
        o.sampling.temperature = temperature;
    }
    if (top_p >= 0) o.sampling.top_p = top_p;
    if (top_k >= 0) o.sampling.top_k = top_k;
    o.sampling.seed = static_cast<uint64_t>(seed);
    auto tok = m.tok;
    o.decode = [tok](const std::vector<int32_t>& v) { return tok->decode(v, /*skip_special_tokens=*/true); };
    m.default_system = system_prompt;
    if (as_json) return run_json_protocol(m, dir);
    return run_repl(m, system_prompt, static_cast<uint64_t>(seed));
}

}  // namespace

RLHF_CLI_COMMAND(chat,
                 "rlhf chat --model DIR [--json] [--system TEXT] [--max-new-tokens N] [--temperature T] [--top-p P] "
                 "[--top-k K] [--seed S] [--dtype float32|bfloat16|float16] [--device cpu|cuda] [--threads N]",
                 "Chat with a model over stdin/stdout using its chat template, streaming replies "
                 "(--json: one JSON request per line in, JSON events out, for the workbench; --info: the LibTorch "
                 "build and devices, without --model).", run_chat);
