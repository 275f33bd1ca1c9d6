#include "ui/main_window.h"

#include <QFileInfo>
#include <QLabel>
#include <QStatusBar>
#include <QTabWidget>

namespace rlhf::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(QStringLiteral("RLHF Workbench"));
    auto* tabs = new QTabWidget(this);
    auto* welcome = new QLabel(QStringLiteral("No project open."), tabs);
    welcome->setAlignment(Qt::AlignCenter);
    tabs->addTab(welcome, QStringLiteral("Project"));
    setCentralWidget(tabs);
    statusBar()->showMessage(QStringLiteral("Ready"));
    resize(1280, 800);
}

void MainWindow::openProject(const QString& dir) {
    projectDir_ = QFileInfo(dir).absoluteFilePath();
    setWindowTitle(QStringLiteral("RLHF Workbench — %1").arg(projectDir_));
    Q_EMIT projectChanged(projectDir_);
}

}  // namespace rlhf::ui
