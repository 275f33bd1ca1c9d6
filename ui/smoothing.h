// Exponential moving average as TensorBoard draws it: debiased, so the first points are not pulled
// towards zero. weight w in [0, 1): m_i = w·m_{i-1} + (1-w)·x_i with m_{-1} = 0, shown as
// m_i / (1 - w^(i+1)). w = 0 is the raw series.
#pragma once
#include <vector>

namespace rlhf::ui {

// Incremental form: one state per series, fed point by point as data arrives.
class Ema {
public:
    explicit Ema(double weight = 0) : weight_(weight) {}
    double add(double x);  // returns the smoothed value at x; non-finite x passes through unsmoothed
    void reset() { last_ = 0; debias_ = 1; }
    double weight() const { return weight_; }

private:
    double weight_;
    double last_ = 0;
    double debias_ = 1;  // w^(i+1) after point i
};

std::vector<double> emaSmooth(const std::vector<double>& values, double weight);

}  // namespace rlhf::ui
