// The Dataset inspector over a large dataset (RLHF_UI_SCALE_ROWS rows, default 200,000; set
// 1000000 for the full check): jumping anywhere in the table shows that row's record, memory stays
// bounded (cached pages ≤ kMaxCachedPages), and the event loop stays responsive meanwhile.
// Labelled slow: filling the store takes most of the time. Times are printed, never asserted.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include "core/store/project.h"
#include "ui/dataset_model.h"
#include "ui/dataset_panel.h"
#include "ui/engine.h"
#include "ui/watchdog.h"

using namespace rlhf::ui;

class DatasetScaleTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void jumpAnywhereInALargeDataset() {
        const qint64 rows = qEnvironmentVariableIntValue("RLHF_UI_SCALE_ROWS") > 0
                                ? qEnvironmentVariableIntValue("RLHF_UI_SCALE_ROWS") : 200000;
        QTemporaryDir temp;
        const std::string dir = temp.filePath(QStringLiteral("p")).toStdString();
        QElapsedTimer clock;
        clock.start();
        {
            rlhf::store::Project project = rlhf::store::Project::open(dir);
            const int64_t ds = project.dataset("big");
            std::vector<rlhf::data::Record> batch;
            for (qint64 i = 0; i < rows; ++i) {
                rlhf::data::Record r;
                r.kind = rlhf::data::RecordKind::Sft;
                r.format = "text";
                r.sft.messages = {{"", "record number " + std::to_string(i)}};
                batch.push_back(std::move(r));
                if (batch.size() == rlhf::store::kImportBatchRecords) {
                    project.add_records(ds, batch);
                    batch.clear();
                }
            }
            project.add_records(ds, batch);
        }
        qInfo("filled %lld rows in %lld ms", rows, clock.elapsed());

        Engine engine;
        QVERIFY(engine.openProject(temp.filePath(QStringLiteral("p"))));
        DatasetPanel panel(&engine);
        panel.resize(1000, 700);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        DatasetModel* model = panel.model();
        QTRY_COMPARE_WITH_TIMEOUT(model->total(), rows, 30000);

        EventLoopWatchdog dog(10);
        dog.start();
        // Rows in id order: the row at index i holds "record number i".
        const qint64 targets[] = {rows - 1, rows / 2, 17, rows * 9 / 10, rows / 3, rows - 300, 0, rows / 7};
        for (qint64 target : targets) {
            clock.restart();
            const QModelIndex index = model->index(int(target), DatasetModel::ColPrompt);
            panel.view()->scrollTo(index, QAbstractItemView::PositionAtCenter);
            QTRY_COMPARE_WITH_TIMEOUT(index.data().toString(), QStringLiteral("record number %1").arg(target), 30000);
            qInfo("row %lld shown after %lld ms", target, clock.elapsed());
        }
        // Scroll through a stretch page by page, as a user dragging the bar would.
        clock.restart();
        for (int step = 0; step < 100; ++step) {
            panel.view()->scrollTo(model->index(int(rows / 4 + step * 500), 0), QAbstractItemView::PositionAtTop);
            QTest::qWait(5);
        }
        QTRY_COMPARE_WITH_TIMEOUT(model->index(int(rows / 4 + 99 * 500), DatasetModel::ColPrompt).data().toString(),
                                  QStringLiteral("record number %1").arg(rows / 4 + 99 * 500), 30000);
        dog.stop();
        qInfo("100 scroll steps in %lld ms; pages fetched %d; %s", clock.elapsed(), model->pagesRequested(),
              qPrintable(dog.summary()));
        QVERIFY(model->cachedPages() <= DatasetModel::kMaxCachedPages);
    }
};

QTEST_MAIN(DatasetScaleTest)
#include "test_dataset_scale.moc"
