// TrainConfig: the one YAML schema every training run is described by (DESIGN.md §1: the file
// the GUI launcher writes and `rlhf train` reads). A plain struct with a default and a comment on
// every field; parsing rejects unknown keys with the key path and line, so a typo never silently
// falls back to a default. No LibTorch here (this file is compiled into rlhf_train_config).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rlhf::train {

enum class Algo { Sft, Rm, Ppo, Dpo, Grpo };
enum class LrSchedule { Constant, Linear, Cosine };
enum class Precision { Auto, Fp32, Bf16, Fp16 };
enum class DpoLoss { Sigmoid, Ipo };
enum class ChatTemplateMode { Auto, Model, None };
enum class RuleType { Regex, Length, ContainsAny, ExactAnswer, Sentiment };
enum class LengthUnit { Words, Chars, Tokens };

const char* algo_name(Algo a);                // "sft" | "rm" | "ppo" | "dpo" | "grpo"
const char* lr_schedule_name(LrSchedule s);   // "constant" | "linear" | "cosine"
const char* precision_name(Precision p);      // "auto" | "fp32" | "bf16" | "fp16"
const char* dpo_loss_name(DpoLoss l);         // "sigmoid" | "ipo"
const char* chat_template_mode_name(ChatTemplateMode m);  // "auto" | "model" | "none"
const char* rule_type_name(RuleType t);       // "regex" | "length" | "contains_any" | "exact_answer" | "sentiment"
const char* length_unit_name(LengthUnit u);   // "words" | "chars" | "tokens"

struct ModelPaths {
    std::string policy;     // model folder (HF layout) trained by every algorithm; required
    std::string reference;  // frozen reference for PPO/DPO/GRPO KL; "" = a frozen copy of policy
    std::string reward;     // reward model folder for PPO/GRPO; "" = rule reward only
    std::string tokenizer;  // tokenizer.json or folder; "" = the policy folder's
};

struct DataConfig {
    std::string dataset;          // dataset name in the project store (with --project)
    std::string file;             // or a dataset file (jsonl/json/csv[.gz]) read directly
    double eval_fraction = 0.0;   // held-out share for evaluation (RM accuracy), 0..0.5
    int64_t max_prompt_length = 256;  // tokens; longer prompts are cut from the left
    int64_t max_length = 512;         // tokens of prompt + response; longer responses are cut
    bool shuffle = true;              // reshuffle each epoch with the run seed
    // How records become text (core/train/chat_data.h): "model" renders every record with the
    // tokenizer's chat_template (prompt with add_generation_prompt, the response as the assistant
    // continuation up to the end-of-turn token); "none" joins turns as "role: content" lines;
    // "auto" renders conversational records (turns with roles) when tokenizer_config.json has a
    // template and keeps role-less TRL-standard text plain (as TRL does; the demo's prompts).
    ChatTemplateMode chat_template = ChatTemplateMode::Auto;
};

struct OptimizerConfig {
    double lr = 1e-5;             // AdamW peak learning rate
    double beta1 = 0.9;           // AdamW β1
    double beta2 = 0.999;         // AdamW β2
    double eps = 1e-8;            // AdamW ε
    double weight_decay = 0.0;    // decoupled weight decay (Loshchilov & Hutter 2019)
};

struct ScheduleConfig {
    LrSchedule type = LrSchedule::Constant;  // after warmup: constant, linear to lr_min, or cosine to lr_min
    int64_t warmup_steps = 0;                // linear warmup from 0 to lr over this many optimizer steps
    double lr_min = 0.0;                     // learning rate at the last step (linear/cosine)
};

struct LoraConfig {
    bool enabled = false;   // train low-rank adapters instead of all weights (Hu et al. 2021)
    int64_t r = 8;          // adapter rank
    double alpha = 16.0;    // scale = alpha / r
    double dropout = 0.0;   // dropout on the adapter input
    std::vector<std::string> targets{"q_proj", "v_proj"};  // module names that get adapters
};

struct CheckpointConfig {
    int64_t every = 0;      // optimizer steps between checkpoints; 0 = only at the end
    int64_t keep_last = 2;  // older checkpoints are deleted; 0 = keep all
};

struct GuardConfig {
    int64_t max_nonfinite_in_a_row = 5;  // non-finite loss/grad steps are skipped; abort after this many in a row
    double kl_stop = 0.0;                // PPO/GRPO: stop the run when mean KL exceeds this (nats); 0 = off
};

struct PpoConfig {
    double kl_coef = 0.05;           // initial (or fixed) coefficient β of the per-token KL penalty
    bool adaptive_kl = false;        // Ziegler et al. 2019 adaptive controller instead of a fixed β
    double kl_target = 6.0;          // adaptive: target KL per sequence (nats)
    double kl_horizon = 10000.0;     // adaptive: horizon in samples
    double gamma = 1.0;              // discount
    double lam = 0.95;               // GAE λ
    double cliprange = 0.2;          // policy ratio clip ε
    double cliprange_value = 0.2;    // value clip around the rollout values
    double vf_coef = 0.1;            // weight of the value loss
    int64_t ppo_epochs = 4;          // passes over each rollout batch
    int64_t minibatches = 1;         // minibatches per pass
    int64_t response_length = 53;    // max new tokens per rollout
    double temperature = 0.7;        // sampling temperature for rollouts
    double eos_penalty = -1.0;       // added to the score of responses that never emit EOS (TRL missing_eos_penalty, negated); 0 = off
    bool whiten_rewards = false;     // whiten the per-token rewards before GAE
};

