// Learning tests of the algorithms on tiny random GPT-2 models (CPU, seeded, each well under a
// minute): the truths are behaviours stated up front — SFT reaches a loss on a toy corpus, a
// reward model separates a separable set on held-out pairs, DPO raises the implicit reward
// margin, PPO and GRPO raise a rule reward while the KL to the reference stays bounded — plus
// batching checked by hand.
#include <QtTest/QtTest>

#include <random>

#include <torch/torch.h>

#include "core/train/algorithms.h"

using namespace rlhf::train;
using rlhf::model::CausalLM;

namespace {
// Vocabulary of the toy tasks: 0 = EOS/pad, 1 = separator, 2..15 = content.
constexpr int64_t kVocab = 16;
constexpr int64_t kEos = 0;

std::shared_ptr<CausalLM> tiny_model(uint64_t seed) {
    auto config = rlhf::model::make_config("gpt2", /*hidden=*/32, /*layers=*/2, /*heads=*/2, /*kv_heads=*/2,
                                           /*intermediate=*/64, kVocab, /*max_positions=*/64);
    return rlhf::model::make_random_model(config, seed);
}

TrainConfig base_config(Algo algo, int64_t steps, double lr) {
    TrainConfig c;
    c.algo = algo;
    c.seed = 7;
    c.batch_size = 16;
    c.max_steps = steps;
    c.optimizer.lr = lr;
    c.max_grad_norm = 1.0;
    c.data.max_length = 32;
    return c;
}

TrainResult train(TrainTask& task, const TrainConfig& c, std::vector<Metrics>* history = nullptr) {
    TrainerCallbacks cb;
    if (history) cb.on_metrics = [history](int64_t, const Metrics& m) { history->push_back(m); };
    Trainer trainer(TrainerOptions::from_config(c, "", 0), task, cb);
    return trainer.run();
}

// Pairs whose chosen response ends in token 3 and rejected in token 4, after random content.
std::vector<PreferenceIds> separable_pairs(int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int64_t> tok(5, 15);
    std::vector<PreferenceIds> out;
    for (int i = 0; i < n; ++i) {
        PreferenceIds p;
        p.prompt = {tok(rng), tok(rng), 1};
        p.chosen = {tok(rng), tok(rng), 3, kEos};
        p.rejected = {p.chosen[0], p.chosen[1], 4, kEos};
        out.push_back(p);
    }
    return out;
}
}  // namespace

class AlgorithmsTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { at::set_num_threads(1); }

    void collate_by_hand() {
        // rows: [5 6 | 7] and [1 | 2 3 4] cut to max_length 3 -> [1 | 2 3]; pad 0.
        TokenIds p0{5, 6}, r0{7}, p1{1}, r1{2, 3, 4};
        auto b = collate_sequences({&p0, &p1}, {&r0, &r1}, /*pad_id=*/0, /*max_length=*/3);
        QVERIFY(torch::equal(b.input_ids, torch::tensor({5, 6, 7, 1, 2, 3}, torch::kInt64).view({2, 3})));
        QVERIFY(torch::equal(b.attention_mask, torch::ones({2, 3}, torch::kInt64)));
        QVERIFY(torch::equal(b.response_mask, torch::tensor({0.f, 0.f, 1.f, 0.f, 1.f, 1.f}).view({2, 3})));
        QVERIFY(torch::equal(b.last_index, torch::tensor({2, 2}, torch::kInt64)));
        TokenIds p2{9}, r2{8};
        auto c = collate_sequences({&p2, &p1}, {&r2, &r1}, 0, 10);
        // row 0 is [9 8 pad pad]: mask [1 1 0 0], last index 1
        QVERIFY(torch::equal(c.attention_mask[0], torch::tensor({1, 1, 0, 0}, torch::kInt64)));
        QCOMPARE(c.last_index[0].item<int64_t>(), int64_t(1));
    }

    void response_logprobs_ignore_prompt_and_padding() {
        // Invariant: the response log-prob of a row does not depend on what else is in the batch
        // (padding is masked), and prompt positions contribute 0.
        auto m = tiny_model(1);
        m->eval();
        torch::NoGradGuard no_grad;
        TokenIds p0{5, 6, 1}, r0{7, 8, 0}, p1{2, 1}, r1{9, 10, 11, 12, 13, 0};
        auto alone = response_token_logprobs(*m, collate_sequences({&p0}, {&r0}, 0, 32));
        auto both = response_token_logprobs(*m, collate_sequences({&p0, &p1}, {&r0, &r1}, 0, 32));
        QVERIFY(torch::allclose(alone[0], both[0].narrow(0, 0, 6), 1e-5, 1e-6));
        QCOMPARE(both[0].narrow(0, 0, 3).abs().sum().item<double>(), 0.0);
        // and equals log_softmax gathered by hand at the response positions 3, 4, 5
        auto logits = m->forward(torch::tensor({5, 6, 1, 7, 8, 0}, torch::kInt64).view({1, 6}));
        auto ls = torch::log_softmax(logits[0], -1);
        double expect = ls[2][7].item<double>() + ls[3][8].item<double>() + ls[4][0].item<double>();
        QVERIFY(std::fabs(alone.sum().item<double>() - expect) < 1e-4);
    }

    void sft_reaches_target_loss() {
        // Toy corpus: prompt [a b 1] -> response [a+6 b+6 EOS] for a, b in 2..9 (64 examples).
        // Initial loss ≈ ln 16 = 2.77; stated target after 150 steps: < 0.5.
        std::vector<SftExampleIds> data;
        for (int64_t a = 2; a <= 9; ++a)
            for (int64_t b = 2; b <= 9; ++b) data.push_back({{a, b, 1}, {a + 6, b + 6, kEos}});
        auto c = base_config(Algo::Sft, 150, 3e-3);
        SftTask task(tiny_model(2), data, c, kEos);
        const double before = task.evaluate(data);
        QVERIFY2(before > 2.0, qPrintable(QString::number(before)));
        std::vector<Metrics> h;
        train(task, c, &h);
        const double after = task.evaluate(data);
        qInfo("SFT loss %.3f -> %.3f", before, after);
        QVERIFY2(after < 0.5, qPrintable(QString::number(after)));
        QVERIFY(h.back().count("tokens_per_second"));
    }

    void reward_model_separates_held_out_pairs() {
        auto data = separable_pairs(96, 11);
        auto c = base_config(Algo::Rm, 60, 3e-3);
        c.data.eval_fraction = 0.25;  // 24 held-out pairs never trained on
        auto rm = rlhf::model::make_reward_model(tiny_model(3), /*seed=*/3);
        RmTask task(rm, data, c, kEos);
        QCOMPARE(task.held_out().size(), size_t(24));
        std::vector<Metrics> h;
        train(task, c, &h);
        const double acc = task.accuracy(task.held_out());
        qInfo("RM held-out accuracy %.3f, last train loss %.3f", acc, h.back().at("loss"));
        QVERIFY2(acc >= 0.95, qPrintable(QString::number(acc)));
        QVERIFY(h.back().count("rewards/margins"));
    }

    void dpo_raises_margin() {
        auto data = separable_pairs(32, 12);
        auto c = base_config(Algo::Dpo, 30, 1e-3);
        c.batch_size = 8;
        auto policy = tiny_model(4);
        auto reference = clone_model(*policy);
        freeze(*reference);
        DpoTask task(policy, *reference, data, c, kEos);
        const double before = task.mean_margin();
        QVERIFY(std::fabs(before) < 1e-6);  // policy == reference: every implicit reward is 0
        std::vector<Metrics> h;
        train(task, c, &h);
        const double after = task.mean_margin();
        qInfo("DPO margin %.4f -> %.4f, last loss %.4f", before, after, h.back().at("loss"));
        // Stated: 30 steps at lr 1e-3 lift the mean margin from 0 to above 0.3 (measured 0.59).
        QVERIFY2(after > 0.3, qPrintable(QString::number(after)));
        QVERIFY(h.back().at("loss") < std::log(2.0));  // below the loss at margin 0 (ln 2)
    }

    void grpo_improves_verifiable_reward() {
        // Reward 1 when the first response token is 7, else 0 (a random policy: ≈ 1/16).
        RlOptions o;
        o.eos_ids = {kEos};
        o.pad_id = kEos;
        o.rule_reward = [](const TokenIds&, const TokenIds& r) { return !r.empty() && r[0] == 7 ? 1.0 : 0.0; };
        std::vector<TokenIds> prompts;
        for (int64_t a = 2; a <= 9; ++a) prompts.push_back({a, 1});
        auto c = base_config(Algo::Grpo, 40, 3e-3);
        c.batch_size = 4;
        c.grpo.group_size = 8;
        c.grpo.response_length = 2;
        c.grpo.temperature = 1.0;
        c.grpo.beta = 0.04;
        auto policy = tiny_model(5);
        GrpoTask task(policy, clone_model(*policy), prompts, c, o);
        torch::manual_seed(1);
        const double before = task.mean_reward(prompts, 16);
        std::vector<Metrics> h;
        train(task, c, &h);
        torch::manual_seed(2);
        const double after = task.mean_reward(prompts, 16);
        qInfo("GRPO reward %.3f -> %.3f (kl %.4f)", before, after, h.back().at("kl"));
        QVERIFY2(before < 0.25, qPrintable(QString::number(before)));
        QVERIFY2(after > 0.6, qPrintable(QString::number(after)));
        QVERIFY(h.back().count("reward_std") && h.back().count("clip_ratio") && h.back().count("completion_length"));
    }

    void ppo_raises_rule_reward_with_bounded_kl() {
        // Reward = share of response tokens equal to 7 (4 tokens, no EOS penalty).
        RlOptions o;
        o.eos_ids = {kEos};
        o.pad_id = kEos;
        o.rule_reward = [](const TokenIds&, const TokenIds& r) {
            double n = 0;
            for (auto t : r) n += t == 7;
            return r.empty() ? 0.0 : n / static_cast<double>(r.size());
        };
        std::vector<TokenIds> prompts;
        for (int64_t a = 2; a <= 9; ++a) prompts.push_back({a, 1});
        auto c = base_config(Algo::Ppo, 48, 3e-3);
        c.ppo.response_length = 4;
        c.ppo.temperature = 1.0;
        c.ppo.eos_penalty = 0.0;
        c.ppo.kl_coef = 0.02;
        c.ppo.ppo_epochs = 2;
        c.ppo.minibatches = 2;
        c.ppo.vf_coef = 0.1;
        auto policy = tiny_model(6);
        PolicyWithValue model(policy);
        PpoTask task(model, clone_model(*policy), prompts, c, o);
        std::vector<Metrics> h;
        train(task, c, &h);
        const double first = h.front().at("objective/scores"), last = h.back().at("objective/scores");
        const double kl = h.back().at("objective/kl");
        qInfo("PPO score %.3f -> %.3f, KL %.3f nats", first, last, kl);
        QVERIFY2(first < 0.25, qPrintable(QString::number(first)));
        QVERIFY2(last > 0.5, qPrintable(QString::number(last)));
        // Bound: 4 tokens can at most move from p≈1/16 to p=1: KL ≤ 4·ln 16 ≈ 11.1 nats.
        QVERIFY2(kl < 4 * std::log(16.0), qPrintable(QString::number(kl)));
        for (const char* k : {"policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg",
                              "val/clipfrac_avg", "val/ratio", "kl_coef", "response_length", "objective/rlhf_reward",
                              "objective/non_score_reward", "objective/entropy", "timing/generate_s"})
            QVERIFY2(h.back().count(k), k);
    }
};

QTEST_APPLESS_MAIN(AlgorithmsTest)
#include "test_algorithms.moc"
