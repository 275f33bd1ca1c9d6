// DatasetModel — a table over one dataset of the store, for a million rows and more: rowCount is
// the query's total, rows are fetched a page at a time on the Engine's reader thread into a
// windowed cache (at most kMaxCachedPages pages, least recently used dropped), so scrolling never
// runs SQL on the GUI thread and memory stays bounded. A row not yet fetched shows "…" until its
// page arrives. Changing the search or dataset bumps a generation that discards stale pages.
#pragma once
#include <QAbstractTableModel>
#include <QHash>
#include <QSet>
#include <QString>

#include <atomic>
#include <list>
#include <memory>
#include <vector>

#include "core/store/types.h"

namespace rlhf::ui {

class Engine;

class DatasetModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { ColId, ColKind, ColFormat, ColPrompt, ColChosen, ColRejected, ColumnCount };
    static constexpr int kPageRows = 200;
    static constexpr int kMaxCachedPages = 64;  // 12,800 rows in memory at most

    explicit DatasetModel(Engine* engine, QObject* parent = nullptr);

    void setDataset(qint64 datasetId);
    void setSearch(const QString& search);  // FTS words; "" = every row
    qint64 datasetId() const { return datasetId_; }
    qint64 total() const { return total_; }
    // The full record at a row when its page is cached (nullptr otherwise).
    const store::StoredRecord* recordAt(int row) const;
    int cachedPages() const { return int(pages_.size()); }
    int pagesRequested() const { return pagesRequested_; }
    void reload();

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    void totalChanged(qint64 total);
    void pageLoaded(int page);
    void queryFailed(const QString& error);

private:
    void requestPage(int page) const;
    void onPage(quint64 generation, int page, store::RowPage result);

    Engine* engine_;
    qint64 datasetId_ = 0;
    QString search_;
    qint64 total_ = 0;
    quint64 generation_ = 0;
    // Mutable: data() is const but fetching is a cache side effect.
    mutable QHash<int, std::vector<store::StoredRecord>> pages_;
    mutable std::list<int> lru_;  // most recent at the front
    mutable QSet<int> inFlight_;
    mutable int pagesRequested_ = 0;
    // The page the view asked for last, read by the reader thread: a request queued behind a
    // fast scroll that is by now far from the view is skipped rather than run (deep OFFSET pages
    // cost the store a scan each, so a backlog would leave the view waiting on pages long gone).
    std::shared_ptr<std::atomic<int>> latestPage_ = std::make_shared<std::atomic<int>>(0);
    static constexpr int kStalePageDistance = 3;
};

}  // namespace rlhf::ui
