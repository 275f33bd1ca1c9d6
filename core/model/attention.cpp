// What the families share: the KV cache, RoPE, the attention mask from padding + causality +
// sliding window, and the one attention function (SDPA where LibTorch has it, math otherwise).
// B = batch, T = new positions, S = key positions, H = heads, D = head_dim.
#include <cmath>
#include <limits>

#include <torch/torch.h>
#include <torch/version.h>

#include "core/io/error.h"
#include "core/model/device.h"
#include "core/model/model.h"

namespace rlhf::model {

// ---------------------------------------------------------------------------------------------
// KV cache

KvCache KvCache::allocate(const ModelConfig& config, int64_t batch, int64_t capacity, torch::Dtype dtype,
                          torch::Device device) {
    KvCache c;
    c.capacity = capacity;
    auto opts = torch::TensorOptions().dtype(dtype).device(device);
    for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
        c.k.push_back(torch::zeros({batch, config.num_key_value_heads, capacity, config.head_dim}, opts));
        c.v.push_back(torch::zeros({batch, config.num_key_value_heads, capacity, config.head_dim}, opts));
    }
    return c;
}

std::pair<torch::Tensor, torch::Tensor> KvCache::update(int64_t layer, const torch::Tensor& k_new,
                                                        const torch::Tensor& v_new) {
    int64_t t = k_new.size(2);
    if (layer < 0 || layer >= static_cast<int64_t>(k.size()))
        throw Error("KvCache: layer " + std::to_string(layer) + " out of range");
    if (length + t > capacity)
        throw Error("KvCache: " + std::to_string(length + t) + " positions exceed the capacity of " +
                    std::to_string(capacity));
    k[layer].narrow(2, length, t).copy_(k_new);
    v[layer].narrow(2, length, t).copy_(v_new);
    return {k[layer].narrow(2, 0, length + t), v[layer].narrow(2, 0, length + t)};
}

void KvCache::select_rows(const torch::Tensor& index) {
    for (auto& t : k) t = t.index_select(0, index);
    for (auto& t : v) t = t.index_select(0, index);
    padded = -1;  // the kept rows may all be unpadded
}

// ---------------------------------------------------------------------------------------------
// RoPE (Su et al. 2021, arXiv:2104.09864), in transformers' rotate_half layout.

torch::Tensor rope_inv_freq(const ModelConfig& config) {
    int64_t d = config.head_dim;
    auto exponent = torch::arange(0, d, 2, torch::kFloat64) / static_cast<double>(d);  // (D/2)
    auto inv_freq = 1.0 / torch::pow(config.rope_theta, exponent);
    const RopeScaling& rs = config.rope_scaling;
    if (rs.type == "linear") {
        inv_freq = inv_freq / rs.factor;
    } else if (rs.type == "llama3") {
        // Llama 3.1 (transformers _compute_llama3_parameters): long wavelengths are divided by
        // `factor`, short ones kept, the band between interpolated smoothly.
        double old_len = static_cast<double>(rs.original_max_position_embeddings);
        double low_freq_wavelen = old_len / rs.low_freq_factor;
        double high_freq_wavelen = old_len / rs.high_freq_factor;
        auto wavelen = 2.0 * M_PI / inv_freq;
        auto scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / rs.factor, inv_freq);
        auto smooth = (old_len / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        auto smoothed = (1.0 - smooth) * scaled / rs.factor + smooth * scaled;
        auto is_medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
        inv_freq = torch::where(is_medium, smoothed, scaled);
    }
    return inv_freq.to(torch::kFloat32);
}

std::pair<torch::Tensor, torch::Tensor> rope_cos_sin(const ModelConfig& config, const torch::Tensor& positions) {
    return rope_cos_sin(rope_inv_freq(config).to(positions.device()), positions);
}

std::pair<torch::Tensor, torch::Tensor> rope_cos_sin(const torch::Tensor& inv_freq, const torch::Tensor& positions) {
    auto freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv_freq;        // (B, T, D/2)
    auto emb = torch::cat({freqs, freqs}, -1);                                  // (B, T, D)
    return {emb.cos(), emb.sin()};
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
    int64_t half = x.size(-1) / 2;
    auto c = cos.unsqueeze(1).to(x.scalar_type());  // (B, 1, T, D)
    auto s = sin.unsqueeze(1).to(x.scalar_type());
    auto x1 = x.narrow(-1, 0, half);
    auto x2 = x.narrow(-1, half, half);
    auto rotated = torch::cat({-x2, x1}, -1);  // rotate_half
    return x * c + rotated * s;
}

// ---------------------------------------------------------------------------------------------
// Attention mask

