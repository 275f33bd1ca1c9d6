// Unit tests of core/train/losses: every expected number is computed by hand in the comment
// next to it (the formulas of the cited papers), never by the code under test.
#include <QtTest/QtTest>

#include <cmath>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/train/losses.h"

using namespace rlhf::train;

namespace {
torch::Tensor t1(std::vector<double> v) { return torch::tensor(v, torch::kFloat64); }
torch::Tensor t2(std::vector<double> v, int64_t rows) { return t1(std::move(v)).view({rows, -1}); }

// Compares every element; the failure message lists both tensors.
bool near(const torch::Tensor& got, std::vector<double> want, double tol, std::string* why) {
    auto g = got.detach().to(torch::kFloat64).contiguous().view({-1});
    if (g.numel() != static_cast<int64_t>(want.size())) {
        *why = "numel " + std::to_string(g.numel()) + " != " + std::to_string(want.size());
        return false;
    }
    for (int64_t i = 0; i < g.numel(); ++i) {
        double x = g[i].item<double>();
        if (!(std::fabs(x - want[static_cast<size_t>(i)]) <= tol)) {
            *why = "element " + std::to_string(i) + ": got " + std::to_string(x) + ", want " +
                   std::to_string(want[static_cast<size_t>(i)]);
            return false;
        }
    }
    return true;
}
#define VERIFY_NEAR(got, want, tol)                               \
    do {                                                         \
        std::string why_;                                        \
        QVERIFY2(near((got), want, (tol), &why_), why_.c_str()); \
    } while (0)
double scalar(const torch::Tensor& t) { return t.item<double>(); }
}  // namespace

class LossesTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void masked_reductions() {
        // x = [[1, 2, 3], [4, 5, 6]], mask = [[1, 1, 0], [1, 0, 0]]: sum 1+2+4 = 7, mean 7/3.
        auto x = t2({1, 2, 3, 4, 5, 6}, 2);
        auto m = t2({1, 1, 0, 1, 0, 0}, 2);
        QCOMPARE(scalar(masked_sum(x, m)), 7.0);
        QVERIFY(std::fabs(scalar(masked_mean(x, m)) - 7.0 / 3.0) < 1e-12);
        // per row: [1+2, 4] and [(1+2)/2, 4/1]
        VERIFY_NEAR(masked_sum(x, m, 1), (std::vector<double>{3, 4}), 1e-12);
        VERIFY_NEAR(masked_mean(x, m, 1), (std::vector<double>{1.5, 4}), 1e-12);
        // all masked -> 0, not NaN
        QCOMPARE(scalar(masked_mean(x, torch::zeros_like(x))), 0.0);
    }

    void whiten_masked() {
        // x = [1, 2, 3, 4]: mean 2.5, unbiased var (2.25+0.25+0.25+2.25)/3 = 5/3, std 1.2909944
        // -> (x − 2.5)/1.2909944 = [−1.1618950, −0.3872983, 0.3872983, 1.1618950]
        VERIFY_NEAR(whiten(t1({1, 2, 3, 4}), t1({1, 1, 1, 1})),
                   (std::vector<double>{-1.1618950, -0.3872983, 0.3872983, 1.1618950}), 1e-6);
        // x = [1, 2, 3, 100], mask [1, 1, 1, 0]: mean 2, var (1+0+1)/2 = 1 -> [−1, 0, 1, 0]
        VERIFY_NEAR(whiten(t1({1, 2, 3, 100}), t1({1, 1, 1, 0})), (std::vector<double>{-1, 0, 1, 0}), 1e-6);
        // shift_mean=false adds the mean 2 back: [1, 2, 3, 0]
        VERIFY_NEAR(whiten(t1({1, 2, 3, 100}), t1({1, 1, 1, 0}), false), (std::vector<double>{1, 2, 3, 0}), 1e-6);
    }

    void logprobs_and_entropy() {
        // logits row [0, 0, ln 2] -> softmax [1/4, 1/4, 1/2]; label 2 -> ln ½ = −0.6931472,
        // label 0 -> ln ¼ = −1.3862944. H = −(2·¼ ln ¼ + ½ ln ½) = 1.0397208.
        auto logits = torch::tensor({0.0, 0.0, std::log(2.0), 0.0, 0.0, std::log(2.0)}, torch::kFloat32).view({1, 2, 3});
        auto labels = torch::tensor({2, 0}, torch::kInt64).view({1, 2});
        VERIFY_NEAR(logprobs_from_logits(logits, labels), (std::vector<double>{-0.6931472, -1.3862944}), 1e-6);
        VERIFY_NEAR(entropy_from_logits(logits), (std::vector<double>{1.0397208, 1.0397208}), 1e-6);
        // Invariant: uniform logits over V=7 give log p = −ln 7 and H = ln 7 for every token.
        auto uniform = torch::full({2, 3, 7}, 0.3);
        auto lab = torch::randint(0, 7, {2, 3}, torch::kInt64);
        auto lp = logprobs_from_logits(uniform, lab);
        QVERIFY(torch::allclose(lp, torch::full({2, 3}, -std::log(7.0)), 1e-6, 1e-6));
        QVERIFY(torch::allclose(entropy_from_logits(uniform), torch::full({2, 3}, std::log(7.0)), 1e-6, 1e-6));
        // Invariant: a label's log-prob plus the others' exp sum to 1 (Σ_v p(v) = 1).
        torch::manual_seed(3);
        auto r = torch::randn({2, 4, 5});
        double total = 0;
        for (int64_t v = 0; v < 5; ++v)
            total += logprobs_from_logits(r, torch::full({2, 4}, v, torch::kInt64)).exp().sum().item<double>();
        QVERIFY(std::fabs(total - 8.0) < 1e-5);  // 2 × 4 positions, each sums to 1
    }

    void batched_and_per_row_paths_agree() {
        // The memory budget picks the path (0 bytes: row by row; 1 GiB: the whole batch). Both must
        // give the values of a float64 log-softmax (the truth) and the same gradients as each other,
        // for logprobs and entropy, on float32 and bfloat16 logits (converted to float32 first).
        torch::manual_seed(11);
        for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
            auto base = (3.0 * torch::randn({3, 5, 11})).to(dtype);     // (B, T, V)
            auto labels = torch::randint(0, 11, {3, 5}, torch::kInt64);  // (B, T)
            auto weights = torch::randn({3, 5});                         // (B, T): a loss touching every output
            auto ref64 = torch::log_softmax(base.to(torch::kFloat64), -1);  // (B, T, V)
            auto lp_truth = ref64.gather(-1, labels.unsqueeze(-1)).squeeze(-1);
            auto h_truth = -(ref64.exp() * ref64).sum(-1);
            std::vector<torch::Tensor> lp_grads, h_grads;
            for (int64_t budget : {int64_t(0), int64_t(1) << 30}) {
                auto x = base.detach().clone().set_requires_grad(true);
                auto lp = logprobs_from_logits(x, labels, budget);
                QCOMPARE(lp.scalar_type(), torch::kFloat32);
                QVERIFY((lp.to(torch::kFloat64) - lp_truth).abs().max().item<double>() < 1e-5);
                (lp * weights).sum().backward();
                lp_grads.push_back(x.grad().to(torch::kFloat32).clone());
                auto y = base.detach().clone().set_requires_grad(true);
                auto h = entropy_from_logits(y, budget);
                QVERIFY((h.to(torch::kFloat64) - h_truth).abs().max().item<double>() < 1e-5);
                (h * weights).sum().backward();
                h_grads.push_back(y.grad().to(torch::kFloat32).clone());
            }
            // (bfloat16 gradients are rounded to 8 bits of mantissa on the way back: compare float32 ones.)
            if (dtype == torch::kFloat32) {
                QVERIFY((lp_grads[0] - lp_grads[1]).abs().max().item<double>() <= 1e-6);
                QVERIFY((h_grads[0] - h_grads[1]).abs().max().item<double>() <= 1e-6);
                // d/dx Σ w log softmax(x)[label] = w (onehot(label) − softmax(x))
                auto onehot = torch::zeros({3, 5, 11}, torch::kFloat64).scatter_(-1, labels.unsqueeze(-1), 1.0);
                auto expect = weights.to(torch::kFloat64).unsqueeze(-1) * (onehot - ref64.exp());
                QVERIFY((lp_grads[0].to(torch::kFloat64) - expect).abs().max().item<double>() < 1e-5);
                QVERIFY(expect.abs().max().item<double>() > 1e-2);  // the gradients are not trivially 0
            }
        }
        // The default budget: 256 MiB of float32 = 67,108,864 elements.
        QCOMPARE(kBatchedSoftmaxBytes, int64_t(268435456));
    }

    void bradley_terry_two_pairs() {
        // r_c = [2, 0], r_r = [1, 1]: d = [1, −1].
        // loss = ½ (ln(1+e^−1) + ln(1+e^1)) = ½ (0.3132617 + 1.3132617) = 0.8132617
        auto res = bradley_terry_loss(t1({2, 0}), t1({1, 1}));
        QVERIFY(std::fabs(scalar(res.loss) - 0.8132617) < 1e-6);
        QCOMPARE(scalar(res.accuracy), 0.5);
        QCOMPARE(scalar(res.rewards_chosen), 1.0);
        QCOMPARE(scalar(res.rewards_rejected), 1.0);
        QCOMPARE(scalar(res.rewards_margins), 0.0);
        // margin 0.5: logits [0.5, −1.5]; ½ (ln(1+e^−0.5) + ln(1+e^1.5)) = ½ (0.4740770 + 1.7014133) = 1.0877451
        auto with_margin = bradley_terry_loss(t1({2, 0}), t1({1, 1}), t1({0.5, 0.5}));
        QVERIFY(std::fabs(scalar(with_margin.loss) - 1.0877451) < 1e-6);
        // gradient wrt r_c: −σ(−d)/B = [−σ(−1)/2, −σ(1)/2] = [−0.1344707, −0.3655293]
        auto rc = t1({2, 0}).requires_grad_(true);
        bradley_terry_loss(rc, t1({1, 1})).loss.backward();
        VERIFY_NEAR(rc.grad(), (std::vector<double>{-0.1344707, -0.3655293}), 1e-6);
    }

    void dpo_sigmoid_and_ipo() {
        // π_c = [−1, −2], π_r = [−3, −1], ref_c = ref_r = [−2, −2], β = 0.1
        // chosen log-ratio [1, 0], rejected [−1, 1], h = [2, −1], βh = [0.2, −0.1]
        // sigmoid: ½ (ln(1+e^−0.2) + ln(1+e^0.1)) = ½ (0.5981389 + 0.7443967) = 0.6712678
        auto pc = t1({-1, -2}), pr = t1({-3, -1}), ref = t1({-2, -2});
        auto s = dpo_loss(pc, pr, ref, ref, 0.1);
        QVERIFY(std::fabs(scalar(s.loss) - 0.6712678) < 1e-6);
        // rewards: chosen β[1, 0] mean 0.05; rejected β[−1, 1] mean 0; margins [0.2, −0.1] mean 0.05
        QVERIFY(std::fabs(scalar(s.rewards_chosen) - 0.05) < 1e-12);
        QVERIFY(std::fabs(scalar(s.rewards_rejected)) < 1e-12);
        QVERIFY(std::fabs(scalar(s.rewards_margins) - 0.05) < 1e-12);
        QCOMPARE(scalar(s.rewards_accuracies), 0.5);
        QCOMPARE(scalar(s.logps_chosen), -1.5);
        QCOMPARE(scalar(s.logps_rejected), -2.0);
        // label smoothing ε = 0.1: (1−ε) sp(−x) + ε sp(x) = sp(−x) + ε x (since sp(x) − sp(−x) = x)
        // = ½ ((0.5981389 + 0.02) + (0.7443967 − 0.01)) = 0.6762678
        auto ls = dpo_loss(pc, pr, ref, ref, 0.1, DpoLossType::Sigmoid, 0.1);
        QVERIFY(std::fabs(scalar(ls.loss) - 0.6762678) < 1e-6);
        // IPO: 1/(2β) = 5; ½ ((2−5)² + (−1−5)²) = ½ (9 + 36) = 22.5
        auto ipo = dpo_loss(pc, pr, ref, ref, 0.1, DpoLossType::Ipo);
        QVERIFY(std::fabs(scalar(ipo.loss) - 22.5) < 1e-9);
    }

    void gae_five_steps_by_hand() {
        // Row 0: r = [0, 0, 0, 0, 1], V = [0.5, 0.4, 0.3, 0.2, 0.1], γ = 0.9, λ = 0.8 (γλ = 0.72)
        // t=4: δ = 1 − 0.1 = 0.9                          A4 = 0.9
        // t=3: δ = 0.9·0.1 − 0.2 = −0.11                  A3 = −0.11 + 0.72·0.9 = 0.538
        // t=2: δ = 0.9·0.2 − 0.3 = −0.12                  A2 = −0.12 + 0.72·0.538 = 0.26736
        // t=1: δ = 0.9·0.3 − 0.4 = −0.13                  A1 = −0.13 + 0.72·0.26736 = 0.0624992
        // t=0: δ = 0.9·0.4 − 0.5 = −0.14                  A0 = −0.14 + 0.72·0.0624992 = −0.095000576
        // Row 1 ends after 3 tokens (mask [1,1,1,0,0]); junk rewards after the end are ignored:
        // t=2: δ = 1 − 0.3 = 0.7 (no bootstrap)           A2 = 0.7
        // t=1: δ = −0.13                                   A1 = −0.13 + 0.72·0.7 = 0.374
        // t=0: δ = −0.14                                   A0 = −0.14 + 0.72·0.374 = 0.12928
        auto rewards = t2({0, 0, 0, 0, 1, 0, 0, 1, 5, 5}, 2);
        auto values = t2({0.5, 0.4, 0.3, 0.2, 0.1, 0.5, 0.4, 0.3, 0.2, 0.1}, 2);
        auto mask = t2({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 2);
        auto g = gae_advantages(rewards, values, mask, 0.9, 0.8);
        VERIFY_NEAR(g.advantages,
                   (std::vector<double>{-0.095000576, 0.0624992, 0.26736, 0.538, 0.9, 0.12928, 0.374, 0.7, 0, 0}), 1e-9);
        // returns = A + V on valid tokens
        VERIFY_NEAR(g.returns,
                   (std::vector<double>{0.404999424, 0.4624992, 0.56736, 0.738, 1.0, 0.62928, 0.774, 1.0, 0, 0}), 1e-9);
        // λ = 1, γ = 1: A_t = Σ_{k≥t} r_k − V_t (Monte Carlo return minus baseline): row 0 -> [0.5, 0.6, 0.7, 0.8, 0.9]
        auto mc = gae_advantages(rewards, values, mask, 1.0, 1.0);
        VERIFY_NEAR(mc.advantages.select(0, 0), (std::vector<double>{0.5, 0.6, 0.7, 0.8, 0.9}), 1e-9);
    }

    void ppo_policy_clip_inside_and_outside() {
        // cliprange 0.2. Tokens (ratio, A):
        //   (1.1, +1): inside             pg1 = −1.1, pg2 = −1.1 -> −1.1, not clipped
        //   (1.5, +1): above 1.2          pg1 = −1.5, pg2 = −1.2 -> −1.2, clipped
        //   (0.5, −1): below 0.8          pg1 = 0.5,  pg2 = 0.8  -> 0.8, clipped
        //   (0.5, +1): below, but A > 0   pg1 = −0.5, pg2 = −0.8 -> −0.5, not clipped
        //   (9.0, +5): masked out
        // loss = (−1.1 − 1.2 + 0.8 − 0.5)/4 = −0.5; clipfrac = 2/4
        // approxkl = ½ mean(ln²1.1, ln²1.5, ln²0.5, ln²0.5) = 0.1417990
        auto old_lp = t2({-1, -1, -1, -1, -1}, 1);
        auto log_ratio = t2({std::log(1.1), std::log(1.5), std::log(0.5), std::log(0.5), std::log(9.0)}, 1);
        auto lp = (old_lp + log_ratio).requires_grad_(true);
        auto adv = t2({1, 1, -1, 1, 5}, 1);
        auto mask = t2({1, 1, 1, 1, 0}, 1);
        auto res = ppo_policy_loss(lp, old_lp, adv, mask, 0.2);
        QVERIFY(std::fabs(scalar(res.loss) + 0.5) < 1e-9);
        QVERIFY(std::fabs(scalar(res.clipfrac) - 0.5) < 1e-12);
        QVERIFY(std::fabs(scalar(res.approxkl) - 0.1417990) < 1e-6);
        // d loss / d logπ = −A·ratio/4 where unclipped, 0 where clipped or masked:
        // [−1.1/4, 0, 0, −0.5/4, 0] = [−0.275, 0, 0, −0.125, 0]
        res.loss.backward();
        VERIFY_NEAR(lp.grad(), (std::vector<double>{-0.275, 0, 0, -0.125, 0}), 1e-9);
    }

    void ppo_value_clip() {
        // V = [1, 2], V_old = [0.5, 0.5], R = [1.5, 0], c = 0.2 -> V_clip = [0.7, 0.7]
        // token 0: (1−1.5)² = 0.25, (0.7−1.5)² = 0.64 -> 0.64 (clipped larger)
        // token 1: (2−0)² = 4,     (0.7−0)² = 0.49   -> 4
        // loss = ½ (0.64 + 4)/2 = 1.16; clipfrac 1/2
        auto res = ppo_value_loss(t2({1, 2}, 1), t2({0.5, 0.5}, 1), t2({1.5, 0}, 1), t2({1, 1}, 1), 0.2);
        QVERIFY(std::fabs(scalar(res.loss) - 1.16) < 1e-9);
        QCOMPARE(scalar(res.clipfrac), 0.5);
    }

    void kl_estimators() {
        // logπ = [−1, −2], logπ_ref = [−1.5, −1]
        // k1 = [0.5, −1]; k2 = ½ k1² = [0.125, 0.5]
        // k3: r = ref − logπ = [−0.5, 1]: e^−0.5 + 0.5 − 1 = 0.1065307; e − 1 − 1 = 0.7182818
        auto lp = t1({-1, -2}), ref = t1({-1.5, -1});
        VERIFY_NEAR(kl_penalty(lp, ref, KlEstimator::K1), (std::vector<double>{0.5, -1}), 1e-12);
        VERIFY_NEAR(kl_penalty(lp, ref, KlEstimator::K2), (std::vector<double>{0.125, 0.5}), 1e-12);
        VERIFY_NEAR(kl_penalty(lp, ref, KlEstimator::K3), (std::vector<double>{0.1065307, 0.7182818}), 1e-6);
    }

    void adaptive_kl_three_updates() {
        // Ziegler et al. 2019: β0 = 0.2, target 6, horizon 10000, n_steps 256 (factor 0.0256)
        // KL 12:  e = clip(12/6 − 1) = 0.2     β = 0.2·(1 + 0.2·0.0256) = 0.201024
        // KL 6.6: e = 0.1                      β = 0.201024·1.00256 = 0.2015386214
        // KL 0:   e = clip(−1) = −0.2          β = 0.2015386214·0.99488 = 0.2005067437
        AdaptiveKlController c(0.2, 6.0, 10000.0);
        c.update(12.0, 256);
        QVERIFY(std::fabs(c.value() - 0.201024) < 1e-12);
        c.update(6.6, 256);
        QVERIFY(std::fabs(c.value() - 0.2015386214) < 1e-9);
        c.update(0.0, 256);
        QVERIFY(std::fabs(c.value() - 0.2005067437) < 1e-9);
        FixedKlController f(0.05);
        f.update(100.0, 256);
        QCOMPARE(f.value(), 0.05);
    }

    void grpo_group_normalisation() {
        // [1, 2, 3, 4] in groups of 2: means 1.5, 3.5; unbiased std √(0.25+0.25)/1 = 0.7071068
        // -> ±0.5/(0.7071068 + 1e-4) = ±0.7070068
        VERIFY_NEAR(grpo_advantages(t1({1, 2, 3, 4}), 2),
                   (std::vector<double>{-0.7070068, 0.7070068, -0.7070068, 0.7070068}), 1e-6);
        // without scaling: ±0.5
        VERIFY_NEAR(grpo_advantages(t1({1, 2, 3, 4}), 2, 1e-4, false), (std::vector<double>{-0.5, 0.5, -0.5, 0.5}), 1e-9);
        // a group of equal rewards has no signal: all 0
        VERIFY_NEAR(grpo_advantages(t1({3, 3, 3}), 3), (std::vector<double>{0, 0, 0}), 1e-9);
    }

    void grpo_clipped_objective_with_k3() {
        // seq 0 (A = +1): ratios [1, 1.5]: −min(1, 1) = −1; −min(1.5, 1.2) = −1.2 (clipped); mean −1.1
        // seq 1 (A = −1): ratio 0.5: −min(−0.5, −0.8) = 0.8 (clipped); token 2 masked; mean 0.8
        // β = 0: loss = (−1.1 + 0.8)/2 = −0.15; clip_ratio = 2/3 valid tokens
        auto old_lp = t2({-1, -1, -1, -1}, 2);
        auto lp = old_lp + t2({0, std::log(1.5), std::log(0.5), 0}, 2);
        auto mask = t2({1, 1, 1, 0}, 2);
        auto adv = t1({1, -1});
        auto res = grpo_loss(lp, old_lp, {}, adv, mask, 0.2, 0.0);
        QVERIFY(std::fabs(scalar(res.loss) + 0.15) < 1e-9);
        QVERIFY(std::fabs(scalar(res.clip_ratio) - 2.0 / 3.0) < 1e-9);
        // β = 0.04 with ref = logπ on seq 0 (k3 = 0) and ref − logπ = 1 on seq 1 token 1
        // (k3 = e − 2 = 0.7182818): seq 1 mean 0.8 + 0.04·0.7182818 = 0.8287313;
        // loss = (−1.1 + 0.8287313)/2 = −0.1356344; kl = 0.7182818/3 = 0.2394273
        auto ref = lp + t2({0, 0, 1, 0}, 2);
        auto kres = grpo_loss(lp, old_lp, ref, adv, mask, 0.2, 0.04);
        QVERIFY(std::fabs(scalar(kres.loss) + 0.1356344) < 1e-6);
        QVERIFY(std::fabs(scalar(kres.kl) - 0.2394273) < 1e-6);
    }
};

QTEST_APPLESS_MAIN(LossesTest)
#include "test_losses.moc"
