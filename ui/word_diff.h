// Word-level diff of two responses for the detail view: which words the chosen and the rejected
// answers share and where they differ. Tokens are runs of word characters, runs of whitespace, or
// single other characters, so concatenating a side's tokens gives its text back exactly.
#pragma once
#include <QString>
#include <QVector>

namespace rlhf::ui {

struct DiffToken {
    enum class Op { Same, Removed, Added };  // Removed: only in `a`; Added: only in `b`
    Op op = Op::Same;
    QString text;
};

QVector<QString> diffTokenize(const QString& text);

// Longest-common-subsequence diff over tokens. Common prefix and suffix are matched first; past
// kMaxDiffCells LCS cells (≈ 2000 × 2000 tokens of differing middle) the middle is reported as
// removed-then-added instead of spending seconds on it.
constexpr qint64 kMaxDiffCells = 4'000'000;
QVector<DiffToken> wordDiff(const QString& a, const QString& b);

// The diff as HTML for one side: 'a' shows Same + Removed (highlighted), 'b' Same + Added.
QString diffHtml(const QVector<DiffToken>& diff, bool sideA);

}  // namespace rlhf::ui
