// Engine, the project half: the GUI thread's connection, the reader thread for paged views, and
// the jobs that write to the store (import, comparisons for labeling).
#include <QDir>
#include <QFileInfo>
#include <QMetaObject>
#include <QThread>

#include <random>

#include "core/io/error.h"
#include "core/store/project.h"
#include "ui/engine.h"
#include "ui/record_text.h"
#ifdef RLHF_UI_HAVE_IMPORT
#include "core/data/import.h"
#include "core/store/import_file.h"
#endif

namespace rlhf::ui {

bool Engine::openProject(const QString& dir, QString* error) {
    const QString path = QFileInfo(dir).absoluteFilePath();
    try {
        auto project = std::make_unique<store::Project>(store::Project::open(path.toStdString()));
        project_ = std::move(project);
    } catch (const std::exception& e) {
        if (error) *error = QString::fromUtf8(e.what());
        return false;
    }
    projectDir_ = path;
    Q_EMIT projectOpened(path);
    Q_EMIT projectDataChanged();
    return true;
}

store::Project& Engine::project() {
    if (!project_) throw rlhf::Error("workbench: no project is open");
    return *project_;
}

void Engine::readAsync(ReadWork work) {
    const QString dir = projectDir_;
    if (dir.isEmpty()) return;
    QMetaObject::invokeMethod(reader_, [this, dir, work = std::move(work)] {
        // Runs on the reader thread: (re)connect when the project changed since the last request.
        std::function<void()> done;
        try {
            if (!readerProject_ || readerProjectDir_ != dir) {
                readerProject_ = std::make_shared<store::Project>(store::Project::open(dir.toStdString()));
                readerProjectDir_ = dir;
            }
            done = work(*readerProject_);
        } catch (const std::exception& e) {
            const QString msg = QString::fromUtf8(e.what());
            done = [this, msg] { Q_EMIT jobFailed(0, msg); };
        }
        if (done) QMetaObject::invokeMethod(this, std::move(done), Qt::QueuedConnection);
    }, Qt::QueuedConnection);
}

QStringList Engine::importFormatNames() {
    QStringList names;
#ifdef RLHF_UI_HAVE_IMPORT
    for (const std::string& n : data::import_format_names()) names << QString::fromStdString(n);
#endif
    return names;
}

int Engine::startImport(const ImportRequest& request) {
    const std::string dir = projectDir_.toStdString();
    const QString name = QStringLiteral("Import %1").arg(QFileInfo(request.file).fileName());
    return startJob(name, [this, dir, request](JobContext& ctx) {
        if (dir.empty()) throw rlhf::Error("import: no project is open");
#ifdef RLHF_UI_HAVE_IMPORT
        store::Project project = store::Project::open(dir);
        const std::string file = request.file.toStdString();
        const std::string datasetName = request.dataset.isEmpty()
            ? QFileInfo(request.file).completeBaseName().toStdString() : request.dataset.toStdString();
        data::ImportOptions options;
        options.format = request.format.isEmpty() ? std::string("auto") : request.format.toStdString();
        if (request.as == QStringLiteral("sft")) options.as = data::RecordKind::Sft;
        if (request.as == QStringLiteral("preference")) options.as = data::RecordKind::Preference;
        if (request.as == QStringLiteral("prompts")) options.as = data::RecordKind::Prompt;
        options.strip_html = request.stripHtml;
        options.normalize_whitespace = request.normalizeWhitespace;
        options.cancel = ctx.cancelFlag();
        options.progress = [&ctx](uint64_t done, uint64_t total) { ctx.progress(int64_t(done), int64_t(total)); };
        // Same path as `rlhf import`: parsing on a reader thread, batched shared transactions here.
        const store::ProjectImport imported = store::import_file_into(project, file, datasetName, options);
        const data::ImportSummary& summary = imported.summary;
        const store::ImportCounts& counts = imported.counts;
        ImportResult result;
        result.file = request.file;
        result.format = QString::fromStdString(summary.format);
        result.kind = QString::fromLatin1(data::record_kind_name(summary.kind));
        result.dataset = QString::fromStdString(datasetName);
        result.recordsRead = qint64(summary.records_read);
        result.recordsOk = qint64(summary.records_ok);
        result.recordsSkipped = qint64(summary.records_skipped);
        result.inserted = qint64(counts.inserted);
        result.duplicates = qint64(counts.duplicates);
        for (const auto& [reason, count] : summary.skipped_by_reason) {
            result.skippedByReason.push_back({QString::fromStdString(reason), qint64(count)});
        }
        for (const data::ImportIssue& issue : summary.issues) {
            result.issues << QString::fromStdString(issue.to_string(QFileInfo(request.file).fileName().toStdString()));
        }
        const int id = ctx.id();
        ctx.postToGui([this, id, result] {
            Q_EMIT importFinished(id, result);
            Q_EMIT projectDataChanged();
        });
#else
        (void)ctx;
        (void)request;
        throw rlhf::Error("import: this build has no core/data importer");
#endif
    });
}

int Engine::startComparisonsFromDataset(qint64 datasetId, int limit, quint64 seed) {
    const std::string dir = projectDir_.toStdString();
    return startJob(QStringLiteral("Make comparisons"), [this, dir, datasetId, limit, seed](JobContext& ctx) {
        if (dir.empty()) throw rlhf::Error("comparisons: no project is open");
        store::Project project = store::Project::open(dir);
        std::mt19937_64 rng(seed);
        int made = 0;
        store::RowQuery query;
        query.dataset_id = datasetId;
        query.kind = data::RecordKind::Preference;
        query.limit = 256;
        while (made < limit) {
            const store::RowPage page = project.rows(query);
            if (page.rows.empty()) break;
            for (const store::StoredRecord& row : page.rows) {
                if (made >= limit) break;
                ctx.throwIfCancelled();
                // The dataset's own verdict becomes two "models", so the win rate of "chosen" over
                // "rejected" measures how often the annotator agrees with the dataset.
                store::Completion chosen, rejected;
                chosen.prompt_id = rejected.prompt_id = row.id;
                chosen.text = messagesText(row.record.pref.chosen).toStdString();
                rejected.text = messagesText(row.record.pref.rejected).toStdString();
                chosen.model = "dataset:chosen";
                rejected.model = "dataset:rejected";
                const int64_t a = project.add_completion(chosen);
                const int64_t b = project.add_completion(rejected);
                project.create_comparison(row.id, a, b, rng);
                ++made;
                ctx.progress(made, limit);
            }
            query.offset += int64_t(page.rows.size());
        }
        ctx.message("made " + std::to_string(made) + " comparisons");
        ctx.postToGui([this] { Q_EMIT projectDataChanged(); });
    });
}

}  // namespace rlhf::ui
