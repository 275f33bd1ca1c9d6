// The whole workbench: the main window with every panel, and the start-up modes of the
// rlhf-workbench binary (normal, --screenshots DIR, --script-stdin for the crash test).
#pragma once
#include <QString>

class QApplication;

namespace rlhf::ui {

class MainWindow;

struct WorkbenchOptions {
    QString projectDir;     // opened (created if missing) at start; "" = none
    QString screenshotDir;  // non-empty: fill a demo project, save a PNG per panel there, exit
    bool scriptFromStdin = false;  // test mode: keys from stdin to the labeling panel, acks on stdout
};

// Adds the panels (Datasets, Labeling, Runs, …) to a main window.
void addPanels(MainWindow& window);

int runWorkbench(QApplication& app, const WorkbenchOptions& options);

}  // namespace rlhf::ui
