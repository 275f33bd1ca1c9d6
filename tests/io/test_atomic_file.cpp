// Atomic writes: the target holds either the old or the new contents, the temp file never
// survives, failures name the path.
#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <functional>
#include <string>

#include "core/io/atomic_file.h"
#include "core/io/error.h"

using namespace rlhf::io;

namespace {

int count_entries(const QString& dir) {
    return int(QDir(dir).entryList(QDir::Files | QDir::Hidden | QDir::NoDotAndDotDot).size());
}

bool error_mentions(const std::function<void()>& f, const std::string& needle) {
    try {
        f();
    } catch (const rlhf::Error& e) {
        return std::string(e.what()).find(needle) != std::string::npos;
    }
    return false;
}

}  // namespace

class AtomicFileTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void write_then_read() {
        QTemporaryDir dir;
        const std::string path = dir.filePath(QStringLiteral("a.txt")).toStdString();
        const std::string contents("hello\0world\n", 12);  // binary-safe: embedded NUL
        write_file_atomic(path, contents);
        QCOMPARE(read_file(path), contents);
        QCOMPARE(count_entries(dir.path()), 1);  // no temp file left behind
    }

    void replace_existing() {
        QTemporaryDir dir;
        const std::string path = dir.filePath(QStringLiteral("a.txt")).toStdString();
        write_file_atomic(path, "old contents that are longer");
        write_file_atomic(path, "new");
        QCOMPARE(read_file(path), std::string("new"));
        QCOMPARE(count_entries(dir.path()), 1);
    }

    void uncommitted_writer_leaves_old_file() {
        QTemporaryDir dir;
        const std::string path = dir.filePath(QStringLiteral("a.bin")).toStdString();
        write_file_atomic(path, "old");
        {
            AtomicFileWriter w(path);
            w.write("partial new contents");
            // The temp file exists beside the target while writing...
            QCOMPARE(count_entries(dir.path()), 2);
            QCOMPARE(read_file(path), std::string("old"));
        }  // ...and is removed when the writer is destroyed without commit (e.g. on an exception).
        QCOMPARE(count_entries(dir.path()), 1);
        QCOMPARE(read_file(path), std::string("old"));
    }

    void streaming_commit() {
        QTemporaryDir dir;
        const std::string path = dir.filePath(QStringLiteral("big.bin")).toStdString();
        AtomicFileWriter w(path);
        std::string expected;
        for (int i = 0; i < 1000; ++i) {
            const std::string piece = std::to_string(i) + ",";
            w.write(piece);
            expected += piece;
        }
        w.commit();
        QCOMPARE(read_file(path), expected);
        QVERIFY(error_mentions([&] { w.write("x"); }, "after commit"));
        QVERIFY(error_mentions([&] { w.commit(); }, "twice"));
    }

    void two_writers_same_path_do_not_collide() {
        QTemporaryDir dir;
        const std::string path = dir.filePath(QStringLiteral("x")).toStdString();
        AtomicFileWriter a(path);
        AtomicFileWriter b(path);
        a.write("from a");
        b.write("from b");
        a.commit();
        QCOMPARE(read_file(path), std::string("from a"));
        b.commit();
        QCOMPARE(read_file(path), std::string("from b"));
        QCOMPARE(count_entries(dir.path()), 1);
    }

    void errors_name_the_path() {
        QVERIFY(error_mentions([] { read_file("/nonexistent-dir/f.txt"); }, "/nonexistent-dir/f.txt"));
        QVERIFY(error_mentions([] { write_file_atomic("/nonexistent-dir/f.txt", "x"); }, "/nonexistent-dir/f.txt"));
        QTemporaryDir dir;
        QVERIFY(error_mentions([&] { read_file(dir.path().toStdString()); }, "directory"));
    }

    void fsync_file_and_dir() {
        QTemporaryDir dir;
        const std::string path = dir.filePath(QStringLiteral("f")).toStdString();
        write_file_atomic(path, "x");
        fsync_path(path);
        fsync_path(dir.path().toStdString());
        fsync_parent_dir(path);
        QVERIFY(error_mentions([] { fsync_path("/nonexistent-dir/f"); }, "/nonexistent-dir/f"));
    }
};

QTEST_APPLESS_MAIN(AtomicFileTest)
#include "test_atomic_file.moc"
