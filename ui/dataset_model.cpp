#include "ui/dataset_model.h"

#include <QPointer>

#include <algorithm>
#include <cstdlib>

#include "core/store/project.h"
#include "ui/engine.h"
#include "ui/record_text.h"

namespace rlhf::ui {

DatasetModel::DatasetModel(Engine* engine, QObject* parent) : QAbstractTableModel(parent), engine_(engine) {}

void DatasetModel::setDataset(qint64 datasetId) {
    datasetId_ = datasetId;
    reload();
}

void DatasetModel::setSearch(const QString& search) {
    search_ = search.trimmed();
    reload();
}

void DatasetModel::reload() {
    beginResetModel();
    ++generation_;
    pages_.clear();
    lru_.clear();
    inFlight_.clear();
    total_ = 0;
    endResetModel();
    Q_EMIT totalChanged(0);
    if (datasetId_ > 0) requestPage(0);  // page 0 also brings the total
}

void DatasetModel::requestPage(int page) const {
    if (inFlight_.contains(page) || !engine_->hasProject()) return;
    inFlight_.insert(page);
    ++pagesRequested_;
    store::RowQuery query;
    query.dataset_id = datasetId_;
    query.search = search_.toStdString();
    query.offset = qint64(page) * kPageRows;
    query.limit = kPageRows;
    const quint64 generation = generation_;
    latestPage_->store(page);
    QPointer<DatasetModel> self(const_cast<DatasetModel*>(this));
    engine_->readAsync([self, generation, page, query, latest = latestPage_](store::Project& project) -> std::function<void()> {
        if (std::abs(latest->load() - page) > kStalePageDistance) {
            // Scrolled away meanwhile: forget the request; data() asks again if it comes back.
            return [self, page] {
                if (self) self->inFlight_.remove(page);
            };
        }
        store::RowPage result;
        QString error;
        try {
            result = project.rows(query);
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());  // e.g. an FTS syntax error in the search box
        }
        return [self, generation, page, result = std::move(result), error]() mutable {
            if (!self) return;
            if (!error.isEmpty()) {
                self->inFlight_.remove(page);
                Q_EMIT self->queryFailed(error);
                return;
            }
            self->onPage(generation, page, std::move(result));
        };
    });
}

void DatasetModel::onPage(quint64 generation, int page, store::RowPage result) {
    if (generation != generation_) return;  // an answer to a query the user has since changed
    inFlight_.remove(page);
    const qint64 oldTotal = total_;
    if (result.total != total_) {
        // Rows appear (first page, or an import grew the dataset) or vanish.
        if (result.total > total_) {
            beginInsertRows({}, int(total_), int(result.total - 1));
            total_ = result.total;
            endInsertRows();
        } else {
            beginResetModel();
            total_ = result.total;
            pages_.clear();
            lru_.clear();
            endResetModel();
        }
    }
    pages_.insert(page, std::move(result.rows));
    lru_.remove(page);
    lru_.push_front(page);
    while (int(lru_.size()) > kMaxCachedPages) {
        pages_.remove(lru_.back());
        lru_.pop_back();
    }
    const int first = page * kPageRows;
    const int last = std::min<qint64>(total_, qint64(first) + kPageRows) - 1;
    if (last >= first) Q_EMIT dataChanged(index(first, 0), index(last, ColumnCount - 1));
    if (oldTotal != total_) Q_EMIT totalChanged(total_);
    Q_EMIT pageLoaded(page);
}

const store::StoredRecord* DatasetModel::recordAt(int row) const {
    const int page = row / kPageRows;
    auto it = pages_.constFind(page);
    if (it == pages_.constEnd()) return nullptr;
    const size_t i = size_t(row % kPageRows);
    return i < it->size() ? &(*it)[i] : nullptr;
}

int DatasetModel::rowCount(const QModelIndex& parent) const {
    // Views are int-indexed; a dataset past 2^31 rows shows its first 2^31.
    return parent.isValid() ? 0 : int(std::min<qint64>(total_, std::numeric_limits<int>::max()));
}

int DatasetModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant DatasetModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || (role != Qt::DisplayRole && role != Qt::ToolTipRole)) return {};
    const int page = index.row() / kPageRows;
    const store::StoredRecord* r = recordAt(index.row());
    if (!r) {
        if (role == Qt::DisplayRole) requestPage(page);
        return role == Qt::DisplayRole ? QVariant(QStringLiteral("…")) : QVariant();
    }
    if (role == Qt::DisplayRole) {
        lru_.remove(page);  // O(cache size) ≤ 64: cheap, keeps the visible page warm
        lru_.push_front(page);
    }
    const data::Record& rec = r->record;
    QString text;
    switch (index.column()) {
    case ColId: return QVariant::fromValue(r->id);
    case ColKind: return QString::fromLatin1(data::record_kind_name(rec.kind));
    case ColFormat: return QString::fromStdString(rec.format);
    case ColPrompt:
        if (rec.kind == data::RecordKind::Preference) text = messagesText(rec.pref.prompt);
        else if (rec.kind == data::RecordKind::Sft) text = messagesText(rec.sft.messages);
        else text = messagesText(rec.prompt.prompt);
        break;
    case ColChosen:
        if (rec.kind == data::RecordKind::Preference) text = messagesText(rec.pref.chosen);
        break;
    case ColRejected:
        if (rec.kind == data::RecordKind::Preference) text = messagesText(rec.pref.rejected);
        break;
    default: break;
    }
    return role == Qt::DisplayRole ? QVariant(oneLine(text)) : QVariant(text.left(2000));
}

QVariant DatasetModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (role != Qt::DisplayRole) return {};
    if (orientation == Qt::Vertical) return section + 1;
    switch (section) {
    case ColId: return tr("id");
    case ColKind: return tr("kind");
    case ColFormat: return tr("format");
    case ColPrompt: return tr("prompt / conversation");
    case ColChosen: return tr("chosen");
    case ColRejected: return tr("rejected");
    default: return {};
    }
}

}  // namespace rlhf::ui
