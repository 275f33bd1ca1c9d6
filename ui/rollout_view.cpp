#include "ui/rollout_view.h"

#include <QComboBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QTextCursor>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "core/store/types.h"

namespace rlhf::ui {

// ---------------------------------------------------------------------------------------------
// Data

namespace {
std::optional<double> numberAt(const QJsonObject& o, const char* key, int i) {
    const QJsonArray a = o.value(QLatin1String(key)).toArray();
    if (i >= a.size() || !a.at(i).isDouble()) return std::nullopt;
    return a.at(i).toDouble();
}

std::optional<double> valueOf(ShadeBy by, const RolloutToken& t) {
    return by == ShadeBy::Kl ? t.kl : t.advantage;
}
}  // namespace

RolloutSample rolloutFromSample(const store::Sample& s) {
    RolloutSample out;
    out.step = s.step;
    out.prompt = QString::fromStdString(s.prompt);
    out.response = QString::fromStdString(s.response);
    out.reward = s.reward;
    const QJsonObject extra = QJsonDocument::fromJson(QByteArray::fromStdString(s.extra_json)).object();
    const QJsonArray tokens = extra.value(QStringLiteral("tokens")).toArray();
    for (int i = 0; i < tokens.size(); ++i) {
        RolloutToken t;
        t.piece = tokens.at(i).toString();
        t.kl = numberAt(extra, "kl", i);
        t.advantage = numberAt(extra, "advantage", i);
        t.logprob = numberAt(extra, "logprob", i);
        t.refLogprob = numberAt(extra, "ref_logprob", i);
        t.value = numberAt(extra, "value", i);
        out.tokens.push_back(t);
    }
    return out;
}

QColor shadeColor(ShadeBy by, std::optional<double> value, double scale) {
    if (!value || !std::isfinite(*value) || !(scale > 0)) return QColor(255, 255, 255);
    const double t = std::min(std::abs(*value) / scale, 1.0);
    const QColor target = by == ShadeBy::Kl ? (*value >= 0 ? kKlPositive : kKlNegative)
                                            : (*value < 0 ? kAdvantageNegative : kAdvantagePositive);
    auto blend = [t](int channel) { return int(std::lround(255.0 + t * (channel - 255.0))); };
    return QColor(blend(target.red()), blend(target.green()), blend(target.blue()));
}

double shadeScale(ShadeBy by, const QVector<RolloutSample>& samples) {
    double scale = 0;
    for (const RolloutSample& s : samples) {
        for (const RolloutToken& t : s.tokens) {
            const auto v = valueOf(by, t);
            if (v && std::isfinite(*v)) scale = std::max(scale, std::abs(*v));
        }
    }
    return scale;
}

QString tokenTooltip(const RolloutToken& t) {
    QStringList parts{QStringLiteral("“%1”").arg(displayPiece(t.piece).toHtmlEscaped())};
    auto add = [&parts](const QString& name, const std::optional<double>& v) {
        if (v) parts << QStringLiteral("%1 %2").arg(name, QString::number(*v, 'g', 4));
    };
    add(QStringLiteral("kl"), t.kl);
    add(QStringLiteral("advantage"), t.advantage);
    add(QStringLiteral("logprob"), t.logprob);
    add(QStringLiteral("ref_logprob"), t.refLogprob);
    add(QStringLiteral("value"), t.value);
    return parts.join(QStringLiteral(" · "));
}

QString displayPiece(const QString& piece) {
    QString out = piece;
    out.replace(QChar(0x0120), QLatin1Char(' '));   // Ġ: GPT-2 byte-level space
    out.replace(QChar(0x010A), QLatin1Char('\n'));  // Ċ: GPT-2 byte-level newline
    out.replace(QChar(0x2581), QLatin1Char(' '));   // ▁: SentencePiece space
    return out;
}

// ---------------------------------------------------------------------------------------------
// Widgets

bool TokenTextView::viewportEvent(QEvent* event) {
    if (event->type() == QEvent::ToolTip && tooltipFor) {
        auto* help = static_cast<QHelpEvent*>(event);
        const QString tip = tooltipFor(cursorForPosition(help->pos()).position());
        if (tip.isEmpty()) {
            QToolTip::hideText();
        } else {
            QToolTip::showText(help->globalPos(), tip, viewport());
        }
        return true;
    }
    return QTextBrowser::viewportEvent(event);
}

RolloutView::RolloutView(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("rolloutView"));
    title_ = new QLabel(this);
    title_->setObjectName(QStringLiteral("rolloutTitle"));
    QFont bold = title_->font();
    bold.setBold(true);
    title_->setFont(bold);
    shadeBox_ = new QComboBox(this);
    shadeBox_->setObjectName(QStringLiteral("shadeBox"));
    shadeBox_->addItem(tr("Shade by KL to reference"));
    shadeBox_->addItem(tr("Shade by advantage"));
    legend_ = new QLabel(this);
    legend_->setObjectName(QStringLiteral("rolloutLegend"));
    legend_->setWordWrap(true);
    text_ = new TokenTextView(this);
    text_->setObjectName(QStringLiteral("rolloutText"));
    text_->setOpenLinks(false);
    text_->tooltipFor = [this](int position) { return tooltipAt(position); };

