#include "ui/import_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QLocale>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QToolButton>
#include <QVBoxLayout>

namespace rlhf::ui {

QString formatImportResult(const ImportResult& r) {
    const QLocale loc = QLocale::c();
    QString text = QStringLiteral("%1 → dataset \"%2\" (format %3, %4)\n")
                       .arg(QFileInfo(r.file).fileName(), r.dataset, r.format, r.kind);
    text += QStringLiteral("%1 read · %2 added · %3 already held · %4 skipped\n")
                .arg(loc.toString(r.recordsRead), loc.toString(r.inserted), loc.toString(r.duplicates),
                     loc.toString(r.recordsSkipped));
    if (!r.skippedByReason.isEmpty()) {
        text += QStringLiteral("\nSkipped, by reason:\n");
        for (const auto& [reason, count] : r.skippedByReason) {
            text += QStringLiteral("  %1  %2\n").arg(loc.toString(count), 8).arg(reason);
        }
    }
    if (!r.issues.isEmpty()) {
        text += QStringLiteral("\nFirst issues:\n");
        for (const QString& issue : r.issues.mid(0, 20)) text += QStringLiteral("  %1\n").arg(issue);
    }
    return text;
}

ImportDialog::ImportDialog(Engine* engine, QWidget* parent) : QDialog(parent), engine_(engine) {
    setObjectName(QStringLiteral("importDialog"));
    setWindowTitle(tr("Import dataset"));
    auto* form = new QFormLayout;
    file_ = new QLineEdit(this);
    file_->setObjectName(QStringLiteral("importFile"));
    auto* browse = new QToolButton(this);
    browse->setText(tr("…"));
    auto* fileRow = new QHBoxLayout;
    fileRow->addWidget(file_, 1);
    fileRow->addWidget(browse);
    form->addRow(tr("File"), fileRow);
    dataset_ = new QLineEdit(this);
    dataset_->setObjectName(QStringLiteral("importDataset"));
    dataset_->setPlaceholderText(tr("the file's name"));
    form->addRow(tr("&Dataset"), dataset_);
    format_ = new QComboBox(this);
    format_->addItem(QStringLiteral("auto"));
    format_->addItems(Engine::importFormatNames());
    form->addRow(tr("F&ormat"), format_);
    as_ = new QComboBox(this);
    as_->addItems({tr("as detected"), QStringLiteral("preference"), QStringLiteral("sft"), QStringLiteral("prompts")});
    form->addRow(tr("Import &as"), as_);
    stripHtml_ = new QCheckBox(tr("Strip HTML tags and entities"), this);
    normalizeWs_ = new QCheckBox(tr("Normalise whitespace"), this);
    form->addRow(QString(), stripHtml_);
    form->addRow(QString(), normalizeWs_);

    progress_ = new QProgressBar(this);
    progress_->setRange(0, 1000);
    progress_->setValue(0);
    summary_ = new QPlainTextEdit(this);
    summary_->setObjectName(QStringLiteral("importSummary"));
    summary_->setReadOnly(true);
    summary_->setPlaceholderText(tr("The import summary appears here."));
    summary_->setMinimumHeight(160);

    auto* buttons = new QDialogButtonBox(this);
    importButton_ = buttons->addButton(tr("&Import"), QDialogButtonBox::AcceptRole);
    cancelButton_ = buttons->addButton(tr("&Cancel job"), QDialogButtonBox::ActionRole);
    cancelButton_->setEnabled(false);
    QPushButton* close = buttons->addButton(QDialogButtonBox::Close);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(progress_);
    layout->addWidget(summary_, 1);
    layout->addWidget(buttons);
    resize(640, 480);

    connect(browse, &QToolButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Dataset file"), QString(),
            tr("Datasets (*.jsonl *.json *.csv *.tsv *.gz);;All files (*)"));
        if (!path.isEmpty()) setFile(path);
    });
    connect(importButton_, &QPushButton::clicked, this, [this] { startImport(); });
    connect(cancelButton_, &QPushButton::clicked, this, [this] { engine_->cancelJob(jobId_); });
    connect(close, &QPushButton::clicked, this, &QDialog::reject);
    connect(engine_, &Engine::jobProgress, this, [this](int id, qint64 done, qint64 total, double rate, double eta) {
        if (id != jobId_ || total <= 0) return;
        progress_->setValue(int(1000.0 * double(done) / double(total)));
        // The importer counts bytes of the file: show MiB rather than a byte count.
        constexpr double kMiB = 1024.0 * 1024.0;
        progress_->setFormat(tr("%1 / %2 MiB · %3 MiB/s · ETA %4 s")
                                 .arg(done / kMiB, 0, 'f', 1).arg(total / kMiB, 0, 'f', 1)
                                 .arg(rate / kMiB, 0, 'f', 1).arg(eta < 0 ? 0.0 : eta, 0, 'f', 0));
        progress_->setTextVisible(true);
    });
    connect(engine_, &Engine::importFinished, this, [this](int id, const ImportResult& r) {
        if (id == jobId_) showResult(r);
    });
    connect(engine_, &Engine::jobEnded, this, [this](int id, JobOutcome) {
        if (id != jobId_) return;
        importButton_->setEnabled(true);
        cancelButton_->setEnabled(false);
    });
    connect(engine_, &Engine::jobFailed, this, [this](int id, const QString& error) {
        if (id == jobId_) summary_->setPlainText(tr("Import failed: %1").arg(error));
    });
    connect(engine_, &Engine::jobCancelled, this, [this](int id) {
        if (id == jobId_) summary_->setPlainText(tr("Import cancelled (records of whole batches already added stay)."));
    });
}

void ImportDialog::setFile(const QString& path) {
    file_->setText(path);
    if (dataset_->text().isEmpty()) dataset_->setText(QFileInfo(path).completeBaseName().section(QLatin1Char('.'), 0, 0));
}

ImportRequest ImportDialog::request() const {
    ImportRequest r;
    r.file = file_->text().trimmed();
    r.dataset = dataset_->text().trimmed();
    r.format = format_->currentText();
    r.as = as_->currentIndex() == 0 ? QString() : as_->currentText();
    r.stripHtml = stripHtml_->isChecked();
    r.normalizeWhitespace = normalizeWs_->isChecked();
    return r;
}

int ImportDialog::startImport() {
    const ImportRequest r = request();
    if (r.file.isEmpty()) {
        summary_->setPlainText(tr("Choose a file first."));
        return 0;
    }
    done_ = false;
    summary_->setPlainText(tr("Importing %1 …").arg(r.file));
    progress_->setValue(0);
    importButton_->setEnabled(false);
    cancelButton_->setEnabled(true);
    jobId_ = engine_->startImport(r);
    return jobId_;
}

void ImportDialog::showResult(const ImportResult& r) {
    done_ = true;
    progress_->setValue(1000);
    summary_->setPlainText(formatImportResult(r));
    Q_EMIT imported(r);
}

QString ImportDialog::summaryText() const { return summary_->toPlainText(); }

}  // namespace rlhf::ui
