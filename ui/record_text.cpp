#include "ui/record_text.h"

#include <QStringList>

namespace rlhf::ui {

QString messagesText(const data::Messages& messages) {
    QStringList parts;
    for (const data::Message& m : messages) {
        const QString content = QString::fromStdString(m.content);
        parts << (m.role.empty() ? content : QStringLiteral("%1: %2").arg(QString::fromStdString(m.role), content));
    }
    return parts.join(QStringLiteral("\n\n"));
}

QString oneLine(const QString& text, int maxChars) {
    QString s = text.left(maxChars + 1);
    s.replace(QLatin1Char('\n'), QStringLiteral(" ⏎ "));
    s.replace(QLatin1Char('\t'), QLatin1Char(' '));
    if (s.size() > maxChars) s = s.left(maxChars - 1) + QStringLiteral("…");
    return s;
}

}  // namespace rlhf::ui
