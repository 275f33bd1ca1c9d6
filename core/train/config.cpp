// YAML <-> TrainConfig. Every key read is recorded with its yaml-cpp Mark so that both unknown
// keys and out-of-range values are reported as "<file>:<line>:<col>: <key.path>: <what>".
#include "core/train/config.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "core/io/error.h"

namespace rlhf::train {

const char* algo_name(Algo a) {
    switch (a) {
    case Algo::Sft: return "sft";
    case Algo::Rm: return "rm";
    case Algo::Ppo: return "ppo";
    case Algo::Dpo: return "dpo";
    case Algo::Grpo: return "grpo";
    }
    return "?";
}
const char* lr_schedule_name(LrSchedule s) {
    switch (s) {
    case LrSchedule::Constant: return "constant";
    case LrSchedule::Linear: return "linear";
    case LrSchedule::Cosine: return "cosine";
    }
    return "?";
}
const char* precision_name(Precision p) {
    switch (p) {
        case Precision::Auto: return "auto";
        case Precision::Fp32: return "fp32";
        case Precision::Bf16: return "bf16";
        case Precision::Fp16: return "fp16";
    }
    return "?";
}
const char* dpo_loss_name(DpoLoss l) { return l == DpoLoss::Sigmoid ? "sigmoid" : "ipo"; }
const char* chat_template_mode_name(ChatTemplateMode m) {
    switch (m) {
    case ChatTemplateMode::Auto: return "auto";
    case ChatTemplateMode::Model: return "model";
    case ChatTemplateMode::None: return "none";
    }
    return "?";
}
const char* rule_type_name(RuleType t) {
    switch (t) {
    case RuleType::Regex: return "regex";
    case RuleType::Length: return "length";
    case RuleType::ContainsAny: return "contains_any";
    case RuleType::ExactAnswer: return "exact_answer";
    case RuleType::Sentiment: return "sentiment";
    }
    return "?";
}
const char* length_unit_name(LengthUnit u) {
    switch (u) {
    case LengthUnit::Words: return "words";
    case LengthUnit::Chars: return "chars";
    case LengthUnit::Tokens: return "tokens";
    }
    return "?";
}

namespace {

// ---------------------------------------------------------------------------------------------
// Reading with locations

struct Context {
    std::string label;                          // file name for messages
    std::map<std::string, YAML::Mark> marks;    // key path -> where its value is

    [[noreturn]] void fail(const YAML::Mark& mark, const std::string& path, const std::string& what) const {
        std::string where = label;
        if (!mark.is_null()) where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
        throw Error(where + ": " + path + ": " + what);
    }
    [[noreturn]] void fail(const std::string& path, const std::string& what) const {
        auto it = marks.find(path);
        fail(it == marks.end() ? YAML::Mark::null_mark() : it->second, path, what);
    }
};

template <class T>
T convert_scalar(const YAML::Node& n, Context& ctx, const std::string& path, const char* type_name) {
    if (!n.IsScalar()) ctx.fail(n.Mark(), path, std::string("expected ") + type_name);
    try {
        return n.as<T>();
    } catch (const YAML::Exception&) {
        ctx.fail(n.Mark(), path, std::string("expected ") + type_name + ", got '" + n.Scalar() + "'");
    }
}

// One YAML mapping; get() marks keys as known, finish() rejects the rest.
class Section {
public:
    Section(YAML::Node node, std::string path, Context& ctx) : node_(std::move(node)), path_(std::move(path)), ctx_(ctx) {
        if (node_ && !node_.IsNull() && !node_.IsMap()) ctx_.fail(node_.Mark(), path_.empty() ? "(top level)" : path_, "expected a mapping");
    }

    std::string key_path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

