// Hugging Face model folder (config.json, model.safetensors or a sharded index, tokenizer.json,
// tokenizer_config.json) -> one GGUF v3 file that llama.cpp (and the tools built on it: LM Studio,
// Ollama, node-llama-cpp) loads. No LibTorch: the weights are read zero-copy from safetensors and
// converted one tensor at a time.
//
// Architectures (model_type -> general.architecture): gpt2 -> gpt2; llama, mistral -> llama;
// qwen2 -> qwen2; qwen3 -> qwen3. Names and layouts follow llama.cpp's convert_hf_to_gguf.py:
//  - llama.cpp's LLAMA graph applies RoPE to adjacent pairs (x0,x1),(x2,x3)... whereas HF rotates
//    halves (x_i, x_{i+D/2}), so the q/k projection rows of llama/mistral are permuted per head
//    (permute_rope_rows); qwen2/qwen3 run NEOX-style RoPE in llama.cpp and are not permuted.
//  - GPT-2's Conv1D weights are stored (in, out) by HF and transposed to (out, in).
//  - Tied embeddings write no output.weight (llama.cpp reuses token_embd.weight).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/gguf/gguf_file.h"

namespace rlhf::gguf {

struct ConvertOptions {
    std::string model_dir;                // HF folder to read
    std::string out_path;                 // .gguf file to write (atomically)
    TensorType dtype = TensorType::F32;   // type of the 2-D weight matrices; norms, biases and
                                          // rope factors stay F32 as llama.cpp's converter keeps them
    std::string name;                     // general.name; "" = the folder's name
    bool permute_qk = true;               // llama/mistral q/k row permutation (tests turn it off
                                          // to show the llama.cpp comparison catches the bug)
};

struct ConvertResult {
    std::string architecture;           // general.architecture written
    int64_t tensor_count = 0;           // tensors written
    uint64_t file_bytes = 0;            // size of the .gguf
    std::vector<std::string> warnings;  // what llama.cpp will do differently (sliding window, ...)
};

// Throws rlhf::Error naming the file and field/tensor at fault (unsupported model_type, missing
// or misshapen tensor, tokenizer we cannot express).
ConvertResult convert_hf_to_gguf(const ConvertOptions& options);

// "f32" | "f16" | "bf16" (also "float32", "float16", "bfloat16") -> TensorType; rlhf::UsageError otherwise.
TensorType parse_tensor_type(const std::string& name);

// HF rotate-half row order -> interleaved pairs, per head: w is (rows, cols) row-major with
// rows = heads * D; row h*D + 2j + i of the result is row h*D + i*(D/2) + j of the input
// (i in {0, 1}, j < D/2). Same as convert_hf_to_gguf.py's LlamaModel.permute. Biases: cols = 1.
std::vector<float> permute_rope_rows(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads);

// Llama 3 RoPE scaling as per-frequency divisors (tensor rope_freqs.weight, D/2 floats): 1 for
// short wavelengths, `factor` for long ones, a smooth blend between (Meta's llama3 scaling).
std::vector<float> llama3_rope_factors(double theta, int64_t head_dim, double factor, double low_freq_factor,
                                       double high_freq_factor, int64_t original_context);

}  // namespace rlhf::gguf
