#include "ui/smoothing.h"

#include <cmath>

namespace rlhf::ui {

double Ema::add(double x) {
    // A NaN/Inf (a diverged step) would poison every later smoothed value; show it, skip it.
    if (!std::isfinite(x)) return x;
    last_ = weight_ * last_ + (1 - weight_) * x;
    debias_ *= weight_;
    const double denom = 1 - debias_;
    return denom > 0 ? last_ / denom : x;
}

std::vector<double> emaSmooth(const std::vector<double>& values, double weight) {
    Ema ema(weight);
    std::vector<double> out;
    out.reserve(values.size());
    for (double v : values) out.push_back(ema.add(v));
    return out;
}

}  // namespace rlhf::ui
