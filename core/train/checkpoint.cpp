// Atomic checkpoint directories; see checkpoint.h for the protocol and the layout.
#include "core/train/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/io/safetensors.h"
#include "core/io/sha256.h"

namespace fs = std::filesystem;

namespace rlhf::train {

namespace {

constexpr const char* kStepPrefix = "step-";
constexpr const char* kTmpPrefix = ".tmp-step-";
constexpr const char* kTrashPrefix = ".trash-step-";

// "step-12" -> 12; anything else -> -1.
int64_t parse_step_name(const std::string& name) {
    const std::string prefix = kStepPrefix;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
    int64_t v = 0;
    for (size_t i = prefix.size(); i < name.size(); ++i) {
        if (name[i] < '0' || name[i] > '9' || v > (int64_t(1) << 50)) return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

// Removes a directory tree without ever leaving a half-deleted step-N: rename it away first.
void remove_checkpoint_dir(const std::string& dir, const fs::path& path) {
    std::error_code ec;
    fs::path trash = fs::path(dir) / (std::string(kTrashPrefix) + path.filename().string().substr(std::strlen(kStepPrefix)));
    fs::remove_all(trash, ec);
    fs::rename(path, trash, ec);
    if (ec) throw Error(path.string() + ": cannot move away an old checkpoint: " + ec.message());
    io::fsync_path(dir);
    fs::remove_all(trash, ec);
}

// Leftovers of killed writers: temporary and half-deleted directories.
void remove_leftovers(const std::string& dir) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(kTmpPrefix, 0) == 0 || name.rfind(kTrashPrefix, 0) == 0) fs::remove_all(entry.path(), ec);
    }
}

io::DType to_io_dtype(torch::ScalarType t, const std::string& name) {
    switch (t) {
    case torch::kFloat32: return io::DType::F32;
    case torch::kFloat64: return io::DType::F64;
    case torch::kFloat16: return io::DType::F16;
    case torch::kBFloat16: return io::DType::BF16;
    case torch::kInt64: return io::DType::I64;
    case torch::kInt32: return io::DType::I32;
    case torch::kInt16: return io::DType::I16;
    case torch::kInt8: return io::DType::I8;
    case torch::kUInt8: return io::DType::U8;
    case torch::kBool: return io::DType::BOOL;
    default: break;
    }
    throw Error("checkpoint: tensor '" + name + "': dtype not storable in safetensors");
}

torch::ScalarType to_torch_dtype(io::DType d, const std::string& path, const std::string& name) {
    switch (d) {
    case io::DType::F32: return torch::kFloat32;
    case io::DType::F64: return torch::kFloat64;
    case io::DType::F16: return torch::kFloat16;
    case io::DType::BF16: return torch::kBFloat16;
    case io::DType::I64: return torch::kInt64;
    case io::DType::I32: return torch::kInt32;
    case io::DType::I16: return torch::kInt16;
    case io::DType::I8: return torch::kInt8;
    case io::DType::U8: return torch::kUInt8;
    case io::DType::BOOL: return torch::kBool;
    default: break;
    }
    throw Error(path + ": tensor '" + name + "': dtype " + io::dtype_name(d) + " is not loadable");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writing

CheckpointWriter::CheckpointWriter(std::string dir, int64_t step) : dir_(std::move(dir)), step_(step) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw Error(dir_ + ": cannot create checkpoint directory: " + ec.message());
    remove_leftovers(dir_);
    tmp_ = (fs::path(dir_) / (kTmpPrefix + std::to_string(step))).string();
    final_ = (fs::path(dir_) / (kStepPrefix + std::to_string(step))).string();
    fs::create_directory(tmp_, ec);
    if (ec) throw Error(tmp_ + ": cannot create: " + ec.message());
}

CheckpointWriter::~CheckpointWriter() {
    if (!committed_) {
        std::error_code ec;
        fs::remove_all(tmp_, ec);
    }
}

void CheckpointWriter::add_file(const std::string& name, const std::string& bytes) {
    io::write_file_atomic((fs::path(tmp_) / name).string(), bytes);  // fsyncs file and directory
    files_.push_back(name);
}

void CheckpointWriter::add_tensors(const std::string& name,
                                   const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
    std::vector<torch::Tensor> keep;  // contiguous CPU copies alive until the write is done
    std::vector<io::TensorToWrite> out;
    keep.reserve(tensors.size());
    out.reserve(tensors.size());
    for (const auto& [tname, t] : tensors) {
        keep.push_back(t.detach().to(torch::kCPU).contiguous());
        const auto& c = keep.back();
        out.push_back(io::TensorToWrite{tname, to_io_dtype(c.scalar_type(), tname),
                                        std::vector<int64_t>(c.sizes().begin(), c.sizes().end()), c.data_ptr(),
                                        static_cast<size_t>(c.numel()) * c.element_size()});
    }
    io::write_safetensors((fs::path(tmp_) / name).string(), out);
    files_.push_back(name);
}

std::string CheckpointWriter::commit(int64_t keep_last) {
    nlohmann::json manifest;
    manifest["format"] = "rlhf-checkpoint";
    manifest["version"] = kCheckpointFormatVersion;
    manifest["step"] = step_;
    nlohmann::json files = nlohmann::json::object();
    for (const auto& name : files_) {
        const std::string path = (fs::path(tmp_) / name).string();
        files[name] = {{"sha256", io::sha256_file_hex(path)}, {"bytes", static_cast<uint64_t>(fs::file_size(path))}};
    }
    manifest["files"] = files;
    // The manifest is written last: a directory without a valid one is never trusted.
    io::write_file_atomic((fs::path(tmp_) / kManifestName).string(), manifest.dump(2) + "\n");
    io::fsync_path(tmp_);
    std::error_code ec;
    if (fs::exists(final_)) remove_checkpoint_dir(dir_, final_);  // re-saving a step after a resume
    fs::rename(tmp_, final_, ec);
    if (ec) throw Error(final_ + ": cannot rename the finished checkpoint into place: " + ec.message());
    io::fsync_path(dir_);
    committed_ = true;
    if (keep_last > 0) {
        auto all = list_checkpoints(dir_);
        for (size_t i = 0; i + static_cast<size_t>(keep_last) < all.size(); ++i)
            if (all[i].step != step_) remove_checkpoint_dir(dir_, all[i].path);
    }
    return final_;
}

// ---------------------------------------------------------------------------------------------
// Reading

std::vector<CheckpointInfo> list_checkpoints(const std::string& dir) {
    std::vector<CheckpointInfo> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        int64_t step = parse_step_name(entry.path().filename().string());
        if (step >= 0 && entry.is_directory(ec)) out.push_back(CheckpointInfo{step, entry.path().string()});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
    return out;
}

bool verify_checkpoint(const std::string& path, std::string* why) {
    auto fail = [&](const std::string& w) {
        if (why) *why = path + ": " + w;
        return false;
    };
    const std::string manifest_path = (fs::path(path) / kManifestName).string();
    std::error_code ec;
    if (!fs::exists(manifest_path, ec)) return fail("no manifest.json");
    nlohmann::json manifest;
    try {
        manifest = nlohmann::json::parse(io::read_file(manifest_path));
        if (manifest.at("format") != "rlhf-checkpoint") return fail("manifest.json: not an rlhf checkpoint");
        if (manifest.at("version").get<int>() != kCheckpointFormatVersion)
            return fail("manifest.json: unsupported version");
        int64_t step = parse_step_name(fs::path(path).filename().string());
        if (step >= 0 && manifest.at("step").get<int64_t>() != step)
            return fail("manifest.json: step does not match the directory name");
        for (const auto& [name, info] : manifest.at("files").items()) {
            const std::string file = (fs::path(path) / name).string();
            if (!fs::exists(file, ec)) return fail(name + ": missing");
            if (fs::file_size(file, ec) != info.at("bytes").get<uint64_t>()) return fail(name + ": size differs from the manifest");
            if (io::sha256_file_hex(file) != info.at("sha256").get<std::string>()) return fail(name + ": sha256 differs from the manifest");
        }
    } catch (const std::exception& e) {
        return fail(std::string("manifest.json: ") + e.what());
    }
    return true;
}

std::optional<CheckpointInfo> latest_valid_checkpoint(const std::string& dir) {
    auto all = list_checkpoints(dir);
    for (auto it = all.rbegin(); it != all.rend(); ++it)
        if (verify_checkpoint(it->path)) return *it;
    return std::nullopt;
}

std::map<std::string, torch::Tensor> read_checkpoint_tensors(const std::string& path) {
    auto file = io::SafetensorsFile::open(path);
    std::map<std::string, torch::Tensor> out;
    for (const auto& view : file.tensors()) {
        auto dtype = to_torch_dtype(view.dtype, path, view.name);
        auto t = torch::empty(view.shape, torch::TensorOptions().dtype(dtype));
        if (view.nbytes) std::memcpy(t.data_ptr(), view.data, view.nbytes);
        out.emplace(view.name, t);
    }
    return out;
}

std::string read_checkpoint_file(const std::string& path) { return io::read_file(path); }

}  // namespace rlhf::train
