// Internal to core/store: the state behind a Project, shared by the project_*.cpp files.
#pragma once
#include <string>

#include "core/store/project.h"
#include "core/store/sqlite.h"

namespace rlhf::store {

struct Project::Impl {
    std::string dir;
    OpenOptions options;
    Db db;
};

// The prompt turns of a record: a preference pair's or prompt's prompt, an SFT example's turns
// before its final assistant reply.
data::Messages record_prompt_messages(const data::Record& r);

}  // namespace rlhf::store
