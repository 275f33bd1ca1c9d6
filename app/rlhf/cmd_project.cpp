// rlhf project info|backup|check --project DIR — look after a project folder.
//   info    JSON: schema version, datasets (rows, duplicates), runs, label counts
//   backup  online copy of project.sqlite (sqlite3_backup) to one self-contained file
//   check   PRAGMA integrity_check; exit 1 unless "ok"
#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/rlhf/cli.h"
#include "core/io/error.h"
#include "core/store/project.h"

namespace {

rlhf::store::Project open_existing(const std::string& dir) {
    rlhf::store::OpenOptions o;
    o.create = false;  // a typo in --project must not create an empty project
    return rlhf::store::Project::open(dir, o);
}

int run_project(rlhf::cli::Args& args) {
    std::string dir = args.require("project");
    std::vector<std::string> pos = args.positional(1, 2);
    args.finish();
    const std::string& what = pos[0];
    if (what == "backup") {
        if (pos.size() != 2) throw rlhf::UsageError("rlhf project backup: name the output file (OUT.sqlite)");
        rlhf::store::Project p = open_existing(dir);
        p.backup(pos[1]);
        std::printf("%s\n", nlohmann::json({{"backup", pos[1]}, {"from", p.database_path()}}).dump().c_str());
        return 0;
    }
    if (pos.size() != 1) throw rlhf::UsageError("rlhf project " + what + ": unexpected argument '" + pos[1] + "'");
    if (what == "check") {
        rlhf::store::Project p = open_existing(dir);
        std::string result = p.integrity_check();
        std::printf("%s\n", result.c_str());
        if (result != "ok") throw rlhf::Error(p.database_path() + ": integrity check failed");
        return 0;
    }
    if (what == "info") {
        rlhf::store::Project p = open_existing(dir);
        nlohmann::json datasets = nlohmann::json::array(), runs = nlohmann::json::array();
        for (const auto& d : p.datasets())
            datasets.push_back({{"name", d.name}, {"records", d.records}, {"duplicates", d.duplicates},
                                {"source", d.source}});
        for (const auto& r : p.runs())
            runs.push_back({{"id", r.id}, {"kind", r.kind}, {"name", r.name},
                            {"status", rlhf::store::run_status_name(r.status)}});
        nlohmann::json out = {{"project", p.dir()},
                              {"schema_version", p.schema_version()},
                              {"datasets", datasets},
                              {"runs", runs},
                              {"labels_in_force", p.labels_in_force().size()},
                              {"label_history", p.label_history().size()}};
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    throw rlhf::UsageError("rlhf project: unknown action '" + what + "' (info, backup, check)");
}

}  // namespace

RLHF_CLI_COMMAND(project, "rlhf project info|check|backup --project DIR [OUT.sqlite]",
                 "Show, check or back up (online, sqlite3_backup) a project.", run_project);
