// The workbench's main window: panels as tabs over one project folder.
#pragma once
#include <QMainWindow>
#include <QString>

namespace rlhf::ui {

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    void openProject(const QString& dir);
    QString projectDir() const { return projectDir_; }

Q_SIGNALS:
    void projectChanged(const QString& dir);

private:
    QString projectDir_;
};

}  // namespace rlhf::ui
