// Sharded safetensors checkpoints (see safetensors_index.h). The index is trusted for nothing: it
// may not name files outside its folder, and it has to agree tensor by tensor with the shards.
#include "core/io/safetensors_index.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/io/json_io.h"

namespace rlhf::io {

namespace {

std::string q(const std::string& s) { return "'" + s + "'"; }

bool is_regular_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string dir_of(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A shard name must stay inside the index's folder: relative, no ".." component, no NUL.
void check_shard_name(const std::string& name, const std::string& tensor, const std::string& index_path) {
    const std::string where = index_path + ": weight_map[" + q(tensor) + "] = " + q(name) + ": ";
    if (name.empty()) throw Error(where + "empty shard file name");
    if (name.find('\0') != std::string::npos) throw Error(where + "shard file name contains a NUL byte");
    if (name[0] == '/') throw Error(where + "absolute shard path; shards must be relative to the index's folder");
    size_t start = 0;
    while (start <= name.size()) {
        const size_t slash = std::min(name.find('/', start), name.size());
        if (name.compare(start, slash - start, "..") == 0 && slash - start == 2) {
            throw Error(where + "'..' in a shard path; shards must stay inside the index's folder");
        }
        start = slash + 1;
    }
}

// "<prefix>-00001-of-00003.safetensors" (transformers' shard names: 5-digit, zero-padded).
bool is_shard_name(const std::string& file, const std::string& prefix) {
    const std::string head = prefix + "-", tail = ".safetensors";
    if (file.size() <= head.size() + tail.size() || file.compare(0, head.size(), head) != 0 ||
        file.compare(file.size() - tail.size(), tail.size(), tail) != 0) {
        return false;
    }
    const std::string mid = file.substr(head.size(), file.size() - head.size() - tail.size());
    const size_t of = mid.find("-of-");
    if (of == std::string::npos || of == 0 || of + 4 >= mid.size()) return false;
    for (size_t i = 0; i < mid.size(); ++i) {
        if ((i < of || i >= of + 4) && (mid[i] < '0' || mid[i] > '9')) return false;
    }
    return true;
}

std::string shard_file_name(const std::string& prefix, size_t i, size_t n) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "-%05zu-of-%05zu.safetensors", i, n);
    return prefix + buf;
}

void remove_file(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        throw Error(path + ": cannot remove stale checkpoint file: " + std::strerror(errno));
    }
}

}  // namespace

SafetensorsIndex SafetensorsIndex::open(const std::string& index_path) {
    const nlohmann::json index = parse_json_unique_keys(read_file(index_path), index_path);
    if (!index.is_object()) throw Error(index_path + ": not a JSON object");
    SafetensorsIndex out;
    out.path_ = index_path;
    out.sharded_ = true;
    if (index.contains("metadata")) {
        const nlohmann::json& meta = index["metadata"];
        if (!meta.is_object()) throw Error(index_path + ": \"metadata\" is not a JSON object");
        if (meta.contains("total_size") && !meta["total_size"].is_number_unsigned() &&
            !(meta["total_size"].is_number_integer() && meta["total_size"].get<int64_t>() >= 0)) {
            throw Error(index_path + ": metadata.total_size is not a non-negative integer");
        }
        out.index_metadata_ = meta;
    }
    if (!index.contains("weight_map")) throw Error(index_path + ": missing \"weight_map\"");
    const nlohmann::json& weight_map = index["weight_map"];
    if (!weight_map.is_object()) throw Error(index_path + ": \"weight_map\" is not a JSON object");

    std::map<std::string, std::string> mapping;  // tensor -> shard name
    std::set<std::string> names;
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
        if (!it.value().is_string()) {
            throw Error(index_path + ": weight_map[" + q(it.key()) + "] is not a string (expected a shard file name)");
        }
        const std::string shard = it.value().get<std::string>();
        check_shard_name(shard, it.key(), index_path);
        mapping[it.key()] = shard;
        names.insert(shard);
    }

    const std::string dir = dir_of(index_path);
    for (const std::string& name : names) {
        const std::string shard_path = dir + "/" + name;
        if (!is_regular_file(shard_path)) {
            throw Error(index_path + ": shard " + q(name) + " named in weight_map does not exist (" + shard_path + ")");
        }
        out.shard_names_.push_back(name);
        out.shards_.push_back(SafetensorsFile::open(shard_path));  // errors name the shard's path
    }
    // Each tensor of each shard must be listed, and listed for that shard: a tensor stored in two
    // shards fails here for the shard the map does not point to.
    for (size_t i = 0; i < out.shards_.size(); ++i) {
        for (const TensorView& t : out.shards_[i].tensors()) {
            const auto m = mapping.find(t.name);
            if (m == mapping.end()) {
                throw Error(index_path + ": tensor " + q(t.name) + " in shard " + q(out.shard_names_[i]) +
                            " is not listed in weight_map");
            }
            if (m->second != out.shard_names_[i]) {
                throw Error(index_path + ": tensor " + q(t.name) + " is in shard " + q(out.shard_names_[i]) +
                            " but weight_map maps it to " + q(m->second));
            }
            out.shard_of_[t.name] = i;
        }
    }
    for (const auto& [tensor, shard] : mapping) {
        if (!out.shard_of_.count(tensor)) {
            throw Error(index_path + ": tensor " + q(tensor) + " is mapped to shard " + q(shard) +
                        " but that shard does not contain it");
        }
    }
    return out;
}

