// Disk full: the faulty VFS shim refuses writes with SQLITE_FULL after a byte budget. The store
// must report a clear rlhf::Error (project path, operation, "full") and lose nothing it had
// acknowledged; a failed bulk import leaves no half of itself behind.
#include <QTemporaryDir>
#include <QtTest>

#include <set>

#include "core/io/error.h"
#include "core/store/project.h"
#include "store/faulty_vfs.h"
#include "store/store_test_util.h"

using namespace rlhf;
using namespace rlhf::store;
using store_test::project_dir;

namespace {

OpenOptions faulty() {
    OpenOptions o;
    o.vfs = store_test::kFaultyVfsName;
    return o;
}

// One prompt, one comparison; returns its id.
int64_t one_comparison(Project& p) {
    int64_t ds = p.dataset("prompts");
    p.add_records(ds, {store_test::prompt_record("Say hi.")});
    RowQuery q;
    q.dataset_id = ds;
    int64_t prompt = p.rows(q).rows.at(0).id;
    Completion a, b;
    a.prompt_id = b.prompt_id = prompt;
    a.text = "hi";
    b.text = "hello";
    return p.create_comparison(prompt, p.add_completion(a), p.add_completion(b), true);
}

}  // namespace

class StoreDiskFullTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { store_test::faulty_vfs_install(); }
    void cleanup() { store_test::faulty_vfs_disarm(); }

    void labelsBeforeTheFullDiskSurvive() {
        QTemporaryDir tmp;
        std::string dir = project_dir(tmp);
        std::vector<int64_t> acknowledged;
        std::string message;
        {
            Project p = Project::open(dir, faulty());
            int64_t cmp = one_comparison(p);
            int64_t ann = p.annotator("ann");
            // ~256 KiB of writes: a label commit appends a few WAL frames of one page each
            // (16 KiB in a new project, core/store/sqlite.cpp), so some labels succeed before
            // the disk "fills".
            store_test::faulty_vfs_arm(256 * 1024);
            try {
                for (int i = 0; i < 10000; ++i)
                    acknowledged.push_back(p.add_label({cmp, ann, Choice::A, "r" + std::to_string(i), 1.0}));
                QFAIL("the disk never filled");
            } catch (const Error& e) {
                message = e.what();
            }
            qInfo("%zu labels acknowledged before the disk filled; error: %s", acknowledged.size(), message.c_str());
            QVERIFY(store_test::faulty_vfs_failed_writes() > 0);
            QVERIFY2(acknowledged.size() >= 2, qPrintable(QString::number(acknowledged.size())));
            QVERIFY2(message.find(p.database_path()) != std::string::npos, message.c_str());
            QVERIFY2(message.find("add label") != std::string::npos, message.c_str());
            QVERIFY2(message.find("full") != std::string::npos, message.c_str());
            store_test::faulty_vfs_disarm();
            // The same connection works again once space is back.
            acknowledged.push_back(p.add_label({cmp, ann, Choice::B, "after", 1.0}));
        }
        Project p = Project::open(dir);  // default VFS
        QCOMPARE(p.integrity_check(), std::string("ok"));
        std::set<int64_t> present;
        for (const LabelEvent& e : p.label_history()) present.insert(e.id);
        for (int64_t id : acknowledged) QVERIFY2(present.count(id), qPrintable(QString::number(id)));
        QCOMPARE(present.size(), acknowledged.size());
    }

    void failedImportLeavesNothingBehind() {
        QTemporaryDir tmp;
        std::string dir = project_dir(tmp);
        int64_t ds = 0;
        {
            Project p = Project::open(dir, faulty());
            ds = p.dataset("big");
            QCOMPARE(p.add_records(ds, {store_test::prompt_record("kept")}).inserted, uint64_t(1));
            std::vector<data::Record> batch;
            for (int i = 0; i < 3000; ++i)
                batch.push_back(store_test::prompt_record("row " + std::to_string(i) + std::string(200, 'x')));
            store_test::faulty_vfs_arm(256 * 1024);  // far less than the batch needs
            try {
                p.add_records(ds, batch);
                QFAIL("expected rlhf::Error");
            } catch (const Error& e) {
                QVERIFY2(std::string(e.what()).find("import records") != std::string::npos, e.what());
            }
        }
        store_test::faulty_vfs_disarm();
        Project p = Project::open(dir);
        QCOMPARE(p.integrity_check(), std::string("ok"));
        QCOMPARE(p.find_dataset("big")->records, int64_t(1));
        RowQuery q;
        q.dataset_id = ds;
        q.search = "kept";
        QCOMPARE(p.rows(q).total, int64_t(1));
    }
};

QTEST_APPLESS_MAIN(StoreDiskFullTest)
#include "test_store_diskfull.moc"
