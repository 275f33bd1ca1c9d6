// Word diff and win-rate arithmetic, against hand-worked cases.
#include <QTest>

#include "ui/win_rate.h"
#include "ui/word_diff.h"

using rlhf::ui::DiffToken;

namespace {
QString side(const QVector<DiffToken>& d, bool a) {
    QString s;
    for (const DiffToken& t : d) {
        if (t.op == DiffToken::Op::Same || (a && t.op == DiffToken::Op::Removed) || (!a && t.op == DiffToken::Op::Added)) s += t.text;
    }
    return s;
}
QString ops(const QVector<DiffToken>& d) {
    QStringList parts;
    for (const DiffToken& t : d) {
        const char* tag = t.op == DiffToken::Op::Same ? "=" : t.op == DiffToken::Op::Removed ? "-" : "+";
        parts << QString::fromLatin1(tag) + t.text;
    }
    return parts.join(QLatin1Char('|'));
}
}  // namespace

class DiffWinRateTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void tokenizeKeepsEveryCharacter() {
        const QString text = QStringLiteral("Hello, wörld!  2+2=4 😀 end");
        const auto tokens = rlhf::ui::diffTokenize(text);
        QCOMPARE(tokens.join(QString()), text);
        // "Hello" "," " " "wörld" "!" "  " "2" "+" "2" "=" "4" " " "😀" " " "end"
        QCOMPARE(tokens.size(), 15);
        QCOMPARE(tokens[3], QStringLiteral("wörld"));
        QCOMPARE(tokens[12], QStringLiteral("😀"));
    }

    void diffOfOneChangedWord() {
        const auto d = rlhf::ui::wordDiff(QStringLiteral("the cat sat"), QStringLiteral("the dog sat"));
        QCOMPARE(ops(d), QStringLiteral("=the |-cat|+dog|= sat"));
    }

    void diffWithInsertionAndDeletion() {
        // LCS of [a, ,b, ,c, ,d] and [a, ,c, ,d, ,e]: "a c d" — b removed, e added.
        const auto d = rlhf::ui::wordDiff(QStringLiteral("a b c d"), QStringLiteral("a c d e"));
        QCOMPARE(side(d, true), QStringLiteral("a b c d"));
        QCOMPARE(side(d, false), QStringLiteral("a c d e"));
        int removedWords = 0, addedWords = 0;
        for (const DiffToken& t : d) {
            if (t.op == DiffToken::Op::Removed && t.text.trimmed() == QStringLiteral("b")) ++removedWords;
            if (t.op == DiffToken::Op::Added && t.text.trimmed() == QStringLiteral("e")) ++addedWords;
        }
        QCOMPARE(removedWords, 1);
        QCOMPARE(addedWords, 1);
    }

    void identicalAndEmpty() {
        QCOMPARE(ops(rlhf::ui::wordDiff(QStringLiteral("same text"), QStringLiteral("same text"))),
                 QStringLiteral("=same text"));
        QCOMPARE(ops(rlhf::ui::wordDiff(QString(), QStringLiteral("new"))), QStringLiteral("+new"));
        QCOMPARE(ops(rlhf::ui::wordDiff(QStringLiteral("old"), QString())), QStringLiteral("-old"));
    }

    void hugeMiddleFallsBackButStaysExact() {
        QString a, b;
        for (int i = 0; i < 3000; ++i) {
            a += QStringLiteral("x%1 ").arg(i);
            b += QStringLiteral("y%1 ").arg(i);
        }
        const auto d = rlhf::ui::wordDiff(QStringLiteral("start ") + a, QStringLiteral("start ") + b);
        QCOMPARE(side(d, true), QStringLiteral("start ") + a);
        QCOMPARE(side(d, false), QStringLiteral("start ") + b);
    }

    void htmlEscapesAndMarks() {
        const auto d = rlhf::ui::wordDiff(QStringLiteral("<b> old"), QStringLiteral("<b> new"));
        const QString a = rlhf::ui::diffHtml(d, true);
        QVERIFY(a.contains(QStringLiteral("&lt;b&gt;")));
        QVERIFY(a.contains(QStringLiteral(">old</span>")));
        QVERIFY(!a.contains(QStringLiteral("new")));
    }

    void wilsonInterval() {
        // 8 wins of 10: p = 0.8, z = 1.96, z² = 3.8416. denom = 1 + 0.38416 = 1.38416,
        // center = (0.8 + 0.19208) / 1.38416 = 0.716738, half = 1.96·sqrt(0.016 + 0.009604)/1.38416
        // = 1.96·0.160012/1.38416 = 0.226581 -> [0.490157, 0.943319] (textbook: [0.490, 0.943]).
        rlhf::ui::WinRate w;
        w.wins = 8;
        w.losses = 2;
        rlhf::ui::computeWinRate(w, 1.96);
        QCOMPARE(w.rate, 0.8);
        QVERIFY(qAbs(w.low - 0.490157) < 1e-5);
        QVERIFY(qAbs(w.high - 0.943319) < 1e-5);
        // Ties count half: 3 wins, 1 loss, 2 ties -> (3 + 1) / 6.
        rlhf::ui::WinRate t;
        t.wins = 3;
        t.losses = 1;
        t.ties = 2;
        rlhf::ui::computeWinRate(t);
        QVERIFY(qAbs(t.rate - 4.0 / 6.0) < 1e-12);
        QVERIFY(t.low < t.rate && t.rate < t.high);
        // All wins: the interval stays inside [0, 1] and below 1 at the low end (Wilson, not Wald).
        rlhf::ui::WinRate all;
        all.wins = 5;
        rlhf::ui::computeWinRate(all);
        QCOMPARE(all.rate, 1.0);
        QCOMPARE(all.high, 1.0);
        QVERIFY(all.low > 0.5 && all.low < 1.0);
        rlhf::ui::WinRate none;
        rlhf::ui::computeWinRate(none);
        QCOMPARE(none.low, 0.0);
        QCOMPARE(none.high, 1.0);
    }
};

QTEST_APPLESS_MAIN(DiffWinRateTest)
#include "test_diff_winrate.moc"
