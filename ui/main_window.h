// The workbench's main window: one project folder, its panels as tabs, the jobs area in the status
// bar. New/open/recent projects (QSettings), window geometry and state restored, every action's
// shortcut shown in its menu, an About dialog with the Qt/LibTorch/CUDA versions. Help ▸ Open
// Demo Project builds the bundled demo (`rlhf demo`, as a job in the jobs area) when it is not
// built yet and opens it; on a first launch (no recent project) a banner offers the same.
//
// The window adds the Chat tab itself and keeps it last: addPanel() inserts the other panels
// before it, so ui/workbench.cpp's addPanels() needs no change.
#pragma once
#include <QMainWindow>
#include <QString>
#include <QStringList>

class QFrame;
class QMenu;
class QMessageBox;
class QTabWidget;

namespace rlhf::ui {

class ChatPanel;
class Engine;
class JobsWidget;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    static constexpr int kMaxRecentProjects = 8;

    // `engine` may be null: the window then owns an Engine of its own.
    explicit MainWindow(Engine* engine = nullptr, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens (creating if missing) a project folder; returns false and shows why on failure.
    bool openProject(const QString& dir);
    QString projectDir() const { return projectDir_; }
    Engine* engine() const { return engine_; }
    QTabWidget* tabs() const { return tabs_; }
    JobsWidget* jobsWidget() const { return jobs_; }
    // Adds a panel as a tab (before the window's own trailing tabs, i.e. Chat), with a View-menu
    // action on Ctrl+<n> (n = its position, from 1).
    void addPanel(QWidget* panel, const QString& title);
    ChatPanel* chatPanel() const { return chat_; }
    QWidget* panel(const QString& objectName) const;
    QStringList recentProjects() const;
    void showAbout();
    // The About box (Qt version, and LibTorch/CUDA as the rlhf CLI reports them), not yet shown.
    // Its text is filled in from a worker thread; property "aboutReady" turns true then.
    QMessageBox* makeAboutBox();
    // Qt (Engine::backendInfo, which asks `rlhf version`) plus LibTorch and CUDA from `rlhf chat --info`.
    static QString aboutText();

    // ---- the demo project (issue 7)
    // Help ▸ Open Demo Project…: opens `dir` (default: defaultDemoProjectDir()) when the demo is
    // built there, else asks, builds it as a job and opens it when the job finishes.
    void openDemoProject();
    // Starts building the demo in `dir` (`rlhf demo --project DIR extraArgs…`) and opens it when
    // done; returns the job id. Tests pass small settings (--reviews, --sft-steps, --pairs).
    int buildAndOpenDemo(const QString& dir, const QStringList& extraArgs = {});
    int demoJobId() const { return demoJob_; }
    QFrame* demoBanner() const { return demoBanner_; }  // shown on a first launch only

Q_SIGNALS:
    void projectChanged(const QString& dir);

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildMenus();
    void insertTab(QWidget* panel, const QString& title, int index);
    void rebuildViewMenu();
    void rememberRecent(const QString& dir);
    void rebuildRecentMenu();
    void newProject();
    void openProjectDialog();

    Engine* engine_;
    QTabWidget* tabs_;
    JobsWidget* jobs_;
    QMenu* viewMenu_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QString projectDir_;
    ChatPanel* chat_ = nullptr;
    int trailingTabs_ = 0;         // tabs the window adds itself, kept after those of addPanel
    QFrame* demoBanner_ = nullptr;
    int demoJob_ = 0;
    QString demoDir_;              // where the running demo job builds
};

}  // namespace rlhf::ui
