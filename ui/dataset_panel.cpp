#include "ui/dataset_panel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QTextBrowser>
#include <QTimer>
#include <QVBoxLayout>

#include "core/store/project.h"
#include "ui/dataset_model.h"
#include "ui/engine.h"
#include "ui/import_dialog.h"
#include "ui/record_text.h"
#include "ui/word_diff.h"

namespace rlhf::ui {

namespace {
QTextBrowser* makePane(QWidget* parent, const QString& name) {
    auto* pane = new QTextBrowser(parent);
    pane->setObjectName(name);
    pane->setOpenLinks(false);
    return pane;
}
QWidget* titled(QWidget* parent, QLabel* title, QWidget* body) {
    auto* box = new QWidget(parent);
    auto* v = new QVBoxLayout(box);
    v->setContentsMargins(0, 0, 0, 0);
    title->setStyleSheet(QStringLiteral("font-weight: bold"));
    v->addWidget(title);
    v->addWidget(body, 1);
    return box;
}
}  // namespace

DatasetPanel::DatasetPanel(Engine* engine, QWidget* parent) : QWidget(parent), engine_(engine) {
    setObjectName(QStringLiteral("datasetPanel"));
    model_ = new DatasetModel(engine_, this);

    datasets_ = new QComboBox(this);
    datasets_->setObjectName(QStringLiteral("datasetBox"));
    datasets_->setMinimumWidth(200);
    search_ = new QLineEdit(this);
    search_->setObjectName(QStringLiteral("searchBox"));
    search_->setPlaceholderText(tr("Search (all words; word* for a prefix)"));
    search_->setClearButtonEnabled(true);
    count_ = new QLabel(this);
    count_->setObjectName(QStringLiteral("rowCount"));
    auto* importButton = new QPushButton(tr("&Import…"), this);
    importButton->setObjectName(QStringLiteral("importButton"));
    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Dataset"), this));
    top->addWidget(datasets_);
    top->addWidget(search_, 1);
    top->addWidget(count_);
    top->addWidget(importButton);

    view_ = new QTableView(this);
    view_->setObjectName(QStringLiteral("rowsView"));
    view_->setModel(model_);
    view_->setSelectionBehavior(QAbstractItemView::SelectRows);
    view_->setSelectionMode(QAbstractItemView::SingleSelection);
    view_->setWordWrap(false);
    view_->setAlternatingRowColors(true);
    // Fixed row heights: with a million rows the header must not measure each one.
    view_->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    view_->verticalHeader()->setDefaultSectionSize(view_->fontMetrics().height() + 6);
    view_->verticalHeader()->hide();
    view_->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    view_->horizontalHeader()->setStretchLastSection(true);
    view_->setColumnWidth(DatasetModel::ColId, 70);
    view_->setColumnWidth(DatasetModel::ColKind, 90);
    view_->setColumnWidth(DatasetModel::ColFormat, 110);
    view_->setColumnWidth(DatasetModel::ColPrompt, 380);
    view_->setColumnWidth(DatasetModel::ColChosen, 300);

    prompt_ = makePane(this, QStringLiteral("promptPane"));
    chosen_ = makePane(this, QStringLiteral("chosenPane"));
    rejected_ = makePane(this, QStringLiteral("rejectedPane"));
    chosenTitle_ = new QLabel(tr("Chosen"), this);
    rejectedTitle_ = new QLabel(tr("Rejected"), this);
    auto* sides = new QSplitter(Qt::Horizontal, this);
    sides->addWidget(titled(this, chosenTitle_, chosen_));
    sides->addWidget(titled(this, rejectedTitle_, rejected_));
    auto* detail = new QSplitter(Qt::Vertical, this);
    detail->addWidget(titled(this, new QLabel(tr("Prompt / conversation"), this), prompt_));
    detail->addWidget(sides);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(view_);
    split->addWidget(detail);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(split, 1);

    // Search as you type, but one query per pause rather than one per key.
    searchDelay_ = new QTimer(this);
    searchDelay_->setSingleShot(true);
    searchDelay_->setInterval(250);
    connect(search_, &QLineEdit::textChanged, searchDelay_, qOverload<>(&QTimer::start));
    connect(search_, &QLineEdit::returnPressed, this, [this] {
        searchDelay_->stop();
        model_->setSearch(search_->text());
    });
    connect(searchDelay_, &QTimer::timeout, this, [this] { model_->setSearch(search_->text()); });
    connect(datasets_, &QComboBox::currentIndexChanged, this, [this](int i) {
        model_->setDataset(i >= 0 ? datasets_->itemData(i).toLongLong() : 0);
    });
    connect(model_, &DatasetModel::totalChanged, this, [this](qint64 total) {
        count_->setText(tr("%1 rows").arg(QLocale::c().toString(total)));
    });
    connect(model_, &DatasetModel::queryFailed, this, [this](const QString& e) { count_->setText(e); });
    connect(view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& current) { showRow(current.row()); });
    connect(model_, &DatasetModel::pageLoaded, this, [this](int) {
        const int row = view_->currentIndex().row();
        if (row >= 0 && prompt_->toPlainText().isEmpty()) showRow(row);
    });
    connect(importButton, &QPushButton::clicked, this, &DatasetPanel::openImportDialog);
    connect(engine_, &Engine::projectDataChanged, this, &DatasetPanel::reloadDatasets);
    reloadDatasets();  // a project opened before this panel existed
}

