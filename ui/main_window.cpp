#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFrame>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QJsonObject>
#include <QKeySequence>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QPointer>
#include <QProcess>
#include <QPushButton>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QThread>
#include <QVBoxLayout>

#include "ui/chat_panel.h"
#include "ui/engine.h"
#include "ui/engine_chat.h"
#include "ui/jobs_widget.h"
#include "ui/reward_inspector.h"

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

    // First launch: nothing recent to reopen, so offer the demo in a banner (not a modal dialog,
    // which would stop a scripted or offscreen start). Opening any project hides it.
    demoBanner_ = new QFrame(this);
    demoBanner_->setObjectName(QStringLiteral("demoBanner"));
    demoBanner_->setFrameShape(QFrame::StyledPanel);
    demoBanner_->setAutoFillBackground(true);
    demoBanner_->setBackgroundRole(QPalette::AlternateBase);
    auto* bannerText = new QLabel(tr("<b>New here?</b> The demo project shows the whole RLHF loop on a CPU in a few "
                                     "minutes: a tiny review-writing model, 500 labelled pairs, a reward model and PPO. "
                                     "Nothing is downloaded."), demoBanner_);
    bannerText->setWordWrap(true);
    auto* bannerOpen = new QPushButton(tr("Open the demo project"), demoBanner_);
    bannerOpen->setObjectName(QStringLiteral("openDemo"));
    auto* bannerClose = new QPushButton(tr("Dismiss"), demoBanner_);
    auto* bannerLayout = new QHBoxLayout(demoBanner_);
    bannerLayout->addWidget(bannerText, 1);
    bannerLayout->addWidget(bannerOpen);
    bannerLayout->addWidget(bannerClose);
    connect(bannerOpen, &QPushButton::clicked, this, &MainWindow::openDemoProject);
    connect(bannerClose, &QPushButton::clicked, demoBanner_, &QWidget::hide);
    demoBanner_->setVisible(recentProjects().isEmpty());

    auto* central = new QWidget(this);
    auto* centralLayout = new QVBoxLayout(central);
    centralLayout->setContentsMargins(0, 0, 0, 0);
    centralLayout->setSpacing(0);
    centralLayout->addWidget(demoBanner_);
    centralLayout->addWidget(tabs_, 1);
    setCentralWidget(central);
    jobs_ = new JobsWidget(engine_, this);
    statusBar()->addPermanentWidget(jobs_);
    statusBar()->showMessage(tr("No project open — File ▸ New Project or Open Project"));
    connect(engine_, &Engine::jobFailed, this, [this](int id, const QString& error) {
        statusBar()->showMessage(tr("Job %1 failed: %2").arg(id).arg(error));
    });
    buildMenus();

    // ---- the window's own (trailing) tabs: addPanel() inserts the other panels before these.
    chat_ = new ChatPanel(engine_, this);
    insertTab(chat_, tr("Chat"), tabs_->count());
    ++trailingTabs_;
    // The reward-model inspector sits just before Chat: both are "look at what you trained" tabs.
    insertTab(new RewardInspectorPanel(engine_, this), tr("Reward Model"), tabs_->count() - trailingTabs_);
    ++trailingTabs_;

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
    QAction* demo = help->addAction(tr("Open &Demo Project…"), this, &MainWindow::openDemoProject);
    demo->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_D));
    help->addSeparator();
    QAction* about = help->addAction(tr("&About RLHF Workbench"), this, &MainWindow::showAbout);
    about->setShortcut(QKeySequence::HelpContents);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::addPanel(QWidget* panel, const QString& title) {
    insertTab(panel, title, tabs_->count() - trailingTabs_);
}

void MainWindow::insertTab(QWidget* panel, const QString& title, int index) {
    tabs_->insertTab(index, panel, title);
    rebuildViewMenu();
    const int saved = QSettings().value(kTabKey, 0).toInt();
    if (saved == index) tabs_->setCurrentIndex(index);
}

// One action per tab in tab order, Ctrl+1…9 by position (tabs can be inserted before others).
void MainWindow::rebuildViewMenu() {
    viewMenu_->clear();
    for (int i = 0; i < tabs_->count(); ++i) {
        QWidget* panel = tabs_->widget(i);
        QAction* act = viewMenu_->addAction(tabs_->tabText(i), this, [this, panel] { tabs_->setCurrentWidget(panel); });
        if (i < 9) act->setShortcut(QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)));
    }
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
    demoBanner_->hide();
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

