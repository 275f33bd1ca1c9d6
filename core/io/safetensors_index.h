// Checkpoints split over several safetensors files, in the Hugging Face layout:
//   model.safetensors.index.json = {"metadata": {"total_size": <bytes>},
//                                   "weight_map": {"<tensor name>": "model-00001-of-00002.safetensors", ...}}
// next to the shard files. A small model is one model.safetensors and no index; SafetensorsIndex
// presents both the same way: one set of named, zero-copy tensors.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"

namespace rlhf::io {

class SafetensorsIndex {
public:
    // Reads and validates the index, opens (mmaps) and validates every shard it names, and checks
    // that the index and the shards agree: every listed tensor is in the shard it maps to, and
    // every tensor of a shard is listed and mapped to that shard (so no tensor is in two shards).
    // Shard names must be relative paths without ".." (an index must not reach outside its dir).
    static SafetensorsIndex open(const std::string& index_path);
    // One plain safetensors file as a one-shard checkpoint.
    static SafetensorsIndex open_single(const std::string& safetensors_path);
    // A model folder: <dir>/<prefix>.safetensors.index.json when it exists, else
    // <dir>/<prefix>.safetensors; rlhf::Error naming the folder when neither does.
    static SafetensorsIndex open_dir(const std::string& dir, const std::string& prefix = "model");

    const std::string& path() const { return path_; }  // the index file, or the single file
    bool sharded() const { return sharded_; }          // opened from an index
    const std::vector<SafetensorsFile>& shards() const { return shards_; }
    const std::vector<std::string>& shard_names() const { return shard_names_; }  // as in the index, sorted
    size_t size() const { return shard_of_.size(); }  // number of tensors
    std::vector<std::string> tensor_names() const;  // sorted
    const TensorView* find(const std::string& name) const;  // nullptr if absent
    const TensorView& at(const std::string& name) const;    // throws naming the tensor and the index
    // Owner of the mapping that holds `name` (for zero-copy tensors that outlive this object).
    std::shared_ptr<const void> keepalive(const std::string& name) const;
    // The index's "metadata" object (e.g. {"total_size": N}); empty object for a single file.
    const nlohmann::json& index_metadata() const { return index_metadata_; }
    // __metadata__ of the first shard (transformers writes {"format": "pt"} in every shard).
    const std::map<std::string, std::string>& metadata() const;

private:
    std::string path_;
    bool sharded_ = false;
    std::vector<std::string> shard_names_;
    std::vector<SafetensorsFile> shards_;
    std::map<std::string, size_t> shard_of_;  // tensor name -> index into shards_
    nlohmann::json index_metadata_ = nlohmann::json::object();
};

// Saves tensors the way transformers' save_pretrained does: <dir>/<prefix>.safetensors when
// the total fits in max_shard_bytes, else <prefix>-00001-of-0000N.safetensors shards filled in
// the given order (a tensor larger than the limit gets a shard of its own) plus
// <prefix>.safetensors.index.json (keys sorted, indent 2, total_size = sum of tensor bytes).
// Every file is written atomically, shards before the index; afterwards stale files of an older
// save with a different layout (<prefix>.safetensors, an index, <prefix>-*-of-*.safetensors not
// written now) are removed so open_dir cannot mix two saves. `metadata` goes into every shard.
// Returns the names written, relative to dir, the index (if any) last.
std::vector<std::string> write_safetensors_sharded(const std::string& dir, const std::vector<TensorToWrite>& tensors,
                                                   uint64_t max_shard_bytes,
                                                   const std::map<std::string, std::string>& metadata = {},
                                                   const std::string& prefix = "model");

}  // namespace rlhf::io
