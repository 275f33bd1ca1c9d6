#include "ui/win_rate.h"

#include <QDir>
#include <QFileInfo>

#include <cmath>

namespace rlhf::ui {

void computeWinRate(WinRate& w, double z) {
    const double n = w.n();
    if (n <= 0) {
        w.rate = 0.5;
        w.low = 0;
        w.high = 1;
        return;
    }
    const double p = (w.wins + 0.5 * w.ties) / n;
    const double z2 = z * z;
    const double denom = 1 + z2 / n;
    const double center = (p + z2 / (2 * n)) / denom;
    const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom;
    w.rate = p;
    w.low = std::max(0.0, center - half);
    w.high = std::min(1.0, center + half);
}

QString formatWinRate(const WinRate& w) {
    return QStringLiteral("%1 over %2: %3% [%4%, %5%] (n = %6)")
        .arg(w.modelX, w.modelY)
        .arg(100 * w.rate, 0, 'f', 1)
        .arg(100 * w.low, 0, 'f', 1)
        .arg(100 * w.high, 0, 'f', 1)
        .arg(w.n());
}

bool isMachineAnnotator(const QString& name) { return name.startsWith(QStringLiteral("simulated:")); }

QString modelDisplayName(const QString& model, const QString& projectDir) {
    if (!QDir::isAbsolutePath(model)) return model;
    if (!projectDir.isEmpty()) {
        // `rlhf pairs` stores canonical folders; the project may have been opened through a link.
        const QString canonical = QFileInfo(projectDir).canonicalFilePath();
        const QString root = QDir::cleanPath(canonical.isEmpty() ? QFileInfo(projectDir).absoluteFilePath() : canonical);
        const QString clean = QDir::cleanPath(model);
        if (clean.startsWith(root + QLatin1Char('/'))) return clean.mid(root.size() + 1);
    }
    const QStringList parts = QDir::cleanPath(model).split(QLatin1Char('/'), Qt::SkipEmptyParts);
    return parts.size() <= 2 ? model : parts.mid(parts.size() - 2).join(QLatin1Char('/'));
}

}  // namespace rlhf::ui