QString MainWindow::aboutText() {
    QString info = Engine::backendInfo();
    // LibTorch and CUDA as the process that runs the models sees them (`rlhf version` is built
    // without LibTorch; `rlhf chat --info` is). Bounded by a 5 s timeout: loading LibTorch's
    // shared libraries takes a moment on a cold start.
    QProcess cli;
    cli.start(Engine::cliPath(), {QStringLiteral("chat"), QStringLiteral("--info")});
    if (cli.waitForFinished(5000) && cli.exitStatus() == QProcess::NormalExit && cli.exitCode() == 0) {
        const QJsonObject o = QJsonDocument::fromJson(cli.readAllStandardOutput()).object();
        info += tr("\nLibTorch %1").arg(o.value(QStringLiteral("torch")).toString());
        const int devices = o.value(QStringLiteral("cuda_devices")).toInt();
        info += o.value(QStringLiteral("cuda_available")).toBool()
                    ? tr("\nCUDA: %n device(s)", nullptr, devices)
                    : tr("\nCUDA: not available (CPU, %1 threads)").arg(o.value(QStringLiteral("threads")).toInt());
    } else {
        cli.kill();
        cli.waitForFinished(1000);
        info += tr("\nLibTorch: unknown (this rlhf CLI has no models: %1)").arg(Engine::cliPath());
    }
    return info;
}

QMessageBox* MainWindow::makeAboutBox() {
    auto* box = new QMessageBox(this);
    box->setWindowTitle(tr("About RLHF Workbench"));
    box->setTextFormat(Qt::PlainText);
    box->setText(tr("RLHF Workbench %1\nA native desktop for the whole RLHF loop.")
                     .arg(QApplication::applicationVersion()));
    // aboutText() starts two CLI processes (up to ~7 s on a cold start): never on the GUI thread.
    // The box opens at once and its text is filled in when the worker answers.
    box->setInformativeText(tr("Asking the rlhf CLI for LibTorch and CUDA versions…"));
    box->setObjectName(QStringLiteral("aboutBox"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    QPointer<QMessageBox> target(box);
    QThread* worker = QThread::create([target] {
        const QString text = aboutText();
        QMetaObject::invokeMethod(qApp, [target, text] {
            if (target) {
                target->setInformativeText(text);
                target->setProperty("aboutReady", true);
            }
        }, Qt::QueuedConnection);
    });
    connect(worker, &QThread::finished, worker, &QObject::deleteLater);
    worker->start();
    return box;
}

void MainWindow::showAbout() { makeAboutBox()->open(); }

// ---- the demo project

void MainWindow::openDemoProject() {
    const QString dir = defaultDemoProjectDir();
    if (isDemoProjectBuilt(dir)) {
        openProject(dir);
        return;
    }
    if (demoJob_ && engine_->isRunning(demoJob_)) {
        statusBar()->showMessage(tr("The demo project is being built (see the jobs area)."), 5000);
        return;
    }
    const auto answer = QMessageBox::question(
        this, tr("Open demo project"),
        tr("The demo project is not built yet. Build it in %1?\n\nThis trains a tokenizer and a tiny model on a "
           "generated review corpus and labels 500 pairs with a simulated annotator: a few minutes on a CPU, "
           "nothing downloaded. It runs as a job you can follow and cancel in the status bar.")
            .arg(QDir::toNativeSeparators(dir)),
        QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Yes);
    if (answer == QMessageBox::Yes) buildAndOpenDemo(dir);
}

int MainWindow::buildAndOpenDemo(const QString& dir, const QStringList& extraArgs) {
    demoDir_ = QFileInfo(dir).absoluteFilePath();
    QDir().mkpath(demoDir_);
    // A half-built folder from an interrupted build is rebuilt from scratch.
    QStringList args = extraArgs;
    if (!args.contains(QStringLiteral("--force"))) args << QStringLiteral("--force");
    demoJob_ = startDemoBuild(*engine_, demoDir_, args);
    statusBar()->showMessage(tr("Building the demo project in %1…").arg(QDir::toNativeSeparators(demoDir_)));
    const int job = demoJob_;
    // Single-shot connection: the window opens the project once this job ends well.
    auto* conn = new QMetaObject::Connection;
    *conn = connect(engine_, &Engine::jobEnded, this, [this, job, conn](int id, JobOutcome outcome) {
        if (id != job) return;
        disconnect(*conn);
        delete conn;
        if (outcome == JobOutcome::Finished) {
            if (openProject(demoDir_)) {
                tabs_->setCurrentIndex(0);  // the walk-through starts with the corpus (Datasets)
                statusBar()->showMessage(tr("Demo project ready: label pairs, train the reward model and PPO from "
                                            "its configs/, then compare the models in Chat."), 15000);
            }
        } else if (outcome == JobOutcome::Cancelled) {
            statusBar()->showMessage(tr("Demo build cancelled."), 5000);
        }
    });
    return demoJob_;
}

void MainWindow::closeEvent(QCloseEvent* event) {
    QSettings settings;
    settings.setValue(kGeometryKey, saveGeometry());
    settings.setValue(kStateKey, saveState());
    settings.setValue(kTabKey, tabs_->currentIndex());
    engine_->cancelAll();
    QMainWindow::closeEvent(event);
}

}  // namespace rlhf::ui
