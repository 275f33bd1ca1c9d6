// PPO/GRPO features on tiny random GPT-2 models (CPU, seeded):
//  - rule rewards (reward.rules) against values computed by hand,
//  - per-token rollout data of the reported samples (Sample::extra): arrays as long as the
//    response up to and including EOS, kl == logprob − ref_logprob,
//  - resume exactness: 2N steps straight versus N steps, stop, a new task and trainer resuming
//    from the checkpoint for N more → identical per-step metrics and final parameters, with the
//    checkpoint falling inside a rollout (PPO minibatches, GRPO iterations).
#include <QtTest/QtTest>

#include <filesystem>

#include <torch/torch.h>

#include "core/io/error.h"
#include "core/train/algorithms.h"
#include "core/train/checkpoint.h"

using namespace rlhf::train;
using rlhf::model::CausalLM;
namespace fs = std::filesystem;

namespace {
constexpr int64_t kVocab = 16;
constexpr int64_t kEos = 0;

std::shared_ptr<CausalLM> tiny_model(uint64_t seed) {
    auto config = rlhf::model::make_config("gpt2", /*hidden=*/32, /*layers=*/2, /*heads=*/2, /*kv_heads=*/2,
                                           /*intermediate=*/64, kVocab, /*max_positions=*/64);
    return rlhf::model::make_random_model(config, seed);
}

std::vector<TokenIds> toy_prompts() {
    std::vector<TokenIds> prompts;
    for (int64_t a = 2; a <= 9; ++a) prompts.push_back({a, 1});
    return prompts;
}

RlOptions rule_options() {
    RlOptions o;
    o.eos_ids = {kEos};
    o.pad_id = kEos;
    // Share of response tokens equal to 7.
    o.rule_reward = [](const TokenIds&, const TokenIds& r) {
        double n = 0;
        for (auto t : r) n += t == 7;
        return r.empty() ? 0.0 : n / static_cast<double>(r.size());
    };
    o.decode = [](const TokenIds& ids) {
        std::string s;
        for (auto t : ids) s += (s.empty() ? "" : " ") + std::to_string(t);
        return s;
    };
    o.token_piece = [](int64_t id) { return "t" + std::to_string(id); };
    return o;
}

TrainConfig rl_config(Algo algo, int64_t steps) {
    TrainConfig c;
    c.algo = algo;
    c.seed = 7;
    c.batch_size = 4;
    c.max_steps = steps;
    c.optimizer.lr = 3e-3;
    c.data.max_length = 32;
    c.ppo.response_length = 5;
    c.ppo.temperature = 1.0;
    c.ppo.kl_coef = 0.05;
    c.ppo.adaptive_kl = true;  // the controller's state must survive the resume too
    c.ppo.kl_target = 0.5;
    c.ppo.ppo_epochs = 2;
    c.ppo.minibatches = 2;     // 4 optimizer steps per rollout
    c.grpo.group_size = 4;
    c.grpo.response_length = 5;
    c.grpo.temperature = 1.0;
    c.grpo.iterations = 2;     // 2 optimizer steps per generated batch
    return c;
}

fs::path temp_dir(const std::string& name) {
    auto d = fs::temp_directory_path() / ("rlhf_rl_features_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

// Metrics without the wall-clock ones, which differ between any two runs.
Metrics deterministic(const Metrics& m) {
    Metrics out;
    for (const auto& [k, v] : m)
        if (k.rfind("timing/", 0) != 0 && k != "tokens_per_second") out[k] = v;
    return out;
}

bool same_metrics(const Metrics& a, const Metrics& b, QString* why) {
    if (a.size() != b.size()) {
        *why = QStringLiteral("different metric names");
        return false;
    }
    for (const auto& [k, v] : a) {
        auto it = b.find(k);
        if (it == b.end() || !(v == it->second || (std::isnan(v) && std::isnan(it->second)))) {
            *why = QString::fromStdString(k) + QStringLiteral(": %1 vs %2").arg(v, 0, 'g', 17).arg(it == b.end() ? 0.0 : it->second, 0, 'g', 17);
            return false;
        }
    }
    return true;
}

bool same_parameters(torch::nn::Module& a, torch::nn::Module& b) {
    auto pa = a.named_parameters(true), pb = b.named_parameters(true);
    if (pa.size() != pb.size()) return false;
    for (const auto& item : pa) {
        auto* other = pb.find(item.key());
        if (!other || !torch::equal(item.value(), *other)) return false;
    }
    return true;
}

// A task for algo over a policy initialised with init_seed; the reference is always the seed-6
// model, as a resumed CLI run reloads it from the model folder.
std::unique_ptr<TrainTask> make_task(Algo algo, const TrainConfig& c, uint64_t init_seed) {
    auto policy = tiny_model(init_seed);
    auto reference = tiny_model(6);
    if (algo == Algo::Ppo) return std::make_unique<PpoTask>(PolicyWithValue(policy), reference, toy_prompts(), c, rule_options());
    return std::make_unique<GrpoTask>(policy, reference, toy_prompts(), c, rule_options());
}

// 2n steps straight vs n steps, stop (cancel writes the step-n checkpoint), then a new task whose
// policy starts from other weights resumes for n steps.
void check_resume_exact(Algo algo, int64_t n) {
    auto c = rl_config(algo, 2 * n);
    auto dir_a = temp_dir(std::string(algo_name(algo)) + "_a"), dir_b = temp_dir(std::string(algo_name(algo)) + "_b");
    std::vector<Metrics> straight, resumed;
    auto a = make_task(algo, c, 6);
    {
        TrainerCallbacks cb;
        cb.on_metrics = [&](int64_t, const Metrics& m) { straight.push_back(deterministic(m)); };
        Trainer(TrainerOptions::from_config(c, dir_a.string(), 0), *a, cb).run();
    }
    {
        auto b = make_task(algo, c, 6);
        std::atomic<bool> cancel{false};
        std::vector<Metrics> first;
        TrainerCallbacks cb;
        cb.on_metrics = [&](int64_t step, const Metrics& m) {
            first.push_back(deterministic(m));
            if (step == n) cancel = true;
        };
        bool cancelled = false;
        try {
            Trainer(TrainerOptions::from_config(c, dir_b.string(), 0), *b, cb).run(&cancel);
        } catch (const rlhf::Cancelled&) {
            cancelled = true;
        }
        QVERIFY(cancelled);
        QCOMPARE(first.size(), size_t(n));
        QString why;
        for (int64_t i = 0; i < n; ++i) QVERIFY2(same_metrics(first[size_t(i)], straight[size_t(i)], &why), qPrintable(why));
    }
    torch::manual_seed(31337);  // the resumed run must restore the sampling RNG, not rely on this
    auto resumed_task = make_task(algo, c, /*init_seed=*/99);
    TrainerCallbacks cb;
    cb.on_metrics = [&](int64_t, const Metrics& m) { resumed.push_back(deterministic(m)); };
    Trainer t(TrainerOptions::from_config(c, dir_b.string(), 0), *resumed_task, cb);
    QCOMPARE(t.resume(), n);
    t.run();
    QCOMPARE(straight.size(), size_t(2 * n));
    QCOMPARE(resumed.size(), size_t(n));
    QString why;
    for (int64_t i = 0; i < n; ++i)
        QVERIFY2(same_metrics(resumed[size_t(i)], straight[size_t(n + i)], &why),
                 qPrintable(QStringLiteral("step %1: ").arg(n + i + 1) + why));
    QVERIFY(same_parameters(a->module(), resumed_task->module()));  // policy and (PPO) value head
    fs::remove_all(dir_a);
    fs::remove_all(dir_b);
}
}  // namespace

class RlFeaturesTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { at::set_num_threads(1); }

    void rule_values_by_hand() {
        std::vector<RewardRule> rules(7);
        rules[0].type = RuleType::Regex;  // "gr[e]at" is in the text -> 1
        rules[0].pattern = "gr[e]at";
        rules[0].weight = 0.5;
        rules[1].type = RuleType::Regex;  // "http" absent, match: false -> 1
        rules[1].pattern = "http";
        rules[1].match = false;
        rules[2].type = RuleType::Length;  // 6 words, target 8 -> −|6 − 8| = −2
        rules[2].target = 8;
        rules[2].weight = 0.1;
        rules[3].type = RuleType::ContainsAny;  // "LOVE" matches "love" case-insensitively -> 1
        rules[3].words = {"hate", "LOVE"};
        rules[3].weight = 2.0;
        rules[4].type = RuleType::ExactAnswer;  // "answer: 42" -> group "42" == " 42 " trimmed -> 1
        rules[4].pattern = "answer: *(-?[0-9]+)";
        rules[4].field = "answer";
        rules[5].type = RuleType::Sentiment;  // the injected judge: counts "great" -> 1
        rules[5].weight = 3.0;
        rules[6].type = RuleType::Length;  // "café" is 4 code points (5 bytes), target 10 -> −6
        rules[6].unit = LengthUnit::Chars;
        rules[6].target = 10;
        rules[6].weight = 0.01;
        RuleScorer scorer(rules, [](const std::string& t) { return t.find("great") != std::string::npos ? 1.0 : 0.0; });
        const std::string answer = " 42 ";
        RuleInput in{"great, I love it. answer: 42", 9, &answer};
        QCOMPARE(scorer.value(0, in), 1.0);
        QCOMPARE(scorer.value(1, in), 1.0);
        QCOMPARE(scorer.value(2, in), -2.0);
        QCOMPARE(scorer.value(3, in), 1.0);
        QCOMPARE(scorer.value(4, in), 1.0);
        QCOMPARE(scorer.value(5, in), 1.0);
        RuleInput accent{"caf\xC3\xA9", 3, nullptr};
        QCOMPARE(scorer.value(6, accent), -6.0);
        // Σ weight · v = 0.5·1 + 1·1 + 0.1·(−2) + 2·1 + 1·1 + 3·1 + 0.01·(−|28 − 10|) with
        // "great, I love it. answer: 42" = 28 code points: 0.5 + 1 − 0.2 + 2 + 1 + 3 − 0.18 = 7.12
        QVERIFY(std::fabs(scorer.score(in) - 7.12) < 1e-12);
        // Misses: no answer field, a wrong answer, an extractor that finds nothing, a match absent.
        RuleInput none{"answer: 41", 3, nullptr};
        QCOMPARE(scorer.value(4, none), 0.0);
        const std::string other = "42";
        RuleInput wrong{"answer: 41", 3, &other};
        QCOMPARE(scorer.value(4, wrong), 0.0);
        RuleInput no_match{"forty-two", 3, &other};
        QCOMPARE(scorer.value(4, no_match), 0.0);
        QCOMPARE(scorer.value(0, no_match), 0.0);
        // tokens unit counts response tokens
        std::vector<RewardRule> tok(1);
        tok[0].type = RuleType::Length;
        tok[0].unit = LengthUnit::Tokens;
        tok[0].target = 4;
        QCOMPARE(RuleScorer(tok).value(0, RuleInput{"x", 9, nullptr}), -5.0);
        // A sentiment rule without a judge is an error naming the rule and its line.
        std::vector<RewardRule> sent(1);
        sent[0].type = RuleType::Sentiment;
        sent[0].line = 12;
        try {
            RuleScorer s(sent);
            QFAIL("expected an error");
        } catch (const rlhf::Error& e) {
            QVERIFY2(std::string(e.what()).find("reward.rules[0] (line 12)") != std::string::npos, e.what());
        }
    }

    void rule_reward_model_weight_and_prompt_index() {
        // score = reward_model_weight · RM + indexed rule; the rule sees the prompt's index.
        auto rm = rlhf::model::make_reward_model(tiny_model(3), /*seed=*/3);
        RlOptions o;
        o.eos_ids = {kEos};
        o.pad_id = kEos;
        o.reward_model = rm;
        o.indexed_rule_reward = [](int64_t index, const TokenIds&, const TokenIds&) { return 10.0 * static_cast<double>(index); };
        Rollout r;
        r.prompt_ids = torch::tensor({2, 1, 3, 1}, torch::kInt64).view({2, 2});
        r.prompt_mask = torch::ones({2, 2}, torch::kInt64);
        r.response_ids = torch::tensor({5, 0, 6, 0}, torch::kInt64).view({2, 2});
        r.response_mask = torch::ones({2, 2});
        r.ended = torch::ones({2}, torch::kBool);
        r.prompt_index = torch::tensor({3, 1}, torch::kInt64);
        o.reward_model_weight = 1.0;
        auto one = score_responses(o, r, 32);
        o.reward_model_weight = 0.5;
        auto half = score_responses(o, r, 32);
        // rm = one − rule; half = 0.5 · rm + rule
        const double rm0 = one[0].item<double>() - 30.0, rm1 = one[1].item<double>() - 10.0;
        QVERIFY(std::fabs(half[0].item<double>() - (0.5 * rm0 + 30.0)) < 1e-5);
        QVERIFY(std::fabs(half[1].item<double>() - (0.5 * rm1 + 10.0)) < 1e-5);
    }

    void rank_slice_takes_the_ranks_rows() {
        std::vector<size_t> global{5, 1, 4, 0, 2, 3};
        QCOMPARE(rank_slice(global, 0, 2), (std::vector<size_t>{5, 1, 4}));
        QCOMPARE(rank_slice(global, 1, 2), (std::vector<size_t>{0, 2, 3}));
        QCOMPARE(rank_slice(global, 0, 1), global);
        QVERIFY_EXCEPTION_THROWN(rank_slice(global, 0, 4), rlhf::Error);
    }

    void ppo_samples_carry_per_token_data() {
        auto c = rl_config(Algo::Ppo, 1);
        auto task = make_task(Algo::Ppo, c, 6);
        std::vector<Sample> samples;
        TrainerCallbacks cb;
        cb.on_samples = [&](int64_t, const std::vector<Sample>& s) { samples = s; };
        Trainer(TrainerOptions::from_config(c, "", 0), *task, cb).run();
        QCOMPARE(samples.size(), size_t(2));
        for (const auto& s : samples) {
            const auto& x = s.extra;
            // The completion text is the decoded response tokens (up to and including EOS).
            const size_t n = x.at("tokens").size();
            QVERIFY(n >= 1 && n <= size_t(c.ppo.response_length));
            QCOMPARE(s.completion.empty() ? size_t(0) : size_t(std::count(s.completion.begin(), s.completion.end(), ' ') + 1), n);
            for (const char* k : {"kl", "advantage", "logprob", "ref_logprob", "value"}) QCOMPARE(x.at(k).size(), n);
            for (size_t t = 0; t < n; ++t) {
                const double lp = x["logprob"][t].get<double>(), ref = x["ref_logprob"][t].get<double>();
                QCOMPARE(x["kl"][t].get<double>(), lp - ref);
                QVERIFY(lp <= 0 && ref <= 0);
            }
            // A response shorter than response_length stopped at EOS, which is its last token.
            if (n < size_t(c.ppo.response_length)) QCOMPARE(x["tokens"][n - 1].get<std::string>(), std::string("t0"));
            // The policy differs from the seed-6 reference only after training: here (step 1's
            // rollout comes before any update) the policy is the reference, so kl is exactly 0.
            for (size_t t = 0; t < n; ++t) QCOMPARE(x["kl"][t].get<double>(), 0.0);
        }
    }

    void grpo_samples_carry_per_token_data() {
        auto c = rl_config(Algo::Grpo, 3);
        c.grpo.iterations = 1;
        c.grpo.beta = 0.04;
        auto task = make_task(Algo::Grpo, c, /*init_seed=*/8);  // policy ≠ reference: kl ≠ 0
        std::vector<Sample> samples;
        TrainerCallbacks cb;
        cb.on_samples = [&](int64_t, const std::vector<Sample>& s) { samples = s; };
        Trainer(TrainerOptions::from_config(c, "", 0), *task, cb).run();
        QCOMPARE(samples.size(), size_t(2));
        bool some_kl = false;
        for (const auto& s : samples) {
            const auto& x = s.extra;
            const size_t n = x.at("tokens").size();
            QVERIFY(n >= 1);
            for (const char* k : {"kl", "advantage", "logprob", "ref_logprob"}) QCOMPARE(x.at(k).size(), n);
            QVERIFY(!x.contains("value"));  // GRPO has no critic
            for (size_t t = 0; t < n; ++t) {
                QCOMPARE(x["kl"][t].get<double>(), x["logprob"][t].get<double>() - x["ref_logprob"][t].get<double>());
                some_kl = some_kl || x["kl"][t].get<double>() != 0.0;
                QCOMPARE(x["advantage"][t].get<double>(), x["advantage"][0].get<double>());  // one per sequence
            }
        }
        QVERIFY(some_kl);
    }

    void ppo_resume_is_bitwise_exact() { check_resume_exact(Algo::Ppo, 3); }   // step 3 is inside the 4-step rollout
    void grpo_resume_is_bitwise_exact() { check_resume_exact(Algo::Grpo, 3); } // step 3 is the first of 2 iterations
};

QTEST_APPLESS_MAIN(RlFeaturesTest)
#include "test_rl_features.moc"
