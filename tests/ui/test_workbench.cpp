// The workbench end to end, driven by QTest events on real widgets (offscreen):
// import a file and see its rows; label 20 pairs by keyboard with one undo and find exactly those
// labels in the store; a job's points arrive in the Runs plot while the watchdog measures the event
// loop; a running job is cancelled from the status bar.
#include <QComboBox>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTableWidget>
#include <QTextBrowser>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>
#include <QTreeWidget>

#include <map>

#include "core/store/project.h"
#include "ui/dataset_model.h"
#include "ui/dataset_panel.h"
#include "ui/engine.h"
#include "ui/import_dialog.h"
#include "ui/jobs_widget.h"
#include "ui/labeling_panel.h"
#include "ui/live_plot.h"
#include "ui/main_window.h"
#include "ui/qcp.h"
#include "ui/runs_panel.h"
#include "ui/screenshots.h"
#include "ui/watchdog.h"
#include "ui/workbench.h"

using namespace rlhf::ui;

class WorkbenchTest : public QObject {
    Q_OBJECT
private:
    QTemporaryDir temp_;
    std::unique_ptr<MainWindow> window_;
    QString dataFile_;
    static constexpr int kRecords = 40;

    Engine* engine() { return window_->engine(); }
    template <class T> T* panel() { return window_->findChild<T*>(); }

