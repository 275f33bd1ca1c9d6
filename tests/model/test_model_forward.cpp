// Forward-pass invariants of every family on tiny random models: KV-cached incremental decoding
// equals the full forward; a left-padded batch equals each sequence alone; the SDPA kernel equals
// the plain math path; RoPE llama3 scaling matches hand-computed frequencies; config errors.
#include <QtTest/QtTest>

#include <cmath>

#include "core/io/error.h"
#include "model/model_test_util.h"

using namespace rlhf::model;
using namespace rlhf::model::test;

class ModelForwardTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { torch::set_num_threads(2); }

    void cached_decoding_equals_full_forward_data() {
        QTest::addColumn<QString>("family");
        for (const char* f : {"gpt2", "llama", "mistral", "qwen2", "qwen3"}) QTest::newRow(f) << QString::fromUtf8(f);
    }
    // Prefill 5 tokens, then feed 7 one at a time through the cache: every logit row must equal
    // the same row of one forward over all 12 tokens.
    void cached_decoding_equals_full_forward() {
        QFETCH(QString, family);
        torch::NoGradGuard no_grad;
        auto model = tiny_model(family.toStdString());
        auto ids = random_ids(2, 12, 300, 7);                      // (2, 12)
        auto full = model->forward(ids);                           // (2, 12, V)
        auto cache = KvCache::allocate(model->config(), 2, 12, torch::kFloat32, torch::kCPU);
        std::vector<torch::Tensor> parts = {model->forward(ids.narrow(1, 0, 5), {}, &cache)};
        for (int64_t t = 5; t < 12; ++t) parts.push_back(model->forward(ids.narrow(1, t, 1), {}, &cache));
        auto incremental = torch::cat(parts, 1);
        QCOMPARE(cache.length, int64_t(12));
        QVERIFY2(max_abs_diff(full, incremental) < 1e-5, qPrintable(QString::number(max_abs_diff(full, incremental))));
    }

    void left_padded_batch_equals_alone_data() { cached_decoding_equals_full_forward_data(); }
    // Rows of lengths 9, 4 and 12 left-padded to 12, with and without the cache: logits at the
    // real positions equal those of each sequence run alone (positions come from the mask).
    void left_padded_batch_equals_alone() {
        QFETCH(QString, family);
        torch::NoGradGuard no_grad;
        auto model = tiny_model(family.toStdString());
        const std::vector<int64_t> lens = {9, 4, 12};
        const int64_t b = 3, t = 12;
        auto ids = torch::zeros({b, t}, torch::kLong);
        auto mask = torch::zeros({b, t}, torch::kLong);
        std::vector<torch::Tensor> alone;
        for (int64_t i = 0; i < b; ++i) {
            auto seq = random_ids(1, lens[i], 300, 100 + i);
            ids[i].narrow(0, t - lens[i], lens[i]).copy_(seq[0]);
            mask[i].narrow(0, t - lens[i], lens[i]).fill_(1);
            alone.push_back(model->forward(seq)[0]);  // (len, V)
        }
        auto batch = model->forward(ids, mask);  // (B, T, V)
        // Same through the cache: prefill 8 columns, then one column at a time.
        auto cache = KvCache::allocate(model->config(), b, t, torch::kFloat32, torch::kCPU);
        std::vector<torch::Tensor> parts = {model->forward(ids.narrow(1, 0, 8), mask.narrow(1, 0, 8), &cache)};
        for (int64_t c = 8; c < t; ++c)
            parts.push_back(model->forward(ids.narrow(1, c, 1), mask.narrow(1, 0, c + 1), &cache));
        auto cached = torch::cat(parts, 1);
        for (int64_t i = 0; i < b; ++i) {
            auto real = batch[i].narrow(0, t - lens[i], lens[i]);
            double d = max_abs_diff(real, alone[i]);
            QVERIFY2(d < 1e-5, qPrintable(QStringLiteral("row %1: %2").arg(i).arg(d)));
            double dc = max_abs_diff(cached[i].narrow(0, t - lens[i], lens[i]), alone[i]);
            QVERIFY2(dc < 1e-5, qPrintable(QStringLiteral("cached row %1: %2").arg(i).arg(dc)));
            QVERIFY(torch::isfinite(batch[i]).all().item<bool>());  // padding rows stay finite too
        }
    }

    // The sliding window must actually change the result once the sequence is longer than it
    // (otherwise the mistral rows above would pass without exercising the window).
    void sliding_window_changes_long_sequences() {
        torch::NoGradGuard no_grad;
        auto model = tiny_model("mistral");
        auto cfg = model->config();
        cfg.sliding_window = 0;
        auto full_attention = create_causal_lm(cfg);
        auto src = model->hf_parameters();
        auto dst = full_attention->hf_parameters();
        for (size_t i = 0; i < src.size(); ++i) dst[i].second.copy_(src[i].second);
        auto ids = random_ids(1, 12, 300, 3);
        auto a = model->forward(ids), b = full_attention->forward(ids);
        // Positions 0..4 see at most 5 keys either way: equal. Later positions differ.
        QVERIFY(max_abs_diff(a.narrow(1, 0, 5), b.narrow(1, 0, 5)) < 1e-6);
        QVERIFY(max_abs_diff(a.narrow(1, 6, 6), b.narrow(1, 6, 6)) > 1e-4);
    }

    // SDPA (LibTorch's kernel) against softmax(q k^T / sqrt(D) + mask) v in float32, with GQA,
    // an explicit padding mask and plain causal attention.
    void sdpa_equals_math_path() {
        torch::NoGradGuard no_grad;
        auto gen = at::detail::createCPUGenerator(5);
        auto q = torch::empty({2, 4, 6, 8}).normal_(0, 1, gen);
        auto k = torch::empty({2, 2, 6, 8}).normal_(0, 1, gen);
        auto v = torch::empty({2, 2, 6, 8}).normal_(0, 1, gen);
        auto causal_ref = attention_math(q, k, v, {}, /*is_causal=*/true);
        QVERIFY(max_abs_diff(attention(q, k, v, {}, true), causal_ref) < 1e-5);
        auto mask = torch::ones({6, 6}, torch::kBool).tril().view({1, 1, 6, 6}).repeat({2, 1, 1, 1});
        mask[1].narrow(-1, 0, 2).fill_(false);  // row 1: two padding keys
        mask[1][0].diagonal().fill_(true);      // every query sees itself (as make_attention_context does)
        auto ref = attention_math(q, k, v, mask, false);
        QVERIFY(max_abs_diff(attention(q, k, v, mask, false), ref) < 1e-5);
        // And the math path itself against a hand-rolled loop for one query row:
        // row (b=1, h=3, t=4) attends keys 2..4 of kv head 3/2 = 1.
        auto qi = q[1][3][4], kk = k[1][1].narrow(0, 2, 3), vv = v[1][1].narrow(0, 2, 3);
        auto w = torch::softmax(torch::mv(kk, qi) / std::sqrt(8.0), 0);
        QVERIFY(max_abs_diff(ref[1][3][4], torch::mv(vv.t(), w)) < 1e-5);
    }

    // Llama 3.1 RoPE scaling, hand-computed for head_dim 8, theta 10000, factor 8,
    // low_freq_factor 1, high_freq_factor 4, original_max_position_embeddings 64:
    // base inv_freq = 10000^(-[0,2,4,6]/8) = [1, 0.1, 0.01, 0.001]; wavelengths 2*pi/f =
    // [6.283, 62.83, 628.3, 6283]; high_freq_wavelen = 64/4 = 16, low_freq_wavelen = 64/1 = 64.
    //   6.283 < 16  -> kept: 1
    //   62.83 in [16, 64] -> smooth = (64/62.83185 - 1)/(4 - 1) = 0.00619721;
    //          (1 - smooth) * 0.1/8 + smooth * 0.1 = 0.01242253 + 0.00061972 = 0.01304225
    //   628.3, 6283 > 64 -> divided by 8: 0.00125, 0.000125
    void rope_llama3_scaling_hand_computed() {
        nlohmann::json j = {{"model_type", "llama"}, {"vocab_size", 10}, {"hidden_size", 16},
                            {"num_hidden_layers", 1}, {"num_attention_heads", 2}, {"intermediate_size", 8},
                            {"rope_theta", 10000.0},
                            {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                              {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}}}};
        auto cfg = config_from_json(j, "test");
        auto f = rope_inv_freq(cfg);
        const double expected[] = {1.0, 0.01304225, 0.00125, 0.000125};
        QCOMPARE(f.size(0), int64_t(4));
        for (int i = 0; i < 4; ++i)
            QVERIFY2(std::abs(f[i].item<double>() - expected[i]) < 1e-7 * std::max(1.0, 1 / expected[i]) + 1e-8,
                     qPrintable(QStringLiteral("%1: %2").arg(i).arg(f[i].item<double>())));
    }

    // RoPE is a rotation: it keeps norms, and q.k after rotation depends only on the offset.
    void rope_relative_position_invariant() {
        auto cfg = tiny_config("llama");
        auto gen = at::detail::createCPUGenerator(9);
        auto q = torch::empty({1, 1, 1, cfg.head_dim}).normal_(0, 1, gen);
        auto k = torch::empty({1, 1, 1, cfg.head_dim}).normal_(0, 1, gen);
        auto dot_at = [&](int64_t pq, int64_t pk) {
            auto [cq, sq] = rope_cos_sin(cfg, torch::full({1, 1}, pq, torch::kLong));
            auto [ck, sk] = rope_cos_sin(cfg, torch::full({1, 1}, pk, torch::kLong));
            return (apply_rope(q, cq, sq) * apply_rope(k, ck, sk)).sum().item<double>();
        };
        QVERIFY(std::abs(dot_at(7, 3) - dot_at(24, 20)) < 1e-4);
        auto [c, s] = rope_cos_sin(cfg, torch::full({1, 1}, int64_t(11), torch::kLong));
        QVERIFY(std::abs(apply_rope(q, c, s).norm().item<double>() - q.norm().item<double>()) < 1e-4);
    }

    void config_errors() {
        try {
            config_from_json({{"model_type", "bert"}}, "cfg.json");
            QFAIL("no error");
        } catch (const rlhf::Error& e) {
            QString m = QString::fromUtf8(e.what());
            QVERIFY2(m.contains(QStringLiteral("cfg.json")) && m.contains(QStringLiteral("bert")) &&
                         m.contains(QStringLiteral("gpt2, llama, mistral, qwen2, qwen3")),
                     e.what());
        }
        nlohmann::json gqa = {{"model_type", "llama"}, {"num_attention_heads", 6}, {"num_key_value_heads", 4}};
        QVERIFY_THROWS_EXCEPTION(rlhf::Error, config_from_json(gqa, "x"));
        nlohmann::json bad_type = {{"model_type", "llama"}, {"hidden_size", "64"}};
        QVERIFY_THROWS_EXCEPTION(rlhf::Error, config_from_json(bad_type, "x"));
        nlohmann::json rope = {{"model_type", "llama"}, {"rope_scaling", {{"type", "yarn"}, {"factor", 4.0}}}};
        QVERIFY_THROWS_EXCEPTION(rlhf::Error, config_from_json(rope, "x"));
    }

    // Family defaults come from transformers' config classes (e.g. Qwen2Config: vocab 151936,
    // qkv bias; LlamaConfig: kv heads = heads; GPT2Config: n_inner = 4 * n_embd, tied).
    void config_defaults() {
        auto q2 = config_from_json({{"model_type", "qwen2"}}, "x");
        QCOMPARE(q2.vocab_size, int64_t(151936));
        QVERIFY(q2.qkv_bias && !q2.attention_bias && q2.sliding_window == 0);
        auto ll = config_from_json({{"model_type", "llama"}, {"num_attention_heads", 8}, {"hidden_size", 256}}, "x");
        QCOMPARE(ll.num_key_value_heads, int64_t(8));
        QCOMPARE(ll.head_dim, int64_t(32));
        auto g = config_from_json({{"model_type", "gpt2"}, {"n_embd", 32}, {"n_head", 4}}, "x");
        QCOMPARE(g.intermediate_size, int64_t(128));
        QVERIFY(g.tie_word_embeddings);
        auto l31 = config_from_json({{"model_type", "llama"}, {"eos_token_id", {128001, 128008, 128009}}}, "x");
        QCOMPARE(l31.eos_token_ids.size(), size_t(3));
        // to_json -> from_json is the identity on what we model.
        auto back = config_from_json(tiny_config("qwen3").to_json(), "y");
        QCOMPARE(back.head_dim, int64_t(24));
        QVERIFY(back.qk_norm);
    }

    void gpt2_rejects_positions_past_n_positions() {
        torch::NoGradGuard no_grad;
        auto model = tiny_model("gpt2");
        auto ids = random_ids(1, 65, 300, 1);  // n_positions is 64
        QVERIFY_THROWS_EXCEPTION(rlhf::Error, model->forward(ids));
    }
};

QTEST_APPLESS_MAIN(ModelForwardTest)
#include "test_model_forward.moc"