    auto* top = new QHBoxLayout;
    top->addWidget(title_, 1);
    top->addWidget(shadeBox_);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(legend_);
    layout->addWidget(text_, 1);
    connect(shadeBox_, &QComboBox::currentIndexChanged, this,
            [this](int index) { setShadeBy(index == 1 ? ShadeBy::Advantage : ShadeBy::Kl); });
}

void RolloutView::setSamples(const QString& title, qint64 step, const QVector<RolloutSample>& samples) {
    samples_ = samples;
    step_ = step;
    title_->setText(QStringLiteral("%1 · step %2 · %3 sample(s)").arg(title).arg(step).arg(samples.size()));
    render();
}

void RolloutView::setShadeBy(ShadeBy by) {
    if (by == shadeBy_) return;
    shadeBy_ = by;
    const QSignalBlocker block(shadeBox_);
    shadeBox_->setCurrentIndex(by == ShadeBy::Advantage ? 1 : 0);
    render();
}

QString RolloutView::tooltipAt(int position) const {
    for (const TokenSpan& span : spans_) {
        if (position >= span.start && position < span.end) return tokenTooltip(samples_[span.sample].tokens[span.token]);
    }
    return QString();
}

void RolloutView::render() {
    scale_ = shadeScale(shadeBy_, samples_);
    spans_.clear();
    const bool kl = shadeBy_ == ShadeBy::Kl;
    if (scale_ > 0) {
        legend_->setText(kl ? tr("Token background: KL to the reference (log p_policy − log p_ref); orange = the policy "
                                 "prefers the token more than the reference, blue = less; full colour at |kl| = %1.")
                                  .arg(scale_, 0, 'g', 3)
                            : tr("Token background: advantage; green = positive, red = negative; full colour at "
                                 "|advantage| = %1.").arg(scale_, 0, 'g', 3));
    } else {
        // Logged but zero everywhere (e.g. KL at step 1, before the policy has moved off the
        // reference) reads differently from not logged at all.
        bool logged = false;
        for (const RolloutSample& s : samples_)
            for (const RolloutToken& t : s.tokens) logged = logged || valueOf(shadeBy_, t).has_value();
        if (logged) {
            legend_->setText(kl ? tr("KL to the reference is 0 on every token of this step (the policy still equals the reference).")
                                : tr("The advantage is 0 on every token of this step."));
        } else {
            legend_->setText(kl ? tr("No per-token KL was logged for this step.")
                                : tr("No per-token advantage was logged for this step."));
        }
    }
    QTextDocument* doc = text_->document();
    doc->clear();
    QTextCursor cursor(doc);
    QTextCharFormat plain;
    QTextCharFormat heading;
    heading.setFontWeight(QFont::Bold);
    QTextCharFormat muted;
    muted.setForeground(palette().color(QPalette::PlaceholderText));
    for (int i = 0; i < samples_.size(); ++i) {
        const RolloutSample& s = samples_[i];
        if (i > 0) cursor.insertBlock();
        cursor.insertText(s.reward ? tr("Sample %1 · reward %2").arg(i + 1).arg(*s.reward, 0, 'g', 4)
                                   : tr("Sample %1").arg(i + 1),
                          heading);
        cursor.insertBlock();
        cursor.insertText(tr("Prompt: "), muted);
        cursor.insertText(s.prompt, plain);
        cursor.insertBlock();
        cursor.insertText(tr("Response: "), muted);
        if (s.tokens.isEmpty()) {
            cursor.insertText(s.response, plain);
        } else {
            for (int j = 0; j < s.tokens.size(); ++j) {
                const RolloutToken& t = s.tokens[j];
                QTextCharFormat f;
                const auto v = valueOf(shadeBy_, t);
                if (v && scale_ > 0) {
                    f.setBackground(shadeColor(shadeBy_, v, scale_));
                    f.setForeground(QColor(0, 0, 0));  // dark text on the light shades, in dark palettes too
                }
                const int start = cursor.position();
                cursor.insertText(displayPiece(t.piece), f);
                spans_.push_back({i, j, start, cursor.position()});
            }
        }
        cursor.insertBlock();
    }
    text_->moveCursor(QTextCursor::Start);
}

}  // namespace rlhf::ui