    // The prompt the demo file writes for record i (see writeDemoPreferenceFile): the test's truth.
    static QString expectedPrompt(int i) {
        const char* topics[] = {"photosynthesis", "the French Revolution", "binary search", "compound interest",
                                "plate tectonics", "the TCP handshake", "vaccines", "black holes"};
        const char* styles[] = {"Explain", "Summarise", "Give an example of", "What is"};
        return QStringLiteral("%1 %2 in two sentences.").arg(QString::fromLatin1(styles[(i / 8) % 4]),
                                                             QString::fromLatin1(topics[i % 8]));
    }

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);  // QSettings of the test, not of the user
        QCoreApplication::setOrganizationName(QStringLiteral("rlhf-workbench-test"));
        QVERIFY(temp_.isValid());
        dataFile_ = temp_.filePath(QStringLiteral("pairs.jsonl"));
        QCOMPARE(writeDemoPreferenceFile(dataFile_, kRecords), kRecords + 2);
        window_ = std::make_unique<MainWindow>();
        addPanels(*window_);
        window_->resize(1200, 800);
        QVERIFY(window_->openProject(temp_.filePath(QStringLiteral("project"))));
        QVERIFY(QFileInfo::exists(temp_.filePath(QStringLiteral("project/project.sqlite"))));
        window_->show();
        QVERIFY(QTest::qWaitForWindowExposed(window_.get()));
        QCOMPARE(window_->recentProjects().value(0), temp_.filePath(QStringLiteral("project")));
    }

    void importShowsRows() {
        ImportDialog dialog(engine(), window_.get());
        dialog.setFile(dataFile_);
        QSignalSpy imported(&dialog, &ImportDialog::imported);
        QVERIFY(dialog.startImport() > 0);
        QVERIFY(imported.wait(30000));
        const auto result = imported.first().first().value<ImportResult>();
        QCOMPARE(result.recordsOk, qint64(kRecords));
        QCOMPARE(result.inserted, qint64(kRecords));
        QCOMPARE(result.recordsSkipped, qint64(2));  // the two malformed lines the file has
        QVERIFY(dialog.summaryText().contains(QStringLiteral("2 skipped")));

        auto* datasets = panel<DatasetPanel>();
        window_->tabs()->setCurrentWidget(datasets);
        DatasetModel* model = datasets->model();
        QTRY_COMPARE(model->total(), qint64(kRecords));
        QCOMPARE(model->rowCount(), kRecords);
        // The rows on screen are the file's records, in file order.
        QTRY_COMPARE(model->index(0, DatasetModel::ColPrompt).data().toString(), expectedPrompt(0));
        QTRY_COMPARE(model->index(kRecords - 1, DatasetModel::ColPrompt).data().toString(), expectedPrompt(kRecords - 1));
        // Selecting a row shows it in full with chosen/rejected differences marked.
        datasets->view()->selectRow(2);
        QTRY_COMPARE(datasets->promptPane()->toPlainText(), expectedPrompt(2));
        QVERIFY(datasets->chosenPane()->toHtml().contains(QStringLiteral("background-color:#f4c7c3")));
        // Search through the box: records i with i % 8 == 0 are about photosynthesis (0, 8, ..., 32).
        QTest::keyClicks(datasets->searchBox(), QStringLiteral("photosynthesis"));
        QTest::keyClick(datasets->searchBox(), Qt::Key_Return);
        QTRY_COMPARE(model->total(), qint64(kRecords / 8));
        QTRY_COMPARE(model->index(1, DatasetModel::ColPrompt).data().toString(), expectedPrompt(8));
        datasets->searchBox()->clear();
        QTest::keyClick(datasets->searchBox(), Qt::Key_Return);
        QTRY_COMPARE(model->total(), qint64(kRecords));
    }

    void labelTwentyPairsByKeyboardWithOneUndo() {
        auto* datasets = panel<DatasetPanel>();
        const qint64 datasetId = datasets->model()->datasetId();
        QVERIFY(datasetId > 0);
        const int job = engine()->startComparisonsFromDataset(datasetId, 25, 11);
        QSignalSpy ended(engine(), &Engine::jobEnded);
        QTRY_VERIFY(!engine()->isRunning(job));

        auto* labeling = panel<LabelingPanel>();
        window_->tabs()->setCurrentWidget(labeling);
        labeling->setAnnotator(QStringLiteral("keyboard-tester"));
        QTRY_VERIFY(labeling->current().has_value());
        labeling->setFocus();
        QTRY_VERIFY(labeling->hasFocus());

        // An independent connection reads which side each comparison put on the left.
        rlhf::store::Project check = rlhf::store::Project::open(engine()->projectDir().toStdString());
        std::map<qint64, rlhf::store::Choice> expected;   // comparison -> choice in force
        std::map<qint64, std::string> expectedRationale;
        const Qt::Key keys[] = {Qt::Key_1, Qt::Key_2, Qt::Key_Left, Qt::Key_Right, Qt::Key_3, Qt::Key_4, Qt::Key_S};
        int pressed = 0;
        for (int n = 0; n < 20; ++n) {
            QVERIFY(labeling->current().has_value());
            const qint64 cid = labeling->current()->id;
            const bool aLeft = check.comparison(cid)->a_on_left;
            const Qt::Key key = keys[n % 7];
            rlhf::store::Choice want = rlhf::store::Choice::Skip;
            if (key == Qt::Key_1 || key == Qt::Key_Left) want = aLeft ? rlhf::store::Choice::A : rlhf::store::Choice::B;
            if (key == Qt::Key_2 || key == Qt::Key_Right) want = aLeft ? rlhf::store::Choice::B : rlhf::store::Choice::A;
            if (key == Qt::Key_3) want = rlhf::store::Choice::Tie;
            if (key == Qt::Key_4) want = rlhf::store::Choice::BothBad;
            if (n == 5) {
                // Tab to the rationale, type, Enter back to the keys.
                QTest::keyClick(labeling, Qt::Key_Tab);
                QVERIFY(labeling->rationaleField()->hasFocus());
                QTest::keyClicks(labeling->rationaleField(), QStringLiteral("both 2 vague"));
                QTest::keyClick(labeling->rationaleField(), Qt::Key_Return);
                QVERIFY(labeling->hasFocus());
                expectedRationale[cid] = "both 2 vague";
            }
            QTest::keyClick(labeling, key);
            ++pressed;
            // Committed before the next pair is shown: the independent connection sees it now.
            bool found = false;
            for (const auto& row : check.labels_in_force()) found |= row.comparison_id == cid;
            QVERIFY2(found, "label not in the store when the next pair was shown");
            QVERIFY(!labeling->current() || labeling->current()->id != cid);
            expected[cid] = want;
            if (n == 9) {
                // Undo: the pair comes back; it is then labelled again with the other side.
                QTest::keyClick(labeling, Qt::Key_Z, Qt::ControlModifier);
                QCOMPARE(labeling->current()->id, cid);
                const rlhf::store::Choice other = aLeft ? rlhf::store::Choice::B : rlhf::store::Choice::A;
                QTest::keyClick(labeling, Qt::Key_2);  // right
                expected[cid] = other;
            }
        }
        QCOMPARE(pressed, 20);
        std::map<qint64, rlhf::store::Choice> stored;
        for (const auto& row : check.labels_in_force()) {
            if (row.annotator != "keyboard-tester") continue;
            stored[row.comparison_id] = row.choice;
            if (expectedRationale.count(row.comparison_id)) QCOMPARE(row.rationale, expectedRationale[row.comparison_id]);
        }
        QCOMPARE(stored.size(), size_t(20));
        for (const auto& [cid, choice] : expected) {
            QVERIFY2(stored.count(cid), qPrintable(QStringLiteral("comparison %1 missing").arg(cid)));
            QCOMPARE(int(stored[cid]), int(choice));
        }
        // History is append-only: 21 label rows and 1 undo row for this annotator.
        int labelRows = 0, undoRows = 0;
        const qint64 annotatorId = labeling->annotatorId();
        for (const auto& e : check.label_history()) {
            if (e.annotator_id != annotatorId) continue;
            labelRows += e.kind == "label";
            undoRows += e.kind == "undo";
        }
        QCOMPARE(labelRows, 21);
        QCOMPARE(undoRows, 1);
        QCOMPARE(labeling->labelsThisSession(), 20);
        // A/B came from two "models" (dataset chosen / rejected): a win rate is shown.
        // n = 20 labels minus the 2 skips (keys[6] at n = 6 and 13); the text is computed off-thread.
        QTRY_VERIFY(labeling->winRateText().contains(QStringLiteral("n = 18")));
        QVERIFY(labeling->winRateText().startsWith(QStringLiteral("dataset:chosen over dataset:rejected")));
    }

    void jobPointsArriveInThePlotWhileTheLoopStaysResponsive() {
        auto* runs = panel<RunsPanel>();
        window_->tabs()->setCurrentWidget(runs);
        EventLoopWatchdog dog(10);
        dog.start();
        QSignalSpy finished(engine(), &Engine::jobFinished);
        const int steps = 300;
        engine()->startDemoJob(steps, 3, QStringLiteral("plot-run"));
        // The run appears in the list; select it and watch points arrive while the job runs.
        QTRY_VERIFY(runs->runList()->topLevelItemCount() > 0);
        QTreeWidgetItem* item = nullptr;
        for (int i = 0; i < runs->runList()->topLevelItemCount(); ++i) {
            if (runs->runList()->topLevelItem(i)->text(0).startsWith(QStringLiteral("plot-run"))) item = runs->runList()->topLevelItem(i);
        }
        QVERIFY(item);
        runs->runList()->clearSelection();
        item->setSelected(true);
        const QString series = item->text(0) + QStringLiteral("/loss");
        QElapsedTimer clock;
        clock.start();
        QTRY_VERIFY_WITH_TIMEOUT(runs->plot()->pointCount(series) > 0, 10000);
        qInfo("first points after %lld ms", clock.elapsed());
        const bool sawPartial = runs->plot()->pointCount(series) < steps;
        QVERIFY(finished.count() > 0 || finished.wait(30000));
        qInfo("job finished after %lld ms", clock.elapsed());
        QTRY_COMPARE_WITH_TIMEOUT(runs->plot()->pointCount(series), steps, 10000);
        QTRY_COMPARE(item->text(2), QStringLiteral("completed"));
        dog.stop();
        qInfo("points arrived while running: %s; %s", sawPartial ? "yes" : "no (job finished first)",
              qPrintable(dog.summary()));
        // Clicking a point with logged samples (every 50 steps) fills the samples table.
        runs->plot()->setSmoothing(0.0);
        runs->plot()->flushNow();
        QTest::mouseClick(runs->plot()->plot(), Qt::LeftButton, Qt::NoModifier, runs->plot()->pixelOf(series, 99));
        QTRY_VERIFY(runs->samplesTable()->rowCount() > 0);
        QCOMPARE(runs->samplesTable()->item(0, 0)->text(), QStringLiteral("100"));
    }

    void cancelARunningJobFromTheStatusBar() {
        QSignalSpy cancelled(engine(), &Engine::jobCancelled);
        QSignalSpy progress(engine(), &Engine::jobProgress);
        const int id = engine()->startDemoJob(100000, 2, QStringLiteral("long-run"));
        QTRY_VERIFY(!progress.isEmpty());
        auto* row = window_->jobsWidget()->findChild<QWidget*>(QStringLiteral("job-%1").arg(id));
        QVERIFY(row);
        auto* cancel = row->findChild<QToolButton*>(QStringLiteral("cancelJob"));
        QVERIFY(cancel);
        QTest::mouseClick(cancel, Qt::LeftButton);
        QVERIFY(cancelled.wait(10000));
        QCOMPARE(cancelled.first().first().toInt(), id);
        QVERIFY(!engine()->isRunning(id));
        QCOMPARE(window_->jobsWidget()->rowText(id), QStringLiteral("cancelled"));
        // The run it wrote is marked cancelled in the store.
        bool sawCancelledRun = false;
        for (const auto& run : engine()->project().runs()) {
            if (run.name == "long-run") sawCancelledRun = run.status == rlhf::store::RunStatus::Cancelled;
        }
        QVERIFY(sawCancelledRun);
    }

    void failedImportReportsTheFile() {
        QSignalSpy failed(engine(), &Engine::jobFailed);
        ImportRequest request;
        request.file = temp_.filePath(QStringLiteral("does-not-exist.jsonl"));
        engine()->startImport(request);
        QVERIFY(failed.wait(10000));
        QVERIFY(failed.first().at(1).toString().contains(QStringLiteral("does-not-exist.jsonl")));
    }

    void cleanupTestCase() {
        window_->close();
        window_.reset();
    }
};

QTEST_MAIN(WorkbenchTest)
#include "test_workbench.moc"
