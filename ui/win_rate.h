// Win rate of model X over model Y from pairwise labels, with a 95% Wilson score interval
// (Wilson 1927; better than the normal approximation at small n or rates near 0/1). Ties and
// "both bad" count half a win to each side; skips are left out.
#pragma once
#include <QString>

namespace rlhf::ui {

struct WinRate {
    QString modelX, modelY;
    int wins = 0, losses = 0, ties = 0;  // from X's side
    double rate = 0;                     // (wins + ties/2) / n
    double low = 0, high = 0;            // 95% Wilson interval of rate
    int n() const { return wins + losses + ties; }
};

// Fills rate/low/high from wins/losses/ties (z = 1.96). n = 0 gives rate 0.5 and [0, 1].
void computeWinRate(WinRate& w, double z = 1.959963984540054);

// "dataset:chosen over dataset:rejected: 72.0% [58.1%, 82.6%] (n = 25)"
QString formatWinRate(const WinRate& w);

// Machine annotators (the demo's simulated judge, `rlhf pairs --prelabel` rules and reward
// models) are named "simulated:..."; their labels are pre-labels, never counted as human labels.
bool isMachineAnnotator(const QString& name);

// A model as the win-rate line shows it: a folder inside the project relative to it
// ("models/sft", "runs/3/final"), another folder by its last two parts, any other name as is.
QString modelDisplayName(const QString& model, const QString& projectDir);

}  // namespace rlhf::ui
