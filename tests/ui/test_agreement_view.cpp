// The labeling panel's annotator-agreement line: two people label the same 10 comparisons (one
// also labels an 11th alone; a machine pre-labeller labels them all and must not appear), and the
// panel reports the pair with the shared count, percent agreement and Cohen's kappa worked out by
// hand below.
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "core/data/records.h"
#include "core/store/project.h"
#include "ui/engine.h"
#include "ui/labeling_panel.h"

using namespace rlhf;
using namespace rlhf::ui;

class AgreementViewTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void agreementLineMatchesHandComputedKappa() {
        QTemporaryDir tmp;
        const QString dir = tmp.filePath(QStringLiteral("project"));
        {
            store::Project p = store::Project::open(dir.toStdString());
            const int64_t ds = p.dataset("prompts");
            data::Record r;
            r.kind = data::RecordKind::Prompt;
            r.prompt.prompt = {{"user", "Write a review."}};
            p.add_records(ds, {r});
            store::RowQuery q;
            q.dataset_id = ds;
            const int64_t prompt = p.rows(q).rows.at(0).id;
            std::vector<int64_t> comparisons;
            for (int i = 0; i < 11; ++i) {
                store::Completion a, b;
                a.prompt_id = b.prompt_id = prompt;
                a.text = "A" + std::to_string(i);
                b.text = "B" + std::to_string(i);
                a.model = "m1";
                b.model = "m2";
                comparisons.push_back(p.create_comparison(prompt, p.add_completion(a), p.add_completion(b), true));
            }
            using store::Choice;
            // alice: A A A A B B B tie tie both_bad | A (alone)
            // bob:   A A A B B B tie tie A both_bad
            // Agreements on the 10 shared: items 0,1,2,4,5,7,9 -> 7 of 10 = 70%.
            // Marginals over {A, B, tie, both_bad}: alice (4,3,2,1), bob (4,3,2,1) /10.
            // Chance p_e = .16 + .09 + .04 + .01 = 0.30; kappa = (0.7 - 0.3) / (1 - 0.3) = 0.571.
            const Choice kAlice[] = {Choice::A, Choice::A, Choice::A, Choice::A, Choice::B, Choice::B,
                                     Choice::B, Choice::Tie, Choice::Tie, Choice::BothBad, Choice::A};
            const Choice kBob[] = {Choice::A, Choice::A, Choice::A, Choice::B, Choice::B,
                                   Choice::B, Choice::Tie, Choice::Tie, Choice::A, Choice::BothBad};
            const int64_t alice = p.annotator("alice"), bob = p.annotator("bob");
            const int64_t judge = p.annotator("simulated:lexicon-judge");
            for (int i = 0; i < 11; ++i) {
                p.add_label({comparisons[size_t(i)], alice, kAlice[i], "", std::nullopt});
                if (i < 10) p.add_label({comparisons[size_t(i)], bob, kBob[i], "", std::nullopt});
                p.add_label({comparisons[size_t(i)], judge, Choice::A, "", std::nullopt});
            }
        }
        Engine engine;
        QString error;
        QVERIFY2(engine.openProject(dir, &error), qPrintable(error));
        LabelingPanel panel(&engine);
        panel.refreshWinRate();
        QTRY_VERIFY_WITH_TIMEOUT(!panel.agreementText().isEmpty(), 10000);
        QCOMPARE(panel.agreementText(), QStringLiteral("alice – bob: 10 shared, 70.0% agree, κ 0.571"));
    }
};

QTEST_MAIN(AgreementViewTest)
#include "test_agreement_view.moc"
