#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QKeySequence>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>

#include "ui/engine.h"
#include "ui/jobs_widget.h"

namespace rlhf::ui {

namespace {
const QString kRecentKey = QStringLiteral("projects/recent");
const QString kGeometryKey = QStringLiteral("mainWindow/geometry");
const QString kStateKey = QStringLiteral("mainWindow/state");
const QString kTabKey = QStringLiteral("mainWindow/tab");
}  // namespace

MainWindow::MainWindow(Engine* engine, QWidget* parent)
    : QMainWindow(parent), engine_(engine ? engine : new Engine(this)) {
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(QStringLiteral("RLHF Workbench"));
    tabs_ = new QTabWidget(this);
    tabs_->setObjectName(QStringLiteral("panels"));
    tabs_->setDocumentMode(true);
    setCentralWidget(tabs_);
    jobs_ = new JobsWidget(engine_, this);
    statusBar()->addPermanentWidget(jobs_);
    statusBar()->showMessage(tr("No project open — File ▸ New Project or Open Project"));
    connect(engine_, &Engine::jobFailed, this, [this](int id, const QString& error) {
        statusBar()->showMessage(tr("Job %1 failed: %2").arg(id).arg(error));
    });
    buildMenus();
    resize(1280, 800);
    QSettings settings;
    restoreGeometry(settings.value(kGeometryKey).toByteArray());
    restoreState(settings.value(kStateKey).toByteArray());
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    // QAction shows its shortcut in the menu by itself; every action gets one where it makes sense.
    QAction* newAct = file->addAction(tr("&New Project…"), this, &MainWindow::newProject);
    newAct->setShortcut(QKeySequence::New);
    QAction* openAct = file->addAction(tr("&Open Project…"), this, &MainWindow::openProjectDialog);
    openAct->setShortcut(QKeySequence::Open);
    recentMenu_ = file->addMenu(tr("Open &Recent"));
    rebuildRecentMenu();
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    viewMenu_ = menuBar()->addMenu(tr("&View"));

    QMenu* jobs = menuBar()->addMenu(tr("&Jobs"));
    // The synthetic plot job (Engine::startDemoJob) writes made-up curves: it is for tests and the
    // screenshot tool only, never offered to a user next to real runs.
    QAction* cancelAll = jobs->addAction(tr("&Cancel All Jobs"), this, [this] { engine_->cancelAll(); });
    cancelAll->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Period));

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* about = help->addAction(tr("&About RLHF Workbench"), this, &MainWindow::showAbout);
    about->setShortcut(QKeySequence::HelpContents);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::addPanel(QWidget* panel, const QString& title) {
    const int index = tabs_->addTab(panel, title);
    QAction* act = viewMenu_->addAction(title, this, [this, panel] { tabs_->setCurrentWidget(panel); });
    if (index < 9) act->setShortcut(QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + index)));
    const int saved = QSettings().value(kTabKey, 0).toInt();
    if (saved == index) tabs_->setCurrentIndex(index);
}

QWidget* MainWindow::panel(const QString& objectName) const {
    for (int i = 0; i < tabs_->count(); ++i) {
        if (tabs_->widget(i)->objectName() == objectName) return tabs_->widget(i);
    }
    return nullptr;
}

bool MainWindow::openProject(const QString& dir) {
    const QString path = QFileInfo(dir).absoluteFilePath();
    QString error;
    if (!engine_->openProject(path, &error)) {
        statusBar()->showMessage(tr("Cannot open project: %1").arg(error));
        if (isVisible()) QMessageBox::warning(this, tr("Open project"), error);
        return false;
    }
    projectDir_ = path;
    setWindowTitle(QStringLiteral("RLHF Workbench — %1").arg(QDir::toNativeSeparators(path)));
    rememberRecent(path);
    statusBar()->showMessage(tr("Project %1").arg(QDir::toNativeSeparators(path)), 5000);
    Q_EMIT projectChanged(path);
    return true;
}

void MainWindow::newProject() {
    const QString dir = QFileDialog::getSaveFileName(this, tr("New project folder"), QDir::homePath());
    if (!dir.isEmpty()) openProject(dir);
}

void MainWindow::openProjectDialog() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open project folder"), QDir::homePath());
    if (!dir.isEmpty()) openProject(dir);
}

QStringList MainWindow::recentProjects() const {
    return QSettings().value(kRecentKey).toStringList();
}

void MainWindow::rememberRecent(const QString& dir) {
    QStringList recent = recentProjects();
    recent.removeAll(dir);
    recent.prepend(dir);
    while (recent.size() > kMaxRecentProjects) recent.removeLast();
    QSettings().setValue(kRecentKey, recent);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
    recentMenu_->clear();
    const QStringList recent = recentProjects();
    for (int i = 0; i < recent.size(); ++i) {
        const QString dir = recent[i];
        QAction* act = recentMenu_->addAction(QStringLiteral("&%1 %2").arg(i + 1).arg(QDir::toNativeSeparators(dir)),
                                              this, [this, dir] { openProject(dir); });
        act->setData(dir);
    }
    recentMenu_->setEnabled(!recent.isEmpty());
}

QMessageBox* MainWindow::makeAboutBox() {
    auto* box = new QMessageBox(this);
    box->setWindowTitle(tr("About RLHF Workbench"));
    box->setTextFormat(Qt::PlainText);
    box->setText(tr("RLHF Workbench %1\nA native desktop for the whole RLHF loop.")
                     .arg(QApplication::applicationVersion()));
    box->setInformativeText(Engine::backendInfo());
    box->setObjectName(QStringLiteral("aboutBox"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    return box;
}

void MainWindow::showAbout() { makeAboutBox()->exec(); }

void MainWindow::closeEvent(QCloseEvent* event) {
    QSettings settings;
    settings.setValue(kGeometryKey, saveGeometry());
    settings.setValue(kStateKey, saveState());
    settings.setValue(kTabKey, tabs_->currentIndex());
    engine_->cancelAll();
    QMainWindow::closeEvent(event);
}

}  // namespace rlhf::ui
