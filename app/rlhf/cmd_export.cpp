// rlhf export — a project's data out as files other tools read (DESIGN.md §6).
//   --dataset NAME --format trl-jsonl|trl-jsonl-conversational OUT
//       the dataset's records as TRL rows (core/data's TrlJsonlWriter)
//   --labels --format trl-jsonl|trl-jsonl-conversational|csv [--keep-ties] OUT
//       human labels in force. JSONL: TRL preference pairs (chosen = the preferred completion);
//       ties and both_bad are left out unless --keep-ties (then chosen = A, rejected = B and the
//       "label" column says "tie" / "both_bad"); skips never carry a preference. Extra columns
//       (label, annotator, comparison_id, seconds) are ignored by TRL. CSV: every label in force,
//       skips included, with annotator and timing.
// All files are written atomically (temp + fsync + rename).
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/rlhf/cli.h"
#include "core/data/import.h"
#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/store/project.h"

namespace {

using rlhf::store::Choice;

std::string joined(const rlhf::data::Messages& ms) {
    std::string s;
    for (size_t i = 0; i < ms.size(); ++i) {
        if (i) s += "\n\n";
        s += ms[i].content;
    }
    return s;
}

nlohmann::json message_list(const rlhf::data::Messages& ms, const char* default_role) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& m : ms) a.push_back({{"role", m.role.empty() ? default_role : m.role}, {"content", m.content}});
    return a;
}

// RFC 4180: quote every field, double the quotes inside.
std::string csv_field(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string format_seconds(const std::optional<double>& s) {
    if (!s) return "";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", *s);
    return buf;
}

size_t export_labels_csv(rlhf::store::Project& p, const std::string& out_path) {
    rlhf::io::AtomicFileWriter out(out_path);
    out.write("label_id,comparison_id,annotator,choice,seconds,created_at,a_on_left,rationale,prompt,completion_a,"
              "completion_b\n");
    size_t n = 0;
    for (const auto& l : p.labels_in_force()) {
        std::string row = std::to_string(l.label_id) + "," + std::to_string(l.comparison_id) + "," +
                          csv_field(l.annotator) + "," + rlhf::store::choice_name(l.choice) + "," +
                          format_seconds(l.seconds) + "," + l.created_at + "," + (l.a_on_left ? "1" : "0") + "," +
                          csv_field(l.rationale) + "," + csv_field(joined(l.prompt)) + "," +
                          csv_field(l.completion_a) + "," + csv_field(l.completion_b) + "\n";
        out.write(row);
        ++n;
    }
    out.commit();
    return n;
}

size_t export_labels_jsonl(rlhf::store::Project& p, const std::string& out_path, bool conversational,
                           bool keep_ties) {
    rlhf::io::AtomicFileWriter out(out_path);
    size_t n = 0;
    for (const auto& l : p.labels_in_force()) {
        if (l.choice == Choice::Skip) continue;
        bool tie = l.choice == Choice::Tie || l.choice == Choice::BothBad;
        if (tie && !keep_ties) continue;
        const std::string& chosen = l.choice == Choice::B ? l.completion_b : l.completion_a;
        const std::string& rejected = l.choice == Choice::B ? l.completion_a : l.completion_b;
        nlohmann::json row;
        if (conversational) {
            row["prompt"] = message_list(l.prompt, "user");
            row["chosen"] = message_list({{"assistant", chosen}}, "assistant");
            row["rejected"] = message_list({{"assistant", rejected}}, "assistant");
        } else {
            row["prompt"] = joined(l.prompt);
            row["chosen"] = chosen;
            row["rejected"] = rejected;
        }
        row["label"] = rlhf::store::choice_name(l.choice);
        row["annotator"] = l.annotator;
        row["comparison_id"] = l.comparison_id;
        if (l.seconds) row["seconds"] = *l.seconds;
        out.write(row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
        ++n;
    }
    out.commit();
    return n;
}

int run_export(rlhf::cli::Args& args) {
    std::string dir = args.require("project");
    std::string format = args.require("format");
    std::string dataset = args.get("dataset", "");
    bool labels = args.flag("labels");
    bool keep_ties = args.flag("keep-ties");
    std::string out_path = args.positional(1, 1)[0];
    args.finish();
    if (labels == !dataset.empty())
        throw rlhf::UsageError("rlhf export: give exactly one of --dataset NAME or --labels");
    bool conversational = format == "trl-jsonl-conversational";
    if (format != "trl-jsonl" && !conversational && !(labels && format == "csv"))
        throw rlhf::UsageError("rlhf export: --format must be trl-jsonl or trl-jsonl-conversational" +
                               std::string(labels ? " or csv" : "") + ", got '" + format + "'");
    if (keep_ties && !labels) throw rlhf::UsageError("rlhf export: --keep-ties applies to --labels only");

    rlhf::store::OpenOptions o;
    o.create = false;
    rlhf::store::Project p = rlhf::store::Project::open(dir, o);
    size_t rows = 0;
    if (labels) {
        rows = format == "csv" ? export_labels_csv(p, out_path) : export_labels_jsonl(p, out_path, conversational, keep_ties);
    } else {
        auto d = p.find_dataset(dataset);
        if (!d) throw rlhf::Error(p.database_path() + ": export: no dataset named '" + dataset + "'");
        rlhf::data::TrlJsonlWriter w(out_path, conversational ? rlhf::data::ExportStyle::Conversational
                                                              : rlhf::data::ExportStyle::Standard);
        p.for_each_record(d->id, [&](rlhf::store::StoredRecord&& r) {
            w.write(r.record);
            ++rows;
        });
        w.commit();
    }
    std::printf("%s\n", nlohmann::json({{"out", out_path}, {"format", format}, {"rows", rows}}).dump().c_str());
    return 0;
}

}  // namespace

RLHF_CLI_COMMAND(export,
                 "rlhf export --project DIR (--dataset NAME --format trl-jsonl|trl-jsonl-conversational | --labels "
                 "--format trl-jsonl|trl-jsonl-conversational|csv [--keep-ties]) OUT",
                 "Export a dataset, or the human labels as TRL preference pairs or CSV.", run_export);
