// ImportDialog — pick a file, a dataset name and options; the import runs on a worker (Engine
// job) with a progress bar and Cancel; at the end the dialog shows what was read, added, held
// already, and the skipped records counted by reason with the first few file:line issues.
#pragma once
#include <QDialog>

#include "ui/engine.h"

class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;

namespace rlhf::ui {

class ImportDialog : public QDialog {
    Q_OBJECT
public:
    explicit ImportDialog(Engine* engine, QWidget* parent = nullptr);
    void setFile(const QString& path);
    ImportRequest request() const;
    // Starts the import with the current fields (what the Import button does); returns the job id.
    int startImport();
    int jobId() const { return jobId_; }
    QString summaryText() const;
    bool lastImportOk() const { return done_; }

Q_SIGNALS:
    void imported(const rlhf::ui::ImportResult& result);

private:
    void showResult(const ImportResult& r);

    Engine* engine_;
    QLineEdit* file_;
    QLineEdit* dataset_;
    QComboBox* format_;
    QComboBox* as_;
    QCheckBox* stripHtml_;
    QCheckBox* normalizeWs_;
    QProgressBar* progress_;
    QPlainTextEdit* summary_;
    QPushButton* importButton_;
    QPushButton* cancelButton_;
    int jobId_ = 0;
    bool done_ = false;
};

// "1,200 read · 1,150 added · 30 already held · 20 skipped (missing field 'chosen': 12, …)"
QString formatImportResult(const ImportResult& r);

}  // namespace rlhf::ui
