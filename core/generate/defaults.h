// Generation defaults a model folder carries: generation_config.json's eos ids, pad id and
// sampling settings (do_sample, temperature, top_k, top_p, min_p, repetition_penalty,
// max_new_tokens), falling back to config.json. The CLI and the GUI start from these and then
// apply what the user set.
#pragma once
#include <string>

#include "core/generate/generate.h"
#include "core/model/config.h"

namespace rlhf::generate {

GenerateOptions options_from_model_dir(const std::string& dir, const model::ModelConfig& config);

}  // namespace rlhf::generate