struct DpoConfig {
    double beta = 0.1;               // strength of the implicit KL constraint
    DpoLoss loss = DpoLoss::Sigmoid; // sigmoid (DPO) or ipo
    double label_smoothing = 0.0;    // cDPO: assumed label noise, 0..0.5
};

struct GrpoConfig {
    int64_t group_size = 4;          // completions sampled per prompt (G)
    double beta = 0.04;              // weight of the k3 KL to the reference; 0 = no reference
    double cliprange = 0.2;          // ratio clip ε
    int64_t response_length = 64;    // max new tokens per completion
    double temperature = 0.9;        // sampling temperature
    int64_t iterations = 1;          // optimisation passes per generated batch (μ in the paper)
    bool scale_rewards = true;       // divide by the group std (false: Dr. GRPO)
};

struct RmConfig {
    double margin = 0.0;             // constant margin in −log σ(r_c − r_r − margin); 0 = none
    bool use_score_margin = false;   // use (score_chosen − score_rejected) of each pair as its margin
};

// One rule of a PPO/GRPO rule reward. Its value v is computed from the decoded response; the
// reward adds weight · v (see RewardConfig).
struct RewardRule {
    RuleType type = RuleType::Regex;  // what v is:
    //   regex:        1 when `pattern` is found in the response (match: false -> when it is not), else 0
    //   length:       −|length − target| in `unit`s (a penalty growing with the distance)
    //   contains_any: 1 when the response contains any of `words` (case-insensitive), else 0
    //   exact_answer: 1 when the answer (the response, or `pattern`'s first group found in it),
    //                 trimmed, equals the prompt row's dataset `field`, trimmed; else 0
    //   sentiment:    the demo's lexicon judge: positive minus negative word hits
    double weight = 1.0;              // multiplies v; negative weights penalise
    std::string pattern;              // regex (ECMAScript syntax); exact_answer: optional extractor
    bool match = true;                // regex: reward a match (true) or its absence (false)
    double target = 0.0;              // length: target length
    LengthUnit unit = LengthUnit::Words;  // length: words (whitespace-separated), chars (code points) or tokens
    std::vector<std::string> words;   // contains_any: the word list
    std::string field;                // exact_answer: the dataset field holding the expected answer
    int64_t line = 0;                 // 1-based line of the rule in the config (for messages); 0 = unknown
};

struct RewardConfig {
    double model_weight = 1.0;        // reward = model_weight · RM score + Σ weight_i · rule_i
    std::vector<RewardRule> rules;    // rule rewards; empty = the reward model alone
};

struct TrainConfig {
    Algo algo = Algo::Sft;           // which algorithm this run trains with
    std::string name;                // run name shown in the Runs panel; "" = algo + time
    int64_t seed = 42;               // seeds torch, sampling and data order
    std::string device = "cpu";      // "cpu", "cuda", "cuda:N" or "auto"
    int64_t threads = 0;             // intra-op CPU threads (at::set_num_threads); 0 = LibTorch default
    ModelPaths model;                // model folders
    DataConfig data;                 // where examples come from
    OptimizerConfig optimizer;       // AdamW
    ScheduleConfig schedule;         // learning-rate schedule
    int64_t batch_size = 8;          // examples (or prompts) per micro-batch
    int64_t grad_accum = 1;          // micro-batches per optimizer step
    double max_grad_norm = 1.0;      // global L2 gradient clip; 0 = no clipping
    int64_t max_steps = 0;           // optimizer steps; 0 = run `epochs` over the data
    int64_t epochs = 1;              // passes over the data when max_steps is 0
    // `dtype:` (older configs: `precision:`), resolved by core/model/device.h resolve_precision:
    // auto = bf16 autocast on a CUDA device that supports it, fp32 on the CPU; bf16 = autocast on
    // CUDA; the CPU trains in fp32 whatever is asked. Weights stay fp32. fp16 is refused for
    // training (it needs loss scaling, which the trainer does not do).
    Precision precision = Precision::Auto;
    int64_t log_every = 1;           // steps between metric lines
    LoraConfig lora;
    CheckpointConfig checkpoint;
    GuardConfig guards;
    PpoConfig ppo;
    DpoConfig dpo;
    GrpoConfig grpo;
    RmConfig rm;
    RewardConfig reward;             // PPO/GRPO: reward model weight and rule rewards
};

// Parses and validates. `label` names the source in errors ("<label>:<line>:<col>: key path: what").
TrainConfig parse_train_config(const std::string& yaml_text, const std::string& label);
TrainConfig load_train_config(const std::string& path);  // reads the file, then parse_train_config
// Writes every field (a full, explicit config: what a run directory keeps as config.yaml).
std::string train_config_to_yaml(const TrainConfig& config);

}  // namespace rlhf::train
