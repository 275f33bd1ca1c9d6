#include "ui/word_diff.h"

#include <algorithm>
#include <vector>

namespace rlhf::ui {

QVector<QString> diffTokenize(const QString& text) {
    QVector<QString> tokens;
    int i = 0;
    const int n = int(text.size());
    while (i < n) {
        const QChar c = text[i];
        int j = i + 1;
        if (c.isLetterOrNumber() || c == QLatin1Char('_')) {
            while (j < n && (text[j].isLetterOrNumber() || text[j] == QLatin1Char('_'))) ++j;
        } else if (c.isSpace()) {
            while (j < n && text[j].isSpace()) ++j;
        } else if (c.isHighSurrogate() && j < n && text[j].isLowSurrogate()) {
            ++j;  // keep an astral character (emoji) whole
        }
        tokens.push_back(text.mid(i, j - i));
        i = j;
    }
    return tokens;
}

static void push(QVector<DiffToken>& out, DiffToken::Op op, const QString& text) {
    // Merge neighbours with the same op: fewer, longer spans read better and render faster.
    if (!out.isEmpty() && out.last().op == op) {
        out.last().text += text;
    } else {
        out.push_back(DiffToken{op, text});
    }
}

QVector<DiffToken> wordDiff(const QString& a, const QString& b) {
    const QVector<QString> x = diffTokenize(a), y = diffTokenize(b);
    int prefix = 0;
    while (prefix < x.size() && prefix < y.size() && x[prefix] == y[prefix]) ++prefix;
    int suffix = 0;
    while (suffix < x.size() - prefix && suffix < y.size() - prefix &&
           x[x.size() - 1 - suffix] == y[y.size() - 1 - suffix]) {
        ++suffix;
    }
    QVector<DiffToken> out;
    for (int i = 0; i < prefix; ++i) push(out, DiffToken::Op::Same, x[i]);
    const int n = int(x.size()) - prefix - suffix, m = int(y.size()) - prefix - suffix;
    if (qint64(n + 1) * (m + 1) > kMaxDiffCells) {
        for (int i = 0; i < n; ++i) push(out, DiffToken::Op::Removed, x[prefix + i]);
        for (int j = 0; j < m; ++j) push(out, DiffToken::Op::Added, y[prefix + j]);
    } else {
        // lcs[i][j] = LCS length of x[prefix+i..] and y[prefix+j..] (suffix table, walked forward).
        std::vector<int> lcs(size_t(n + 1) * size_t(m + 1), 0);
        auto at = [&](int i, int j) -> int& { return lcs[size_t(i) * size_t(m + 1) + size_t(j)]; };
        for (int i = n - 1; i >= 0; --i) {
            for (int j = m - 1; j >= 0; --j) {
                at(i, j) = x[prefix + i] == y[prefix + j] ? at(i + 1, j + 1) + 1
                                                          : std::max(at(i + 1, j), at(i, j + 1));
            }
        }
        int i = 0, j = 0;
        while (i < n && j < m) {
            if (x[prefix + i] == y[prefix + j]) {
                push(out, DiffToken::Op::Same, x[prefix + i]);
                ++i;
                ++j;
            } else if (at(i + 1, j) >= at(i, j + 1)) {
                push(out, DiffToken::Op::Removed, x[prefix + i++]);
            } else {
                push(out, DiffToken::Op::Added, y[prefix + j++]);
            }
        }
        while (i < n) push(out, DiffToken::Op::Removed, x[prefix + i++]);
        while (j < m) push(out, DiffToken::Op::Added, y[prefix + j++]);
    }
    for (int k = int(x.size()) - suffix; k < x.size(); ++k) push(out, DiffToken::Op::Same, x[k]);
    return out;
}

QString diffHtml(const QVector<DiffToken>& diff, bool sideA) {
    QString html = QStringLiteral("<div style=\"white-space: pre-wrap\">");
    for (const DiffToken& t : diff) {
        if (t.op == DiffToken::Op::Same) {
            html += t.text.toHtmlEscaped();
        } else if (sideA && t.op == DiffToken::Op::Removed) {
            html += QStringLiteral("<span style=\"background-color:#f4c7c3\">%1</span>").arg(t.text.toHtmlEscaped());
        } else if (!sideA && t.op == DiffToken::Op::Added) {
            html += QStringLiteral("<span style=\"background-color:#c6efce\">%1</span>").arg(t.text.toHtmlEscaped());
        }
    }
    html += QStringLiteral("</div>");
    return html;
}

}  // namespace rlhf::ui