void DatasetPanel::reloadDatasets() {
    if (!engine_->hasProject()) return;
    const qint64 current = datasets_->currentData().toLongLong();
    std::vector<store::Dataset> list = engine_->project().datasets();
    {
        const QSignalBlocker block(datasets_);  // re-filling must not reload the model per item
        datasets_->clear();
        for (const store::Dataset& d : list) {
            datasets_->addItem(QStringLiteral("%1 (%2)").arg(QString::fromStdString(d.name))
                                   .arg(QLocale::c().toString(qlonglong(d.records))),
                               QVariant::fromValue<qlonglong>(d.id));
        }
        const int keep = datasets_->findData(QVariant::fromValue<qlonglong>(current));
        datasets_->setCurrentIndex(keep >= 0 ? keep : (datasets_->count() ? 0 : -1));
    }
    const qint64 selected = datasets_->currentData().toLongLong();
    if (selected != model_->datasetId() || selected == current) model_->setDataset(selected);
}

void DatasetPanel::selectDataset(const QString& name) {
    for (int i = 0; i < datasets_->count(); ++i) {
        if (datasets_->itemText(i).startsWith(name + QStringLiteral(" ("))) {
            datasets_->setCurrentIndex(i);
            return;
        }
    }
}

void DatasetPanel::openImportDialog() {
    auto* dialog = new ImportDialog(engine_, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &ImportDialog::imported, this, [this](const ImportResult& r) { selectDataset(r.dataset); });
    dialog->show();
}

void DatasetPanel::showRow(int row) {
    const store::StoredRecord* r = row >= 0 ? model_->recordAt(row) : nullptr;
    if (!r) {
        prompt_->clear();
        chosen_->clear();
        rejected_->clear();
        return;
    }
    const data::Record& rec = r->record;
    if (rec.kind == data::RecordKind::Preference) {
        prompt_->setPlainText(messagesText(rec.pref.prompt));
        const QVector<DiffToken> diff = wordDiff(messagesText(rec.pref.chosen), messagesText(rec.pref.rejected));
        chosen_->setHtml(diffHtml(diff, /*sideA=*/true));
        rejected_->setHtml(diffHtml(diff, /*sideA=*/false));
        chosenTitle_->setText(rec.pref.score_chosen ? tr("Chosen (score %1)").arg(*rec.pref.score_chosen) : tr("Chosen"));
        rejectedTitle_->setText(rec.pref.score_rejected ? tr("Rejected (score %1)").arg(*rec.pref.score_rejected)
                                                        : tr("Rejected"));
    } else {
        prompt_->setPlainText(messagesText(rec.kind == data::RecordKind::Sft ? rec.sft.messages : rec.prompt.prompt));
        chosen_->clear();
        rejected_->clear();
        chosenTitle_->setText(tr("Chosen"));
        rejectedTitle_->setText(tr("Rejected"));
    }
}

}  // namespace rlhf::ui
