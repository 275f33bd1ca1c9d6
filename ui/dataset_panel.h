// DatasetPanel — the Dataset inspector: pick a dataset, search it (FTS), scroll its rows (paged
// model, ≥ 1M rows), and read a row in full below: a preference pair's chosen and rejected side by
// side with their word-level differences highlighted, or a conversation.
#pragma once
#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QTableView;
class QTextBrowser;
class QTimer;

namespace rlhf::ui {

class DatasetModel;
class Engine;

class DatasetPanel : public QWidget {
    Q_OBJECT
public:
    explicit DatasetPanel(Engine* engine, QWidget* parent = nullptr);
    DatasetModel* model() const { return model_; }
    QTableView* view() const { return view_; }
    QLineEdit* searchBox() const { return search_; }
    QComboBox* datasetBox() const { return datasets_; }
    QTextBrowser* promptPane() const { return prompt_; }
    QTextBrowser* chosenPane() const { return chosen_; }
    QTextBrowser* rejectedPane() const { return rejected_; }
    void reloadDatasets();
    void selectDataset(const QString& name);
    void openImportDialog();
    void showRow(int row);

private:
    Engine* engine_;
    DatasetModel* model_;
    QComboBox* datasets_;
    QLineEdit* search_;
    QLabel* count_;
    QTableView* view_;
    QTextBrowser* prompt_;
    QTextBrowser* chosen_;
    QTextBrowser* rejected_;
    QLabel* chosenTitle_;
    QLabel* rejectedTitle_;
    QTimer* searchDelay_;
};

}  // namespace rlhf::ui