AttentionContext make_attention_context(const ModelConfig& config, const torch::Tensor& input_ids,
                                        const torch::Tensor& attention_mask, const KvCache* cache) {
    AttentionContext ctx;
    const int64_t b = input_ids.size(0), t = input_ids.size(1);
    ctx.past = cache ? cache->length : 0;
    const int64_t s = ctx.past + t;
    auto dev = input_ids.device();
    auto long_opts = torch::TensorOptions().dtype(torch::kLong).device(dev);
    if (attention_mask.defined() && (attention_mask.size(0) != b || attention_mask.size(1) != s))
        throw Error("attention_mask has shape (" + std::to_string(attention_mask.size(0)) + ", " +
                    std::to_string(attention_mask.size(1)) + "), expected (" + std::to_string(b) + ", " +
                    std::to_string(s) + ") = (batch, cached + new positions)");
    bool padded = false;
    if (attention_mask.defined()) {
        if (cache && cache->length > 0 && cache->padded >= 0) {
            padded = cache->padded == 1;  // decoding: what the prefill saw (1s are only appended)
        } else {
            padded = host_scalar(attention_mask.eq(0).any()) != 0.0;  // one host read per prefill/forward
            if (cache) cache->padded = padded ? 1 : 0;
        }
    }
    if (!padded) {
        ctx.positions = (torch::arange(t, long_opts) + ctx.past).unsqueeze(0).expand({b, t});
    } else {
        // HF: position_ids = cumsum(mask) - 1, padding slots set to 1 (any value: they are masked).
        auto m = attention_mask.to(torch::kLong);
        auto pos = m.cumsum(-1) - 1;
        pos = pos.masked_fill(m == 0, 1);
        ctx.positions = pos.narrow(1, ctx.past, t);
    }
    bool window = config.sliding_window > 0 && s > config.sliding_window;
    if (!padded && !window) {
        // No padding, no window: a single query row needs no mask; a prefill is plain causal.
        ctx.is_causal = t > 1 && ctx.past == 0;
        if (t > 1 && ctx.past > 0) {
            auto q_idx = torch::arange(t, long_opts).unsqueeze(1) + ctx.past;      // (T, 1)
            auto k_idx = torch::arange(s, long_opts).unsqueeze(0);                 // (1, S)
            ctx.mask = (k_idx <= q_idx).view({1, 1, t, s}).expand({b, 1, t, s});
        }
        return ctx;
    }
    auto q_idx = torch::arange(t, long_opts).unsqueeze(1) + ctx.past;  // (T, 1) cache index of each query
    auto k_idx = torch::arange(s, long_opts).unsqueeze(0);             // (1, S)
    auto causal = (k_idx <= q_idx).view({1, 1, t, s});
    auto diag = (k_idx == q_idx).view({1, 1, t, s});
    torch::Tensor keys = padded ? attention_mask.to(torch::kBool).view({b, 1, 1, s})
                                : torch::ones({b, 1, 1, s}, torch::TensorOptions().dtype(torch::kBool).device(dev));
    // A query always sees itself: a padding query would otherwise have no key at all and its
    // softmax would be NaN, which then leaks through matmuls even though the row is ignored.
    ctx.mask = causal.logical_and(keys).logical_or(diag);
    if (window) {
        // Mistral: query i sees key j when i - j < sliding_window (cache index differences equal
        // position differences, since a row's padding is all on the left).
        auto in_window = (k_idx > q_idx - config.sliding_window).view({1, 1, t, s});
        ctx.window_mask = ctx.mask.logical_and(in_window);
    }
    return ctx;
}

// ---------------------------------------------------------------------------------------------
// Attention

namespace {
// k, v: (B, Hkv, S, D) -> (B, H, S, D)
torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep) {
    if (n_rep == 1) return x;
    auto sizes = x.sizes();
    return x.unsqueeze(2).expand({sizes[0], sizes[1], n_rep, sizes[2], sizes[3]})
        .reshape({sizes[0], sizes[1] * n_rep, sizes[2], sizes[3]});
}
}  // namespace

torch::Tensor attention_math(const torch::Tensor& q, const torch::Tensor& k_in, const torch::Tensor& v_in,
                             const torch::Tensor& mask, bool is_causal) {
    int64_t n_rep = q.size(1) / k_in.size(1);
    auto k = repeat_kv(k_in, n_rep), v = repeat_kv(v_in, n_rep);
    double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
    auto scores = torch::matmul(q, k.transpose(-2, -1)).to(torch::kFloat32) * scale;  // (B, H, T, S)
    torch::Tensor m = mask;
    if (!m.defined() && is_causal) {
        int64_t t = q.size(2), s = k.size(2);
        m = torch::ones({t, s}, torch::TensorOptions().dtype(torch::kBool).device(q.device())).tril(s - t);
    }
    if (m.defined()) scores = scores.masked_fill(m.logical_not(), -std::numeric_limits<float>::infinity());
    auto probs = torch::softmax(scores, -1).to(q.scalar_type());
    return torch::matmul(probs, v);
}

namespace {
// The one SDPA call. q: (B, Hq, T, D); k, v: (B, Hq, S, D) (same head count); mask broadcastable
// to (B, Hq, T, S), true = attend.
torch::Tensor sdpa(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                   const torch::Tensor& mask, bool is_causal) {
    c10::optional<at::Tensor> m;
    if (mask.defined()) m = mask;
    // Picks flash / memory-efficient kernels on CUDA; the scale defaults to 1/sqrt(D).
    return at::scaled_dot_product_attention(q, k, v, m, /*dropout_p=*/0.0, /*is_causal=*/is_causal && !mask.defined());
}
}  // namespace

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k_in, const torch::Tensor& v_in,
                        const torch::Tensor& mask, bool is_causal) {
    const int64_t n_rep = q.size(1) / k_in.size(1);
    if (q.size(2) == 1 && (mask.defined() || !is_causal)) {
        // Decoding one token. With grouped-query attention the n_rep query heads of a group
        // become n_rep query rows against that group's keys, (B, Hkv, n_rep, D) x (B, Hkv, S, D),
        // so the cache is read in place: repeat_kv would copy all of K and V, 2 x (B, H, S, D),
        // in every layer at every step (at batch 16 as many bytes as the weights). A decode mask
        // (B, 1, 1, S) broadcasts over the rows; the softmax is row-wise, so nothing else changes.
        const int64_t b = q.size(0), h_kv = k_in.size(1), d = q.size(3);
        auto qg = q.reshape({b, h_kv, n_rep, d});  // (B, Hkv, n_rep, D), a view
        auto y = sdpa(qg, k_in, v_in, mask, false);
        return y.reshape({b, h_kv * n_rep, 1, d});  // (B, H, 1, D)
    }
    return sdpa(q, repeat_kv(k_in, n_rep), repeat_kv(v_in, n_rep), mask, is_causal);
}

}  // namespace rlhf::model