    // The value node of key, or an undefined node when absent.
    YAML::Node find(const char* key) {
        known_.insert(key);
        if (!node_ || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
        YAML::Node v = node_[key];
        if (v) ctx_.marks[key_path(key)] = v.Mark();
        return v;
    }

    void get(const char* key, double& out) {
        if (auto v = find(key)) out = convert_scalar<double>(v, ctx_, key_path(key), "a number");
    }
    void get(const char* key, int64_t& out) {
        if (auto v = find(key)) {
            // YAML "1e3" is a float to yaml-cpp; accept integral floats, reject 2.5
            double d = convert_scalar<double>(v, ctx_, key_path(key), "an integer");
            if (d != std::floor(d) || std::fabs(d) > 9.0e15) ctx_.fail(v.Mark(), key_path(key), "expected an integer, got '" + v.Scalar() + "'");
            out = static_cast<int64_t>(d);
        }
    }
    void get(const char* key, bool& out) {
        if (auto v = find(key)) out = convert_scalar<bool>(v, ctx_, key_path(key), "true or false");
    }
    void get(const char* key, std::string& out) {
        if (auto v = find(key)) out = convert_scalar<std::string>(v, ctx_, key_path(key), "a string");
    }
    void get(const char* key, std::vector<std::string>& out) {
        auto v = find(key);
        if (!v) return;
        if (!v.IsSequence()) ctx_.fail(v.Mark(), key_path(key), "expected a list of strings");
        out.clear();
        for (const auto& item : v) out.push_back(convert_scalar<std::string>(item, ctx_, key_path(key), "a string"));
    }
    template <class E>
    void get_enum(const char* key, E& out, const std::vector<std::pair<const char*, E>>& table) {
        auto v = find(key);
        if (!v) return;
        auto s = convert_scalar<std::string>(v, ctx_, key_path(key), "a string");
        std::string allowed;
        for (const auto& [name, value] : table) {
            if (s == name) {
                out = value;
                return;
            }
            allowed += allowed.empty() ? name : std::string("|") + name;
        }
        ctx_.fail(v.Mark(), key_path(key), "unknown value '" + s + "' (expected " + allowed + ")");
    }

    Section sub(const char* key) { return Section(find(key), key_path(key), ctx_); }

    void finish() {
        if (!node_ || !node_.IsMap()) return;
        for (auto it = node_.begin(); it != node_.end(); ++it) {
            std::string k = it->first.Scalar();
            if (!known_.count(k)) ctx_.fail(it->first.Mark(), key_path(k.c_str()), "unknown key");
        }
    }

private:
    YAML::Node node_;
    std::string path_;
    Context& ctx_;
    std::set<std::string> known_;
};

// One item of reward.rules; every check that needs only the rule is done here, where its line is known.
RewardRule parse_rule(const YAML::Node& node, const std::string& path, Context& ctx) {
    if (!node.IsMap()) ctx.fail(node.Mark(), path, "expected a mapping with a 'type'");
    Section s(node, path, ctx);
    RewardRule r;
    r.line = node.Mark().is_null() ? 0 : node.Mark().line + 1;
    auto type = s.find("type");
    if (!type) ctx.fail(node.Mark(), path + ".type", "required: regex|length|contains_any|exact_answer|sentiment");
    s.get_enum("type", r.type,
               {{"regex", RuleType::Regex}, {"length", RuleType::Length}, {"contains_any", RuleType::ContainsAny},
                {"exact_answer", RuleType::ExactAnswer}, {"sentiment", RuleType::Sentiment}});
    s.get("weight", r.weight);
    if (!std::isfinite(r.weight)) ctx.fail(path + ".weight", "must be a finite number");
    auto fail_here = [&](const char* key, const std::string& what) {
        auto v = s.find(key);
        ctx.fail(v ? v.Mark() : node.Mark(), path + "." + key, what);
    };
    // Keys that belong to other rule types are unknown keys here, so a misplaced option is not ignored.
    switch (r.type) {
    case RuleType::Regex:
        s.get("pattern", r.pattern);
        s.get("match", r.match);
        if (r.pattern.empty()) fail_here("pattern", "required: the regular expression to look for");
        break;
    case RuleType::Length:
        s.get("target", r.target);
        s.get_enum("unit", r.unit, {{"words", LengthUnit::Words}, {"chars", LengthUnit::Chars}, {"tokens", LengthUnit::Tokens}});
        if (!s.find("target")) fail_here("target", "required: the target length");
        if (!(r.target >= 0)) fail_here("target", "must be >= 0");
        break;
    case RuleType::ContainsAny:
        s.get("words", r.words);
        if (r.words.empty()) fail_here("words", "required: a non-empty list of words");
        for (const auto& w : r.words)
            if (w.empty()) fail_here("words", "empty word");
        break;
    case RuleType::ExactAnswer:
        s.get("field", r.field);
        s.get("pattern", r.pattern);
        if (r.field.empty()) fail_here("field", "required: the dataset field with the expected answer");
        break;
    case RuleType::Sentiment:
        break;
    }
    if (!r.pattern.empty()) {
        try {
            std::regex re(r.pattern, std::regex::ECMAScript);
            if (r.type == RuleType::ExactAnswer && re.mark_count() > 1)
                fail_here("pattern", "at most one capture group (the answer)");
        } catch (const std::regex_error& e) {
            fail_here("pattern", std::string("bad regular expression: ") + e.what());
        }
    }
    s.finish();
    return r;
}

// ---------------------------------------------------------------------------------------------
// Validation

void check(Context& ctx, bool ok, const std::string& path, const std::string& what) {
    if (!ok) ctx.fail(path, what);
}

void validate(const TrainConfig& c, Context& ctx) {
    check(ctx, !c.model.policy.empty(), "model.policy", "required: the model folder to train");
    check(ctx, !c.data.dataset.empty() || !c.data.file.empty(), "data", "set data.dataset or data.file");
    check(ctx, c.data.eval_fraction >= 0 && c.data.eval_fraction <= 0.5, "data.eval_fraction", "must be in [0, 0.5]");
    check(ctx, c.data.max_prompt_length >= 1, "data.max_prompt_length", "must be >= 1");
    check(ctx, c.data.max_length > c.data.max_prompt_length || c.algo == Algo::Ppo || c.algo == Algo::Grpo,
          "data.max_length", "must be greater than data.max_prompt_length");
    check(ctx, c.optimizer.lr > 0, "optimizer.lr", "must be > 0");
    check(ctx, c.optimizer.beta1 >= 0 && c.optimizer.beta1 < 1, "optimizer.betas", "β1 must be in [0, 1)");
    check(ctx, c.optimizer.beta2 >= 0 && c.optimizer.beta2 < 1, "optimizer.betas", "β2 must be in [0, 1)");
    check(ctx, c.optimizer.eps > 0, "optimizer.eps", "must be > 0");
    check(ctx, c.optimizer.weight_decay >= 0, "optimizer.weight_decay", "must be >= 0");
    check(ctx, c.schedule.warmup_steps >= 0, "schedule.warmup_steps", "must be >= 0");
    check(ctx, c.schedule.lr_min >= 0 && c.schedule.lr_min <= c.optimizer.lr, "schedule.lr_min", "must be in [0, optimizer.lr]");
    check(ctx, c.batch_size >= 1, "batch_size", "must be >= 1");
    check(ctx, c.grad_accum >= 1, "grad_accum", "must be >= 1");
    check(ctx, c.max_grad_norm >= 0, "max_grad_norm", "must be >= 0");
    check(ctx, c.max_steps >= 0, "max_steps", "must be >= 0");
    check(ctx, c.max_steps > 0 || c.epochs >= 1, "epochs", "must be >= 1 when max_steps is 0");
    check(ctx, c.threads >= 0, "threads", "must be >= 0");
    check(ctx, c.log_every >= 1, "log_every", "must be >= 1");
    check(ctx, c.device == "cpu" || c.device == "auto" || c.device.rfind("cuda", 0) == 0, "device",
          "expected cpu, cuda, cuda:N or auto");
    check(ctx, c.precision != Precision::Fp16, "dtype",
          "fp16 training needs loss scaling, which the trainer does not do: use bf16 (or auto)");
    if (c.lora.enabled) {
        check(ctx, c.lora.r >= 1, "lora.r", "must be >= 1");
        check(ctx, c.lora.alpha > 0, "lora.alpha", "must be > 0");
        check(ctx, c.lora.dropout >= 0 && c.lora.dropout < 1, "lora.dropout", "must be in [0, 1)");
        check(ctx, !c.lora.targets.empty(), "lora.targets", "name at least one module");
    }
    check(ctx, c.checkpoint.every >= 0, "checkpoint.every", "must be >= 0");
    check(ctx, c.checkpoint.keep_last >= 0, "checkpoint.keep_last", "must be >= 0");
    check(ctx, c.guards.max_nonfinite_in_a_row >= 1, "guards.max_nonfinite_in_a_row", "must be >= 1");
    check(ctx, c.guards.kl_stop >= 0, "guards.kl_stop", "must be >= 0");
    check(ctx, c.reward.model_weight >= 0 && std::isfinite(c.reward.model_weight), "reward.model_weight", "must be >= 0");
    switch (c.algo) {
    case Algo::Ppo:
        check(ctx, c.ppo.kl_coef >= 0, "ppo.kl_coef", "must be >= 0");
        check(ctx, c.ppo.kl_target > 0, "ppo.kl_target", "must be > 0");
        check(ctx, c.ppo.kl_horizon > 0, "ppo.kl_horizon", "must be > 0");
        check(ctx, c.ppo.gamma > 0 && c.ppo.gamma <= 1, "ppo.gamma", "must be in (0, 1]");
        check(ctx, c.ppo.lam >= 0 && c.ppo.lam <= 1, "ppo.lam", "must be in [0, 1]");
        check(ctx, c.ppo.cliprange > 0, "ppo.cliprange", "must be > 0");
        check(ctx, c.ppo.cliprange_value > 0, "ppo.cliprange_value", "must be > 0");
        check(ctx, c.ppo.vf_coef >= 0, "ppo.vf_coef", "must be >= 0");
        check(ctx, c.ppo.ppo_epochs >= 1, "ppo.ppo_epochs", "must be >= 1");
        check(ctx, c.ppo.minibatches >= 1 && c.batch_size % c.ppo.minibatches == 0, "ppo.minibatches",
              "must be >= 1 and divide batch_size");
        check(ctx, c.ppo.response_length >= 1, "ppo.response_length", "must be >= 1");
        check(ctx, c.ppo.temperature > 0, "ppo.temperature", "must be > 0");
        break;
    case Algo::Dpo:
        check(ctx, c.dpo.beta > 0, "dpo.beta", "must be > 0");
        check(ctx, c.dpo.label_smoothing >= 0 && c.dpo.label_smoothing < 0.5, "dpo.label_smoothing", "must be in [0, 0.5)");
        break;
    case Algo::Grpo:
        check(ctx, c.grpo.group_size >= 2, "grpo.group_size", "must be >= 2 (advantages are relative to the group)");
        check(ctx, c.grpo.beta >= 0, "grpo.beta", "must be >= 0");
        check(ctx, c.grpo.cliprange > 0, "grpo.cliprange", "must be > 0");
        check(ctx, c.grpo.response_length >= 1, "grpo.response_length", "must be >= 1");
        check(ctx, c.grpo.temperature > 0, "grpo.temperature", "must be > 0");
        check(ctx, c.grpo.iterations >= 1, "grpo.iterations", "must be >= 1");
        break;
    case Algo::Rm:
        check(ctx, c.rm.margin >= 0, "rm.margin", "must be >= 0");
        break;
    case Algo::Sft:
        break;
    }
}

}  // namespace

TrainConfig parse_train_config(const std::string& yaml_text, const std::string& label) {
    Context ctx{label, {}};
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::ParserException& e) {
        ctx.fail(e.mark, "(syntax)", e.msg);
    }
    TrainConfig c;
    Section top(root, "", ctx);
    if (!top.find("algo")) ctx.fail(root.Mark(), "algo", "required: sft|rm|ppo|dpo|grpo");
    top.get_enum("algo", c.algo,
                 {{"sft", Algo::Sft}, {"rm", Algo::Rm}, {"ppo", Algo::Ppo}, {"dpo", Algo::Dpo}, {"grpo", Algo::Grpo}});
    top.get("name", c.name);
    top.get("seed", c.seed);
    top.get("device", c.device);
    top.get("threads", c.threads);
    {
        auto s = top.sub("model");
        s.get("policy", c.model.policy);
        s.get("reference", c.model.reference);
        s.get("reward", c.model.reward);
        s.get("tokenizer", c.model.tokenizer);
        s.finish();
    }
    {
        auto s = top.sub("data");
        s.get("dataset", c.data.dataset);
        s.get("file", c.data.file);
        s.get("eval_fraction", c.data.eval_fraction);
        s.get("max_prompt_length", c.data.max_prompt_length);
        s.get("max_length", c.data.max_length);
        s.get("shuffle", c.data.shuffle);
        s.get_enum("chat_template", c.data.chat_template,
                   {{"auto", ChatTemplateMode::Auto}, {"model", ChatTemplateMode::Model}, {"none", ChatTemplateMode::None}});
        s.finish();
    }
    {
        auto s = top.sub("optimizer");
        s.get("lr", c.optimizer.lr);
        if (auto betas = s.find("betas")) {
            if (!betas.IsSequence() || betas.size() != 2) ctx.fail(betas.Mark(), "optimizer.betas", "expected [beta1, beta2]");
            c.optimizer.beta1 = convert_scalar<double>(betas[0], ctx, "optimizer.betas", "a number");
            c.optimizer.beta2 = convert_scalar<double>(betas[1], ctx, "optimizer.betas", "a number");
        }
        s.get("eps", c.optimizer.eps);
        s.get("weight_decay", c.optimizer.weight_decay);
        s.finish();
    }
    {
        auto s = top.sub("schedule");
        s.get_enum("type", c.schedule.type,
                   {{"constant", LrSchedule::Constant}, {"linear", LrSchedule::Linear}, {"cosine", LrSchedule::Cosine}});
        s.get("warmup_steps", c.schedule.warmup_steps);
        s.get("lr_min", c.schedule.lr_min);
        s.finish();
    }
    top.get("batch_size", c.batch_size);
    top.get("grad_accum", c.grad_accum);
    top.get("max_grad_norm", c.max_grad_norm);
    top.get("max_steps", c.max_steps);
    top.get("epochs", c.epochs);
    {
        const std::vector<std::pair<const char*, Precision>> dtypes{
            {"auto", Precision::Auto}, {"fp32", Precision::Fp32}, {"bf16", Precision::Bf16}, {"fp16", Precision::Fp16}};
        if (top.find("dtype") && top.find("precision"))
            ctx.fail(top.find("precision").Mark(), "precision", "give either dtype or precision (its older name), not both");
        top.get_enum("precision", c.precision, dtypes);
        top.get_enum("dtype", c.precision, dtypes);
    }
    top.get("log_every", c.log_every);
    {
        auto s = top.sub("lora");
        s.get("enabled", c.lora.enabled);
        s.get("r", c.lora.r);
        s.get("alpha", c.lora.alpha);
        s.get("dropout", c.lora.dropout);
        s.get("targets", c.lora.targets);
        s.finish();
    }
    {
        auto s = top.sub("checkpoint");
        s.get("every", c.checkpoint.every);
        s.get("keep_last", c.checkpoint.keep_last);
        s.finish();
    }
    {
        auto s = top.sub("guards");
        s.get("max_nonfinite_in_a_row", c.guards.max_nonfinite_in_a_row);
        s.get("kl_stop", c.guards.kl_stop);
        s.finish();
    }
    {
        auto s = top.sub("ppo");
        s.get("kl_coef", c.ppo.kl_coef);
        s.get("adaptive_kl", c.ppo.adaptive_kl);
        s.get("kl_target", c.ppo.kl_target);
        s.get("kl_horizon", c.ppo.kl_horizon);
        s.get("gamma", c.ppo.gamma);
        s.get("lam", c.ppo.lam);
        s.get("cliprange", c.ppo.cliprange);
        s.get("cliprange_value", c.ppo.cliprange_value);
        s.get("vf_coef", c.ppo.vf_coef);
        s.get("ppo_epochs", c.ppo.ppo_epochs);
        s.get("minibatches", c.ppo.minibatches);
        s.get("response_length", c.ppo.response_length);
        s.get("temperature", c.ppo.temperature);
        s.get("eos_penalty", c.ppo.eos_penalty);
        s.get("whiten_rewards", c.ppo.whiten_rewards);
        s.finish();
    }
    {
        auto s = top.sub("dpo");
        s.get("beta", c.dpo.beta);
        s.get_enum("loss", c.dpo.loss, {{"sigmoid", DpoLoss::Sigmoid}, {"ipo", DpoLoss::Ipo}});
        s.get("label_smoothing", c.dpo.label_smoothing);
        s.finish();
    }
    {
        auto s = top.sub("grpo");
        s.get("group_size", c.grpo.group_size);
        s.get("beta", c.grpo.beta);
        s.get("cliprange", c.grpo.cliprange);
        s.get("response_length", c.grpo.response_length);
        s.get("temperature", c.grpo.temperature);
        s.get("iterations", c.grpo.iterations);
        s.get("scale_rewards", c.grpo.scale_rewards);
        s.finish();
    }
    {
        auto s = top.sub("rm");
        s.get("margin", c.rm.margin);
        s.get("use_score_margin", c.rm.use_score_margin);
        s.finish();
    }
    {
        auto s = top.sub("reward");
        s.get("model_weight", c.reward.model_weight);
        if (auto rules = s.find("rules")) {
            if (!rules.IsSequence()) ctx.fail(rules.Mark(), "reward.rules", "expected a list of rules");
            for (size_t i = 0; i < rules.size(); ++i)
                c.reward.rules.push_back(parse_rule(rules[i], "reward.rules[" + std::to_string(i) + "]", ctx));
        }
        s.finish();
    }
    top.finish();
    validate(c, ctx);
    return c;
}

TrainConfig load_train_config(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open training config");
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_train_config(ss.str(), path);
}

namespace {
// Shortest decimal that reads back to the same double, so a saved config reparses exactly.
std::string fmt_double(double v) {
    char buf[40];
    for (int precision = 6; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    std::string s = buf;
    // "1" would read back as an integer-looking scalar; both parse as double, but keep a dot for humans.
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}
}  // namespace

std::string train_config_to_yaml(const TrainConfig& c) {
    YAML::Emitter e;
    auto d = [](double v) { return fmt_double(v); };
    e << YAML::BeginMap;
    e << YAML::Key << "algo" << YAML::Value << algo_name(c.algo);
    e << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << c.name;
    e << YAML::Key << "seed" << YAML::Value << c.seed;
    e << YAML::Key << "device" << YAML::Value << c.device;
    e << YAML::Key << "threads" << YAML::Value << c.threads;
    e << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "policy" << YAML::Value << YAML::DoubleQuoted << c.model.policy;
    e << YAML::Key << "reference" << YAML::Value << YAML::DoubleQuoted << c.model.reference;
    e << YAML::Key << "reward" << YAML::Value << YAML::DoubleQuoted << c.model.reward;
    e << YAML::Key << "tokenizer" << YAML::Value << YAML::DoubleQuoted << c.model.tokenizer;
    e << YAML::EndMap;
    e << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "dataset" << YAML::Value << YAML::DoubleQuoted << c.data.dataset;
    e << YAML::Key << "file" << YAML::Value << YAML::DoubleQuoted << c.data.file;
    e << YAML::Key << "eval_fraction" << YAML::Value << d(c.data.eval_fraction);
    e << YAML::Key << "max_prompt_length" << YAML::Value << c.data.max_prompt_length;
    e << YAML::Key << "max_length" << YAML::Value << c.data.max_length;
    e << YAML::Key << "shuffle" << YAML::Value << c.data.shuffle;
    e << YAML::Key << "chat_template" << YAML::Value << chat_template_mode_name(c.data.chat_template);
    e << YAML::EndMap;
    e << YAML::Key << "optimizer" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "lr" << YAML::Value << d(c.optimizer.lr);
    e << YAML::Key << "betas" << YAML::Value << YAML::Flow << YAML::BeginSeq << d(c.optimizer.beta1)
      << d(c.optimizer.beta2) << YAML::EndSeq;
    e << YAML::Key << "eps" << YAML::Value << d(c.optimizer.eps);
    e << YAML::Key << "weight_decay" << YAML::Value << d(c.optimizer.weight_decay);
    e << YAML::EndMap;
    e << YAML::Key << "schedule" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "type" << YAML::Value << lr_schedule_name(c.schedule.type);
    e << YAML::Key << "warmup_steps" << YAML::Value << c.schedule.warmup_steps;
    e << YAML::Key << "lr_min" << YAML::Value << d(c.schedule.lr_min);
    e << YAML::EndMap;
    e << YAML::Key << "batch_size" << YAML::Value << c.batch_size;
    e << YAML::Key << "grad_accum" << YAML::Value << c.grad_accum;
    e << YAML::Key << "max_grad_norm" << YAML::Value << d(c.max_grad_norm);
    e << YAML::Key << "max_steps" << YAML::Value << c.max_steps;
    e << YAML::Key << "epochs" << YAML::Value << c.epochs;
    e << YAML::Key << "dtype" << YAML::Value << precision_name(c.precision);
    e << YAML::Key << "log_every" << YAML::Value << c.log_every;
    e << YAML::Key << "lora" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "enabled" << YAML::Value << c.lora.enabled;
    e << YAML::Key << "r" << YAML::Value << c.lora.r;
    e << YAML::Key << "alpha" << YAML::Value << d(c.lora.alpha);
    e << YAML::Key << "dropout" << YAML::Value << d(c.lora.dropout);
    e << YAML::Key << "targets" << YAML::Value << YAML::Flow << c.lora.targets;
    e << YAML::EndMap;
    e << YAML::Key << "checkpoint" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "every" << YAML::Value << c.checkpoint.every;
    e << YAML::Key << "keep_last" << YAML::Value << c.checkpoint.keep_last;
    e << YAML::EndMap;
    e << YAML::Key << "guards" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "max_nonfinite_in_a_row" << YAML::Value << c.guards.max_nonfinite_in_a_row;
    e << YAML::Key << "kl_stop" << YAML::Value << d(c.guards.kl_stop);
    e << YAML::EndMap;
    e << YAML::Key << "ppo" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "kl_coef" << YAML::Value << d(c.ppo.kl_coef);
    e << YAML::Key << "adaptive_kl" << YAML::Value << c.ppo.adaptive_kl;
    e << YAML::Key << "kl_target" << YAML::Value << d(c.ppo.kl_target);
    e << YAML::Key << "kl_horizon" << YAML::Value << d(c.ppo.kl_horizon);
    e << YAML::Key << "gamma" << YAML::Value << d(c.ppo.gamma);
    e << YAML::Key << "lam" << YAML::Value << d(c.ppo.lam);
    e << YAML::Key << "cliprange" << YAML::Value << d(c.ppo.cliprange);
    e << YAML::Key << "cliprange_value" << YAML::Value << d(c.ppo.cliprange_value);
    e << YAML::Key << "vf_coef" << YAML::Value << d(c.ppo.vf_coef);
    e << YAML::Key << "ppo_epochs" << YAML::Value << c.ppo.ppo_epochs;
    e << YAML::Key << "minibatches" << YAML::Value << c.ppo.minibatches;
    e << YAML::Key << "response_length" << YAML::Value << c.ppo.response_length;
    e << YAML::Key << "temperature" << YAML::Value << d(c.ppo.temperature);
    e << YAML::Key << "eos_penalty" << YAML::Value << d(c.ppo.eos_penalty);
    e << YAML::Key << "whiten_rewards" << YAML::Value << c.ppo.whiten_rewards;
    e << YAML::EndMap;
    e << YAML::Key << "dpo" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "beta" << YAML::Value << d(c.dpo.beta);
    e << YAML::Key << "loss" << YAML::Value << dpo_loss_name(c.dpo.loss);
    e << YAML::Key << "label_smoothing" << YAML::Value << d(c.dpo.label_smoothing);
    e << YAML::EndMap;
    e << YAML::Key << "grpo" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "group_size" << YAML::Value << c.grpo.group_size;
    e << YAML::Key << "beta" << YAML::Value << d(c.grpo.beta);
    e << YAML::Key << "cliprange" << YAML::Value << d(c.grpo.cliprange);
    e << YAML::Key << "response_length" << YAML::Value << c.grpo.response_length;
    e << YAML::Key << "temperature" << YAML::Value << d(c.grpo.temperature);
    e << YAML::Key << "iterations" << YAML::Value << c.grpo.iterations;
    e << YAML::Key << "scale_rewards" << YAML::Value << c.grpo.scale_rewards;
    e << YAML::EndMap;
    e << YAML::Key << "rm" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "margin" << YAML::Value << d(c.rm.margin);
    e << YAML::Key << "use_score_margin" << YAML::Value << c.rm.use_score_margin;
    e << YAML::EndMap;
    e << YAML::Key << "reward" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "model_weight" << YAML::Value << d(c.reward.model_weight);
    e << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
    for (const auto& r : c.reward.rules) {
        // Only the keys of the rule's type: the parser rejects the others.
        e << YAML::BeginMap;
        e << YAML::Key << "type" << YAML::Value << rule_type_name(r.type);
        e << YAML::Key << "weight" << YAML::Value << d(r.weight);
        switch (r.type) {
        case RuleType::Regex:
            e << YAML::Key << "pattern" << YAML::Value << YAML::DoubleQuoted << r.pattern;
            e << YAML::Key << "match" << YAML::Value << r.match;
            break;
        case RuleType::Length:
            e << YAML::Key << "target" << YAML::Value << d(r.target);
            e << YAML::Key << "unit" << YAML::Value << length_unit_name(r.unit);
            break;
        case RuleType::ContainsAny:
            e << YAML::Key << "words" << YAML::Value << YAML::Flow << YAML::BeginSeq;
            for (const auto& w : r.words) e << YAML::DoubleQuoted << w;
            e << YAML::EndSeq;
            break;
        case RuleType::ExactAnswer:
            e << YAML::Key << "field" << YAML::Value << YAML::DoubleQuoted << r.field;
            e << YAML::Key << "pattern" << YAML::Value << YAML::DoubleQuoted << r.pattern;
            break;
        case RuleType::Sentiment:
            break;
        }
        e << YAML::EndMap;
    }
    e << YAML::EndSeq;
    e << YAML::EndMap;
    e << YAML::EndMap;
    return std::string(e.c_str()) + "\n";
}

}  // namespace rlhf::train
