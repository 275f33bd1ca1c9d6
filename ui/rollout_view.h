// RolloutView — the rollouts behind one step of a PPO/GRPO run (issue 6 item 4): each sample's
// prompt, reward and response, with every response token's background shaded by its KL to the
// reference (log p_policy − log p_ref) or, toggled, by its advantage, and a tooltip with the
// token's numbers. This is what lets a user see which tokens caused a spike in a plot.
//
// The per-token data come from the sample's extra_json as the trainer stores it:
//   {"tokens":[piece strings], "kl":[...], "advantage":[...], "logprob":[...], "ref_logprob":[...],
//    "value":[...]}
// equal-length arrays over the response tokens; any may be missing (then that shading is off for
// the sample); a sample without "tokens" shows its plain response text.
#pragma once
#include <QColor>
#include <QString>
#include <QTextBrowser>
#include <QVector>
#include <QWidget>

#include <functional>
#include <optional>
#include <vector>

class QComboBox;
class QLabel;

namespace rlhf::store {
struct Sample;
}

namespace rlhf::ui {

// A read-only text view whose tooltips come from a function of the document position (one
// tooltip per token, without an anchor per token).
class TokenTextView : public QTextBrowser {
public:
    using QTextBrowser::QTextBrowser;
    std::function<QString(int)> tooltipFor;

protected:
    bool viewportEvent(QEvent* event) override;
};

// One response token and its numbers (nullopt where the array was missing or too short).
struct RolloutToken {
    QString piece;                  // as stored (byte-level markers Ġ/Ċ/▁ are shown as space/newline)
    std::optional<double> kl, advantage, logprob, refLogprob, value;
};

struct RolloutSample {
    qint64 step = 0;
    QString prompt, response;
    std::optional<double> reward;
    QVector<RolloutToken> tokens;  // empty: no token data, show `response` as plain text
};

// Reads a store sample; malformed extra_json gives a sample without tokens (never throws).
RolloutSample rolloutFromSample(const store::Sample& sample);

enum class ShadeBy { Kl, Advantage };

// The background of a token. t = min(|value| / scale, 1) blends white (255,255,255) towards the
// target colour per channel: c = round(255 + t * (target − 255)).
//   KL:        value ≥ 0 → kKlPositive (the policy likes the token more than the reference),
//              value < 0 → kKlNegative;
//   Advantage: value < 0 → kAdvantageNegative (red), value ≥ 0 → kAdvantagePositive (green).
// scale ≤ 0 or a missing value gives white (no shading).
inline const QColor kKlPositive{255, 140, 0};
inline const QColor kKlNegative{70, 130, 230};
inline const QColor kAdvantageNegative{220, 40, 40};
inline const QColor kAdvantagePositive{40, 170, 60};
QColor shadeColor(ShadeBy by, std::optional<double> value, double scale);

// The step's scale: max |value| over every token of every sample (0 when none has the value).
double shadeScale(ShadeBy by, const QVector<RolloutSample>& samples);

// "kl 0.123 · adv −0.5 · logp −2.3 · ref −2.4 · value 0.1" with only the numbers present.
QString tokenTooltip(const RolloutToken& token);

// The display form of a token piece: GPT-2 byte-level 'Ġ' → ' ', 'Ċ' → '\n', SentencePiece '▁' → ' '.
QString displayPiece(const QString& piece);

class RolloutView : public QWidget {
    Q_OBJECT
public:
    // Where a token sits in the document (for tooltips, and for tests that check its colour).
    struct TokenSpan {
        int sample = 0, token = 0;
        int start = 0, end = 0;  // document positions [start, end)
    };

    explicit RolloutView(QWidget* parent = nullptr);

    void setSamples(const QString& title, qint64 step, const QVector<RolloutSample>& samples);
    void setShadeBy(ShadeBy by);
    ShadeBy shadeBy() const { return shadeBy_; }
    qint64 step() const { return step_; }
    const QVector<RolloutSample>& samples() const { return samples_; }
    const QVector<TokenSpan>& spans() const { return spans_; }
    double scale() const { return scale_; }
    TokenTextView* textView() const { return text_; }
    QComboBox* shadeBox() const { return shadeBox_; }
    // The tooltip at a document position ("" outside tokens).
    QString tooltipAt(int position) const;

private:
    void render();

    QLabel* title_;
    QLabel* legend_;
    QComboBox* shadeBox_;
    TokenTextView* text_;
    QVector<RolloutSample> samples_;
    QVector<TokenSpan> spans_;
    ShadeBy shadeBy_ = ShadeBy::Kl;
    qint64 step_ = -1;
    double scale_ = 0;
};

}  // namespace rlhf::ui
