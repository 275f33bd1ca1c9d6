// Crash safety: a child process (this binary re-executed with --label-writer DIR) commits labels
// one by one, undoes some, and imports record batches, printing each acknowledgement after the
// call returned. The parent SIGKILLs it at random moments, 30 times. After every kill: every
// acknowledged label/undo is in the database, no acknowledged import batch is missing, and
// PRAGMA integrity_check says "ok".
#include <QTemporaryDir>
#include <QtTest>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "core/io/error.h"
#include "core/store/project.h"
#include "store/store_test_util.h"

using namespace rlhf;
using namespace rlhf::store;

namespace {

constexpr const char* kWriterFlag = "--label-writer";
constexpr int kRounds = 30;

// The child: runs until killed. Output lines: "L <label id>", "U <undone label id>",
// "R <records in dataset>" — each printed only after the store call returned.
int label_writer(const std::string& dir) {
    try {
        Project p = Project::open(dir);
        int64_t ann = p.annotator("crash");
        auto cmp = p.next_unlabeled(ann);
        if (!cmp) cmp = p.comparison(1);
        int64_t ds = p.dataset("bulk");
        std::mt19937_64 rng(static_cast<uint64_t>(getpid()));
        for (uint64_t i = 0;; ++i) {
            int64_t id = p.add_label({cmp->id, ann, i % 2 ? Choice::A : Choice::B, "crash test", 0.5});
            std::printf("L %lld\n", static_cast<long long>(id));
            std::fflush(stdout);
            if (i % 4 == 3) {
                if (auto undone = p.undo_last_label(ann)) {
                    std::printf("U %lld\n", static_cast<long long>(*undone));
                    std::fflush(stdout);
                }
            }
            if (i % 8 == 7) {
                std::vector<data::Record> batch;
                uint64_t salt = rng();
                for (int k = 0; k < 500; ++k)
                    batch.push_back(store_test::prompt_record("bulk " + std::to_string(salt) + " " + std::to_string(k)));
                p.add_records(ds, batch);
                std::printf("R %lld\n", static_cast<long long>(p.find_dataset("bulk")->records));
                std::fflush(stdout);
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "label writer: %s\n", e.what());
        return 1;
    }
}

struct ChildOutput {
    std::string text;
    int status = 0;
};

// Starts the writer, lets it run `run_for`, SIGKILLs it and returns what it printed.
ChildOutput run_and_kill(const std::string& dir, std::chrono::milliseconds run_for) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        const char* argv[] = {"test_store_crash", kWriterFlag, dir.c_str(), nullptr};
        execv("/proc/self/exe", const_cast<char* const*>(argv));
        _exit(127);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    ChildOutput out;
    char buf[4096];
    auto deadline = std::chrono::steady_clock::now() + run_for;
    while (std::chrono::steady_clock::now() < deadline) {
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n > 0)
            out.text.append(buf, static_cast<size_t>(n));
        else
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    kill(pid, SIGKILL);
    waitpid(pid, &out.status, 0);
    for (;;) {  // what the child wrote before dying is still in the pipe
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        out.text.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    return out;
}

}  // namespace

class StoreCrashTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void acknowledgedLabelsSurviveSigkill() {
        QTemporaryDir tmp;
        std::string dir = store_test::project_dir(tmp);
        {
            Project p = Project::open(dir);
            int64_t ds = p.dataset("prompts");
            p.add_records(ds, {store_test::prompt_record("Crash me.")});
            Completion a, b;
            a.prompt_id = b.prompt_id = 1;
            a.text = "a";
            b.text = "b";
            p.create_comparison(1, p.add_completion(a), p.add_completion(b), true);
        }
        std::mt19937 rng(20261123);
        std::uniform_int_distribution<int> delay_ms(15, 400);
        std::set<int64_t> labels, undos;
        int64_t records_acknowledged = 0;
        int killed_mid_run = 0;
        for (int round = 0; round < kRounds; ++round) {
            ChildOutput out = run_and_kill(dir, std::chrono::milliseconds(delay_ms(rng)));
            if (WIFSIGNALED(out.status) && WTERMSIG(out.status) == SIGKILL) ++killed_mid_run;
            // Only complete lines are acknowledgements; a torn last line is not.
            std::istringstream in(out.text.substr(0, out.text.rfind('\n') + 1));
            std::string kind;
            long long value;
            while (in >> kind >> value) {
                if (kind == "L") labels.insert(value);
                if (kind == "U") undos.insert(value);
                if (kind == "R") records_acknowledged = std::max<int64_t>(records_acknowledged, value);
            }
            Project p = Project::open(dir);
            QCOMPARE(p.integrity_check(), std::string("ok"));
            std::set<int64_t> stored_labels, stored_undos;
            for (const LabelEvent& e : p.label_history()) {
                if (e.kind == "label") stored_labels.insert(e.id);
                if (e.kind == "undo") stored_undos.insert(*e.undoes);
            }
            for (int64_t id : labels) QVERIFY2(stored_labels.count(id), qPrintable(QStringLiteral("label %1, round %2").arg(id).arg(round)));
            for (int64_t id : undos) QVERIFY2(stored_undos.count(id), qPrintable(QStringLiteral("undo of %1, round %2").arg(id).arg(round)));
            auto bulk = p.find_dataset("bulk");
            QVERIFY(bulk.has_value() || records_acknowledged == 0);
            if (bulk) QVERIFY(bulk->records >= records_acknowledged);
            // Whole batches only: a killed import leaves none of its 500 rows.
            if (bulk) QCOMPARE(bulk->records % 500, int64_t(0));
        }
        qInfo("%d rounds, %d killed while running; %zu labels, %zu undos, %lld records acknowledged", kRounds,
              killed_mid_run, labels.size(), undos.size(), static_cast<long long>(records_acknowledged));
        QVERIFY(killed_mid_run > kRounds / 2);  // the kills did land while the writer was working
        QVERIFY(labels.size() > 50);
        QVERIFY(!undos.empty());
        QVERIFY(records_acknowledged > 0);
    }
};

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], kWriterFlag) == 0) return label_writer(argv[2]);
    StoreCrashTest test;
    return QTest::qExec(&test, argc, argv);
}
#include "test_store_crash.moc"
