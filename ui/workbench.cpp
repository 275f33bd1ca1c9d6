#include "ui/workbench.h"

#include <QApplication>
#include <QDir>
#include <QEventLoop>
#include <QFile>
#include <QKeyEvent>
#include <QSocketNotifier>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTimer>

#include <cstdio>
#include <unistd.h>

#include "ui/dataset_panel.h"
#include "ui/engine.h"
#include "ui/labeling_panel.h"
#include "ui/main_window.h"
#include "ui/runs_panel.h"
#include "ui/screenshots.h"
#include "ui/train_panel.h"

namespace rlhf::ui {

void addPanels(MainWindow& window) {
    window.addPanel(new DatasetPanel(window.engine(), &window), QObject::tr("Datasets"));
    window.addPanel(new LabelingPanel(window.engine(), &window), QObject::tr("Labeling"));
    window.addPanel(new RunsPanel(window.engine(), &window), QObject::tr("Runs"));
    window.addPanel(new TrainPanel(window.engine(), &window), QObject::tr("Train"));
}

namespace {

// Key names a test script may send, one a line.
bool keyFor(const QByteArray& name, int* key, Qt::KeyboardModifiers* mods) {
    *mods = Qt::NoModifier;
    if (name == "1") *key = Qt::Key_1;
    else if (name == "2") *key = Qt::Key_2;
    else if (name == "3") *key = Qt::Key_3;
    else if (name == "4") *key = Qt::Key_4;
    else if (name == "s") *key = Qt::Key_S;
    else if (name == "left") *key = Qt::Key_Left;
    else if (name == "right") *key = Qt::Key_Right;
    else if (name == "undo") {
        *key = Qt::Key_Z;
        *mods = Qt::ControlModifier;
    } else {
        return false;
    }
    return true;
}

void runScript(MainWindow& window) {
    auto* panel = window.findChild<LabelingPanel*>();
    window.tabs()->setCurrentWidget(panel);
    // Acks go out after add_label has returned, i.e. after the durable commit.
    QObject::connect(panel, &LabelingPanel::labelCommitted, panel,
                     [](qint64 labelId, qint64 comparisonId, const QString& choice) {
                         std::printf("ack label %lld %lld %s\n", (long long)labelId, (long long)comparisonId,
                                     qPrintable(choice));
                         std::fflush(stdout);
                     });
    QObject::connect(panel, &LabelingPanel::undone, panel, [](qint64 labelId) {
        std::printf("ack undo %lld\n", (long long)labelId);
        std::fflush(stdout);
    });
    auto* notifier = new QSocketNotifier(STDIN_FILENO, QSocketNotifier::Read, panel);
    auto* buffer = new QByteArray;
    QObject::connect(notifier, &QSocketNotifier::activated, panel, [panel, notifier, buffer] {
        char chunk[256];
        const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
        if (n <= 0) {
            notifier->setEnabled(false);
            delete buffer;
            QApplication::quit();
            return;
        }
        buffer->append(chunk, int(n));
        int nl;
        while ((nl = int(buffer->indexOf('\n'))) >= 0) {
            const QByteArray line = buffer->left(nl).trimmed();
            buffer->remove(0, nl + 1);
            int key = 0;
            Qt::KeyboardModifiers mods;
            if (!keyFor(line, &key, &mods)) {
                std::printf("error unknown key '%s'\n", line.constData());
                std::fflush(stdout);
                continue;
            }
            QKeyEvent press(QEvent::KeyPress, key, mods);
            QApplication::sendEvent(panel, &press);  // synchronous: the label is stored on return
        }
    });
    std::printf("ready %lld %lld\n", (long long)panel->annotatorId(),
                panel->current() ? (long long)panel->current()->id : -1LL);
    std::fflush(stdout);
}

}  // namespace

int runWorkbench(QApplication& app, const WorkbenchOptions& options) {
    if (!options.screenshotDir.isEmpty()) return saveScreenshots(options.screenshotDir, options.projectDir);
    MainWindow window;
    addPanels(window);
    if (!options.projectDir.isEmpty() && !window.openProject(options.projectDir)) {
        std::fprintf(stderr, "rlhf-workbench: cannot open project %s\n", qPrintable(options.projectDir));
        if (options.scriptFromStdin) return 1;
    }
    window.show();
    if (options.scriptFromStdin) runScript(window);
    return app.exec();
}

}  // namespace rlhf::ui
