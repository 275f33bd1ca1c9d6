// The demo's corpus generator and lexicon judge. Expected judgements are counted by hand from
// the word lists in core/demo/reviews.cpp.
#include <QtTest>

#include <set>

#include "core/demo/reviews.h"

using namespace rlhf::demo;

class ReviewsTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void judgeHandCounted_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("pos");
        QTest::addColumn<int>("neg");
        // "great" +1, "sturdy" +1                                     -> 2 / 0
        QTest::newRow("two positive") << QStringLiteral("The lamp is great, and STURDY!") << 2 << 0;
        // "not great": negation flips the positive word               -> 0 / 1
        QTest::newRow("negated") << QStringLiteral("It is not great.") << 0 << 1;
        // "never" then "awful": negatives are not flipped (emphasis)   -> 0 / 1
        QTest::newRow("never again") << QStringLiteral("Never again, awful handle.") << 0 << 1;
        // window of two words: "not really that good" flips nothing beyond 2 words -> "good" +1
        QTest::newRow("window") << QStringLiteral("not really that good") << 1 << 0;
        // "not very good": within two words                             -> 0 / 1
        QTest::newRow("within window") << QStringLiteral("not very good") << 0 << 1;
        QTest::newRow("no words") << QStringLiteral("The kettle arrived on Tuesday.") << 0 << 0;
        // "love" +1, "broken" -1, "cheap" -1                           -> 1 / 2
        QTest::newRow("mixed") << QStringLiteral("I love it but the lid is broken and cheap") << 1 << 2;
    }
    void judgeHandCounted() {
        QFETCH(QString, text);
        QFETCH(int, pos);
        QFETCH(int, neg);
        Judgement j = judge_sentiment(text.toStdString());
        QCOMPARE(j.positive_hits, pos);
        QCOMPARE(j.negative_hits, neg);
    }

    void preferenceFollowsScore() {
        QCOMPARE(judge_preference("It is great.", "It is awful."), 1);
        QCOMPARE(judge_preference("It is awful.", "It is great."), -1);
        QCOMPARE(judge_preference("It is fine.", "It arrived."), 0);
    }

    void corpusIsDeterministic() {
        CorpusOptions o;
        o.reviews = 500;
        auto a = generate_reviews(o), b = generate_reviews(o);
        QCOMPARE(a.size(), size_t(500));
        for (size_t i = 0; i < a.size(); ++i) QCOMPARE(a[i].text, b[i].text);
        o.seed = 99;
        auto c = generate_reviews(o);
        size_t same = 0;
        for (size_t i = 0; i < a.size(); ++i) same += a[i].text == c[i].text;
        QVERIFY(same < 50);
    }

    void judgeAgreesWithGeneratorLabels() {
        CorpusOptions o;
        o.reviews = 4000;
        size_t pos = 0, neg = 0, mixed = 0, agree = 0, polar = 0;
        for (const auto& r : generate_reviews(o)) {
            if (r.sentiment == Sentiment::Mixed) { ++mixed; continue; }
            ++polar;
            bool judged_positive = judge_sentiment(r.text).is_positive();
            (r.sentiment == Sentiment::Positive ? pos : neg) += 1;
            agree += judged_positive == (r.sentiment == Sentiment::Positive);
        }
        // Every sentiment word the generator writes is in the lexicon and none is negated, so
        // the judge must agree on every polar review.
        QCOMPARE(agree, polar);
        // The mix asked for: 40% positive, 40% negative, 20% mixed (±3 points on 4,000).
        QVERIFY(std::abs(double(pos) / 4000 - 0.4) < 0.03);
        QVERIFY(std::abs(double(neg) / 4000 - 0.4) < 0.03);
        QVERIFY(std::abs(double(mixed) / 4000 - 0.2) < 0.03);
    }

    void heldOutPromptsUseOtherProducts() {
        auto train = generate_prompts(7, 300, false), held = generate_prompts(7, 300, true);
        std::set<std::string> a(train.begin(), train.end()), b(held.begin(), held.end());
        for (const auto& p : b) QVERIFY2(!a.count(p), p.c_str());
        QVERIFY(a.size() > 20);
        QVERIFY(b.size() > 20);
    }
};

QTEST_APPLESS_MAIN(ReviewsTest)
#include "test_reviews.moc"
