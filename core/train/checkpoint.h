// Crash-safe checkpoint directories. A checkpoint is written into
// <dir>/.tmp-step-N/, every file fsynced, then manifest.json (sha256 and size of every file)
// is written last, the directory fsynced and renamed to <dir>/step-N, and <dir> fsynced. So a
// directory named step-N is always complete; a kill at any moment leaves at worst a .tmp-* or
// .trash-* directory that the next writer removes. Readers still verify the manifest, which also
// catches later corruption (bit rot, a truncated copy).
//
// Layout of step-N: model.safetensors (module parameters and buffers by name), optimizer.pt
// (torch::serialize of the optimizer), trainer_state.json (step, RNG states, data cursor, KL
// coefficient, ...), manifest.json.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace rlhf::train {

constexpr const char* kManifestName = "manifest.json";
constexpr int kCheckpointFormatVersion = 1;

// Builds one checkpoint. Files are written (and fsynced) as they are added.
class CheckpointWriter {
public:
    // Creates <dir>/.tmp-step-<step> (removing leftovers of killed writers first).
    CheckpointWriter(std::string dir, int64_t step);
    ~CheckpointWriter();  // not committed -> the temporary directory is removed
    CheckpointWriter(const CheckpointWriter&) = delete;
    CheckpointWriter& operator=(const CheckpointWriter&) = delete;

    void add_file(const std::string& name, const std::string& bytes);
    // Tensors (any device, contiguous or not) as one safetensors file, names kept.
    void add_tensors(const std::string& name, const std::vector<std::pair<std::string, torch::Tensor>>& tensors);
    // Writes the manifest, renames to step-N and deletes all but the newest keep_last
    // checkpoints (0 = keep all). Returns the final directory.
    std::string commit(int64_t keep_last);

private:
    std::string dir_, tmp_, final_;
    int64_t step_;
    std::vector<std::string> files_;
    bool committed_ = false;
};

struct CheckpointInfo {
    int64_t step = 0;
    std::string path;  // <dir>/step-N
};

// step-N directories under dir, oldest first (not verified).
std::vector<CheckpointInfo> list_checkpoints(const std::string& dir);
// Checks manifest.json and the size and sha256 of every file it lists. why: the first problem.
bool verify_checkpoint(const std::string& path, std::string* why = nullptr);
// The newest checkpoint that verifies; nullopt when none does.
std::optional<CheckpointInfo> latest_valid_checkpoint(const std::string& dir);

// Reads a safetensors file of a checkpoint into CPU tensors (copies, so the file can go).
std::map<std::string, torch::Tensor> read_checkpoint_tensors(const std::string& path);
// Reads a whole file of a checkpoint.
std::string read_checkpoint_file(const std::string& path);

}  // namespace rlhf::train