SafetensorsIndex SafetensorsIndex::open_single(const std::string& safetensors_path) {
    SafetensorsIndex out;
    out.path_ = safetensors_path;
    out.shards_.push_back(SafetensorsFile::open(safetensors_path));
    out.shard_names_.push_back(base_of(safetensors_path));
    for (const TensorView& t : out.shards_[0].tensors()) out.shard_of_[t.name] = 0;
    return out;
}

SafetensorsIndex SafetensorsIndex::open_dir(const std::string& dir, const std::string& prefix) {
    const std::string index_path = dir + "/" + prefix + ".safetensors.index.json";
    if (is_regular_file(index_path)) return open(index_path);
    const std::string single = dir + "/" + prefix + ".safetensors";
    if (is_regular_file(single)) return open_single(single);
    throw Error(dir + ": no " + prefix + ".safetensors or " + prefix + ".safetensors.index.json");
}

std::vector<std::string> SafetensorsIndex::tensor_names() const {
    std::vector<std::string> names;
    names.reserve(shard_of_.size());
    for (const auto& [name, shard] : shard_of_) names.push_back(name);
    return names;
}

const TensorView* SafetensorsIndex::find(const std::string& name) const {
    const auto it = shard_of_.find(name);
    return it == shard_of_.end() ? nullptr : shards_[it->second].find(name);
}

const TensorView& SafetensorsIndex::at(const std::string& name) const {
    const TensorView* t = find(name);
    if (!t) throw Error(path_ + ": no tensor named " + q(name));
    return *t;
}

std::shared_ptr<const void> SafetensorsIndex::keepalive(const std::string& name) const {
    const auto it = shard_of_.find(name);
    if (it == shard_of_.end()) throw Error(path_ + ": no tensor named " + q(name));
    return shards_[it->second].keepalive();
}

const std::map<std::string, std::string>& SafetensorsIndex::metadata() const {
    static const std::map<std::string, std::string> kEmpty;
    return shards_.empty() ? kEmpty : shards_[0].metadata();
}

std::vector<std::string> write_safetensors_sharded(const std::string& dir, const std::vector<TensorToWrite>& tensors,
                                                   uint64_t max_shard_bytes,
                                                   const std::map<std::string, std::string>& metadata,
                                                   const std::string& prefix) {
    if (max_shard_bytes == 0) throw Error(dir + ": max_shard_bytes must be positive");
    std::set<std::string> seen;
    uint64_t total = 0;
    for (const TensorToWrite& t : tensors) {
        if (!seen.insert(t.name).second) throw Error(dir + ": tensor " + q(t.name) + " given twice");
        total += t.nbytes;
    }
    // Greedy in the given order, as transformers' shard_checkpoint does.
    std::vector<std::vector<TensorToWrite>> groups(1);
    uint64_t group_bytes = 0;
    for (const TensorToWrite& t : tensors) {
        if (!groups.back().empty() && group_bytes + t.nbytes > max_shard_bytes) {
            groups.emplace_back();
            group_bytes = 0;
        }
        groups.back().push_back(t);
        group_bytes += t.nbytes;
    }

    const std::string index_name = prefix + ".safetensors.index.json";
    const std::string single_name = prefix + ".safetensors";
    std::vector<std::string> written;
    if (groups.size() == 1) {
        write_safetensors(dir + "/" + single_name, groups[0], metadata);
        written.push_back(single_name);
    } else {
        nlohmann::json weight_map = nlohmann::json::object();
        for (size_t i = 0; i < groups.size(); ++i) {
            const std::string name = shard_file_name(prefix, i + 1, groups.size());
            write_safetensors(dir + "/" + name, groups[i], metadata);
            written.push_back(name);
            for (const TensorToWrite& t : groups[i]) weight_map[t.name] = name;
        }
        // transformers: json.dumps(index, indent=2, sort_keys=True) + "\n"; nlohmann objects are
        // sorted maps, so dump(2) gives the same layout.
        const nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
        write_file_atomic(dir + "/" + index_name, index.dump(2) + "\n");
        written.push_back(index_name);
    }

    // Remove what an older save with another layout left, now that the new one is complete.
    const std::set<std::string> keep(written.begin(), written.end());
    std::vector<std::string> stale;
    if (!keep.count(index_name)) stale.push_back(index_name);
    if (!keep.count(single_name)) stale.push_back(single_name);
    if (DIR* d = ::opendir(dir.c_str())) {
        while (const dirent* e = ::readdir(d)) {
            const std::string file = e->d_name;
            if (is_shard_name(file, prefix) && !keep.count(file)) stale.push_back(file);
        }
        ::closedir(d);
    }
    for (const std::string& file : stale) remove_file(dir + "/" + file);
    if (!stale.empty()) fsync_path(dir);
    return written;
}

}  // namespace rlhf::io
