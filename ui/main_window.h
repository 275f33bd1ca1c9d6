// The workbench's main window: one project folder, its panels as tabs, the jobs area in the status
// bar. New/open/recent projects (QSettings), window geometry and state restored, every action's
// shortcut shown in its menu, an About dialog with the Qt/LibTorch/CUDA versions.
#pragma once
#include <QMainWindow>
#include <QString>
#include <QStringList>

class QMenu;
class QMessageBox;
class QTabWidget;

namespace rlhf::ui {

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
    // Adds a panel as a tab, with a View-menu action on Ctrl+<n> (n = its position, from 1).
    void addPanel(QWidget* panel, const QString& title);
    QWidget* panel(const QString& objectName) const;
    QStringList recentProjects() const;
    void showAbout();
    // The About box (Qt version, and LibTorch/CUDA as the rlhf CLI reports them), not yet shown.
    QMessageBox* makeAboutBox();

Q_SIGNALS:
    void projectChanged(const QString& dir);

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildMenus();
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
};

}  // namespace rlhf::ui
