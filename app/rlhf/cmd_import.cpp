// rlhf import FILE --project DIR … — a dataset file into a project (DESIGN.md §6). Prints one JSON
// summary: detected format, counts, per-reason skips, the first issues as "file:line: reason",
// inserted vs duplicates (a re-import of the same file inserts nothing).
#include <cstdio>

#include "app/rlhf/cli.h"
#include "core/data/import.h"
#include "core/io/error.h"
#include "core/store/import_file.h"
#include "core/store/project.h"

namespace {

int run_import(rlhf::cli::Args& args) {
    std::string dir = args.require("project");
    rlhf::data::ImportOptions options;
    options.format = args.get("format", "auto");
    std::string as = args.get("as", "");
    std::string dataset = args.get("dataset", "");
    options.strip_html = args.flag("strip-html");
    options.normalize_whitespace = args.flag("normalize-whitespace");
    options.drop_identical_pairs = !args.flag("keep-identical");
    std::string file = args.positional(1, 1)[0];
    args.finish();

    if (options.format != "auto") {
        bool known = false;
        for (const auto& n : rlhf::data::import_format_names()) known = known || n == options.format;
        if (!known) {
            std::string names;
            for (const auto& n : rlhf::data::import_format_names()) names += " " + n;
            throw rlhf::UsageError("rlhf import: unknown --format '" + options.format + "' (auto" + names + ")");
        }
    }
    if (as == "sft") options.as = rlhf::data::RecordKind::Sft;
    else if (as == "preference") options.as = rlhf::data::RecordKind::Preference;
    else if (as == "prompts") options.as = rlhf::data::RecordKind::Prompt;
    else if (!as.empty()) throw rlhf::UsageError("rlhf import: --as must be sft, preference or prompts, got '" + as + "'");

    rlhf::store::Project project = rlhf::store::Project::open(dir);
    rlhf::store::ProjectImport result = rlhf::store::import_file_into(project, file, dataset, options);
    std::printf("%s\n", rlhf::store::import_summary_json(result).dump(2).c_str());
    return 0;
}

}  // namespace

RLHF_CLI_COMMAND(import,
                 "rlhf import FILE --project DIR [--format auto|NAME] [--as sft|preference|prompts] [--dataset NAME] "
                 "[--strip-html] [--normalize-whitespace] [--keep-identical]",
                 "Import a dataset file (JSON/JSONL/CSV/TSV, gzip) into a project; prints a JSON summary.",
                 run_import);
