#include "core/store/types.h"

#include <array>
#include <cmath>
#include <limits>

#include "core/io/error.h"

namespace rlhf::store {

const char* choice_name(Choice c) {
    switch (c) {
        case Choice::A: return "A";
        case Choice::B: return "B";
        case Choice::Tie: return "tie";
        case Choice::BothBad: return "both_bad";
        case Choice::Skip: return "skip";
    }
    return "skip";
}

Choice choice_from_name(const std::string& name, const std::string& where) {
    if (name == "A") return Choice::A;
    if (name == "B") return Choice::B;
    if (name == "tie") return Choice::Tie;
    if (name == "both_bad") return Choice::BothBad;
    if (name == "skip") return Choice::Skip;
    throw Error(where + ": unknown label choice '" + name + "' (expected A, B, tie, both_bad or skip)");
}

const char* run_status_name(RunStatus s) {
    switch (s) {
        case RunStatus::Pending: return "pending";
        case RunStatus::Running: return "running";
        case RunStatus::Completed: return "completed";
        case RunStatus::Failed: return "failed";
        case RunStatus::Cancelled: return "cancelled";
    }
    return "pending";
}

RunStatus run_status_from_name(const std::string& name, const std::string& where) {
    for (RunStatus s : {RunStatus::Pending, RunStatus::Running, RunStatus::Completed, RunStatus::Failed,
                        RunStatus::Cancelled})
        if (name == run_status_name(s)) return s;
    throw Error(where + ": unknown run status '" + name + "'");
}

// Cohen (1960): kappa = (p_o - p_e) / (1 - p_e), p_o the observed agreement, p_e the agreement
// expected by chance from each rater's marginal category frequencies.
Agreement cohen_kappa(const std::vector<std::pair<Choice, Choice>>& pairs) {
    constexpr size_t kCategories = 4;  // A, B, tie, both_bad (skip excluded)
    std::array<double, kCategories> m1{}, m2{};
    Agreement out;
    int64_t agree = 0;
    for (const auto& [c1, c2] : pairs) {
        if (c1 == Choice::Skip || c2 == Choice::Skip) continue;
        ++out.shared;
        m1[static_cast<size_t>(c1)] += 1;
        m2[static_cast<size_t>(c2)] += 1;
        if (c1 == c2) ++agree;
    }
    if (out.shared == 0) {
        out.percent = std::numeric_limits<double>::quiet_NaN();
        out.kappa = std::numeric_limits<double>::quiet_NaN();
        return out;
    }
    double n = static_cast<double>(out.shared);
    double po = static_cast<double>(agree) / n;
    double pe = 0;
    for (size_t k = 0; k < kCategories; ++k) pe += (m1[k] / n) * (m2[k] / n);
    out.percent = 100.0 * po;
    out.kappa = pe >= 1.0 ? std::numeric_limits<double>::quiet_NaN() : (po - pe) / (1.0 - pe);
    return out;
}

}  // namespace rlhf::store
