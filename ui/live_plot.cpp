#include "ui/live_plot.h"

#include <QComboBox>
#include <QFile>
#include <QHBoxLayout>
#include <QLabel>
#include <QMetaObject>
#include <QMouseEvent>
#include <QPushButton>
#include <QSaveFile>
#include <QSlider>
#include <QTextStream>
#include <QToolTip>
#include <QVBoxLayout>
#include <QFileDialog>

#include "ui/qcp.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rlhf::ui {

namespace {
// Tableau 10: distinguishable on light and dark backgrounds.
const QColor kPalette[] = {QColor(0x4e, 0x79, 0xa7), QColor(0xf2, 0x8e, 0x2b), QColor(0xe1, 0x57, 0x59),
                           QColor(0x76, 0xb7, 0xb2), QColor(0x59, 0xa1, 0x4f), QColor(0xed, 0xc9, 0x48),
                           QColor(0xb0, 0x7a, 0xa1), QColor(0xff, 0x9d, 0xa7), QColor(0x9c, 0x75, 0x5f),
                           QColor(0xba, 0xb0, 0xac)};
constexpr int kPaletteSize = int(sizeof(kPalette) / sizeof(kPalette[0]));

void styleAxis(QCPAxis* axis, const QPalette& pal) {
    const QColor fg = pal.color(QPalette::WindowText);
    axis->setBasePen(QPen(fg));
    axis->setTickPen(QPen(fg));
    axis->setSubTickPen(QPen(fg));
    axis->setTickLabelColor(fg);
    axis->setLabelColor(fg);
    QColor grid = fg;
    grid.setAlpha(40);
    axis->grid()->setPen(QPen(grid, 1, Qt::DotLine));
}
}  // namespace

LivePlot::LivePlot(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Smoothing"), this));
    smoothingSlider_ = new QSlider(Qt::Horizontal, this);
    smoothingSlider_->setObjectName(QStringLiteral("smoothingSlider"));
    smoothingSlider_->setRange(0, 99);
    smoothingSlider_->setValue(int(std::lround(smoothing_ * 100)));
    smoothingSlider_->setMaximumWidth(160);
    smoothingSlider_->setToolTip(tr("Exponential moving average weight (TensorBoard style)"));
    bar->addWidget(smoothingSlider_);
    smoothingLabel_ = new QLabel(QString::number(smoothing_, 'f', 2), this);
    bar->addWidget(smoothingLabel_);
    bar->addSpacing(12);
    bar->addWidget(new QLabel(tr("X axis"), this));
    xAxisBox_ = new QComboBox(this);
    xAxisBox_->setObjectName(QStringLiteral("xAxisBox"));
    xAxisBox_->addItems({tr("Step"), tr("Wall time (s)")});
    bar->addWidget(xAxisBox_);
    bar->addStretch(1);
    auto* fit = new QPushButton(tr("Fit"), this);
    fit->setToolTip(tr("Fit all data and follow new points (or double-click the plot)"));
    auto* png = new QPushButton(tr("PNG…"), this);
    auto* csv = new QPushButton(tr("CSV…"), this);
    bar->addWidget(fit);
    bar->addWidget(png);
    bar->addWidget(csv);
    layout->addLayout(bar);

    plot_ = new QCustomPlot(this);
    plot_->setObjectName(QStringLiteral("plot"));
    plot_->setMinimumSize(200, 150);
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot_->setMouseTracking(true);
    plot_->legend->setVisible(true);
    plot_->legend->setFont(font());
    plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    plot_->xAxis->setLabel(tr("step"));
    plot_->setNoAntialiasingOnDrag(true);
    layout->addWidget(plot_, 1);

    replotTimer_.setSingleShot(true);
    replotTimer_.setInterval(kReplotIntervalMs);
    connect(&replotTimer_, &QTimer::timeout, this, [this] {
        drain();
        replotNow();
    });
    connect(smoothingSlider_, &QSlider::valueChanged, this, [this](int v) { setSmoothing(v / 100.0); });
    connect(xAxisBox_, &QComboBox::currentIndexChanged, this,
            [this](int i) { setXAxis(i == 0 ? XAxis::Step : XAxis::WallTime); });
    connect(fit, &QPushButton::clicked, this, [this] {
        follow_ = true;
        replotNow();
    });
    connect(png, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export plot"), QStringLiteral("plot.png"),
                                                          tr("PNG images (*.png)"));
        if (!path.isEmpty()) exportPng(path);
    });
    connect(csv, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export data"), QStringLiteral("metrics.csv"),
                                                          tr("CSV files (*.csv)"));
        if (!path.isEmpty()) exportCsv(path);
    });
    connect(plot_, &QCustomPlot::mouseMove, this, &LivePlot::onMouseMove);
    connect(plot_, &QCustomPlot::mousePress, this, &LivePlot::onMousePress);
    connect(plot_, &QCustomPlot::mouseRelease, this, &LivePlot::onMouseRelease);
    connect(plot_, &QCustomPlot::mouseWheel, this, [this] { follow_ = false; });
    // Clicking a legend entry hides or shows that series (its entry stays, greyed out).
    connect(plot_, &QCustomPlot::legendClick, this, [this](QCPLegend*, QCPAbstractLegendItem* item, QMouseEvent*) {
        auto* pli = qobject_cast<QCPPlottableLegendItem*>(item);
        if (!pli) return;
        for (const Series& s : series_) {
            if (s.raw == pli->plottable() || s.smooth == pli->plottable()) {
                setSeriesVisible(s.name, !s.visible);
                return;
            }
        }
    });
    connect(plot_, &QCustomPlot::mouseDoubleClick, this, [this] {
        follow_ = true;
        replotNow();
    });

    // Follow the platform palette (light or dark) rather than QCustomPlot's fixed white.
    const QPalette pal = palette();
    plot_->setBackground(pal.brush(QPalette::Base));
    plot_->axisRect()->setBackground(pal.brush(QPalette::Base));
    styleAxis(plot_->xAxis, pal);
    styleAxis(plot_->yAxis, pal);
    plot_->legend->setBrush(pal.brush(QPalette::Base));
    plot_->legend->setTextColor(pal.color(QPalette::Text));
    plot_->legend->setBorderPen(QPen(pal.color(QPalette::Mid)));
}

LivePlot::~LivePlot() = default;

void LivePlot::appendPoint(const QString& series, double step, double wallTime, double value) {
    bool queue = false;
    {
        std::lock_guard<std::mutex> lock(pendingMutex_);
        pending_.push_back(Pending{series, step, wallTime, value});
        if (!replotQueued_) replotQueued_ = queue = true;
    }
    // At most one queued call per replot period: the timer itself must be started on our thread.
    if (queue) {
        QMetaObject::invokeMethod(this, [this] {
            if (!replotTimer_.isActive()) replotTimer_.start();
        }, Qt::QueuedConnection);
    }
}

void LivePlot::drain() {
    std::vector<Pending> batch;
    {
        std::lock_guard<std::mutex> lock(pendingMutex_);
        batch.swap(pending_);
        replotQueued_ = false;
    }
    for (const Pending& p : batch) {
        Series& s = seriesFor(p.series);
        s.step.push_back(p.step);
        s.wall.push_back(p.wall);
        s.value.push_back(p.value);
        const double sm = s.ema.add(p.value);
        s.smoothed.push_back(sm);
        const double x = xAxis_ == XAxis::Step ? p.step : p.wall;
        s.raw->addData(x, p.value);
        s.smooth->addData(x, sm);
    }
}

void LivePlot::replotNow() {
    if (follow_) {
        bool any = false;
        QCPRange xr, yr;
        for (const Series& s : series_) {
            if (!s.visible || s.value.empty()) continue;
            bool foundX = false, foundY = false;
            const QCPRange rx = s.raw->getKeyRange(foundX);
            const QCPRange ry = smoothing_ > 0 ? s.smooth->getValueRange(foundY) : s.raw->getValueRange(foundY);
            if (!foundX || !foundY) continue;
            if (!any) {
                xr = rx;
                yr = ry;
                any = true;
            } else {
                xr.expand(rx);
                yr.expand(ry);
            }
        }
        if (any) {
            if (xr.size() <= 0) xr = QCPRange(xr.lower - 1, xr.upper + 1);
            const double pad = yr.size() > 0 ? yr.size() * 0.05 : std::max(1e-9, std::abs(yr.lower) * 0.1 + 0.1);
            plot_->xAxis->setRange(xr);
            plot_->yAxis->setRange(yr.lower - pad, yr.upper + pad);
        }
    }
    plot_->replot();
    ++replotCount_;
}

void LivePlot::flushNow() {
    replotTimer_.stop();
    drain();
    replotNow();
}

LivePlot::Series& LivePlot::seriesFor(const QString& name) {
    auto it = index_.constFind(name);
    if (it != index_.constEnd()) return series_[size_t(*it)];
    const int i = int(series_.size());
    series_.emplace_back();
    Series& s = series_.back();
    s.name = name;
    s.ema = Ema(smoothing_);
    s.raw = plot_->addGraph();
    s.smooth = plot_->addGraph();
    s.raw->removeFromLegend();
    s.smooth->setName(name);
    applyStyle(s, i);
    index_.insert(name, i);
    return s;
}

void LivePlot::applyStyle(Series& s, int colorIndex) {
    const QColor color = kPalette[colorIndex % kPaletteSize];
    QColor faint = color;
    faint.setAlpha(smoothing_ > 0 ? 70 : 255);
    s.raw->setPen(QPen(faint, 1.2));
    s.smooth->setPen(QPen(color, 2.0));
    s.raw->setVisible(s.visible);
    s.smooth->setVisible(s.visible && smoothing_ > 0);
    const QColor text = palette().color(s.visible ? QPalette::Active : QPalette::Disabled, QPalette::Text);
    // With no smoothing the smoothed graph would duplicate the raw one; the legend then names raw.
    if (smoothing_ > 0) {
        s.raw->removeFromLegend();
        s.smooth->addToLegend();
        s.raw->setName(QString());
    } else {
        s.smooth->removeFromLegend();
        s.raw->setName(s.name);
        s.raw->addToLegend();
    }
    if (auto* item = plot_->legend->itemWithPlottable(smoothing_ > 0 ? static_cast<QCPAbstractPlottable*>(s.smooth) : s.raw)) {
        item->setTextColor(text);
    }
}

const std::vector<double>& LivePlot::xs(const Series& s) const {
    return xAxis_ == XAxis::Step ? s.step : s.wall;
}

void LivePlot::rebuildGraphs(Series& s) {
    const std::vector<double>& x = xs(s);
    s.ema = Ema(smoothing_);
    s.smoothed.clear();
    for (double v : s.value) s.smoothed.push_back(s.ema.add(v));
    s.raw->setData(QVector<double>(x.begin(), x.end()), QVector<double>(s.value.begin(), s.value.end()));
    s.smooth->setData(QVector<double>(x.begin(), x.end()),
                      QVector<double>(s.smoothed.begin(), s.smoothed.end()));
}

void LivePlot::clear() {
    {
        std::lock_guard<std::mutex> lock(pendingMutex_);
        pending_.clear();
    }
    plot_->clearGraphs();
    series_.clear();
    index_.clear();
    follow_ = true;
    replotNow();
}

void LivePlot::removeSeries(const QString& name) {
    {
        // Points of this series still waiting for the timer would bring it back.
        std::lock_guard<std::mutex> lock(pendingMutex_);
        pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                      [&](const Pending& p) { return p.series == name; }),
                       pending_.end());
    }
    auto it = index_.find(name);
    if (it == index_.end()) return;
    const size_t i = size_t(*it);
    plot_->removeGraph(series_[i].raw);
    plot_->removeGraph(series_[i].smooth);
    series_.erase(series_.begin() + long(i));
    index_.clear();
    for (size_t k = 0; k < series_.size(); ++k) index_.insert(series_[k].name, int(k));
    if (!replotTimer_.isActive()) replotTimer_.start();
}

void LivePlot::removeSeriesWithPrefix(const QString& prefix) {
    {
        std::lock_guard<std::mutex> lock(pendingMutex_);
        pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                      [&](const Pending& p) { return p.series.startsWith(prefix); }),
                       pending_.end());
    }
    for (const QString& name : seriesNames()) {
        if (name.startsWith(prefix)) removeSeries(name);
    }
}

void LivePlot::setSeriesVisible(const QString& name, bool visible) {
    auto it = index_.constFind(name);
    if (it == index_.constEnd()) return;
    Series& s = series_[size_t(*it)];
    if (s.visible == visible) return;  // called after every poll: only a change costs a replot
    s.visible = visible;
    applyStyle(s, *it);
    if (!replotTimer_.isActive()) replotTimer_.start();
}

void LivePlot::setSmoothing(double weight) {
    weight = std::clamp(weight, 0.0, 0.99);
    if (weight == smoothing_) return;
    smoothing_ = weight;
    smoothingLabel_->setText(QString::number(weight, 'f', 2));
    const int sliderValue = int(std::lround(weight * 100));
    if (smoothingSlider_->value() != sliderValue) {
        const QSignalBlocker block(smoothingSlider_);  // no feedback loop through valueChanged
        smoothingSlider_->setValue(sliderValue);
    }
    drain();
    for (size_t i = 0; i < series_.size(); ++i) {
        rebuildGraphs(series_[i]);
        applyStyle(series_[i], int(i));
    }
    replotNow();
}

void LivePlot::setXAxis(XAxis axis) {
    if (axis == xAxis_) return;
    xAxis_ = axis;
    if (xAxisBox_->currentIndex() != (axis == XAxis::Step ? 0 : 1)) {
        const QSignalBlocker block(xAxisBox_);
        xAxisBox_->setCurrentIndex(axis == XAxis::Step ? 0 : 1);
    }
    plot_->xAxis->setLabel(axis == XAxis::Step ? tr("step") : tr("wall time (s)"));
    drain();
    for (Series& s : series_) rebuildGraphs(s);
    follow_ = true;
    replotNow();
}

void LivePlot::setTitle(const QString& title) {
    plot_->yAxis->setLabel(title);
    replotNow();
}

bool LivePlot::exportPng(const QString& path, int width, int height) {
    flushNow();
    return plot_->savePng(path, width, height);
}

bool LivePlot::exportCsv(const QString& path) {
    flushNow();
    QSaveFile file(path);  // atomic: a crash mid-export leaves the old file, not half a new one
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) return false;
    QTextStream out(&file);
    out << "series,step,wall_time,value,smoothed\n";
    for (const Series& s : series_) {
        QString name = s.name;
        if (name.contains(QLatin1Char(',')) || name.contains(QLatin1Char('"'))) {
            name.replace(QStringLiteral("\""), QStringLiteral("\"\""));
            name = QStringLiteral("\"%1\"").arg(name);
        }
        for (size_t i = 0; i < s.value.size(); ++i) {
            out << name << ',' << QString::number(s.step[i], 'g', 17) << ','
                << QString::number(s.wall[i], 'g', 17) << ',' << QString::number(s.value[i], 'g', 17) << ','
                << QString::number(s.smoothed[i], 'g', 17) << '\n';
        }
    }
    out.flush();
    return file.commit();
}

QStringList LivePlot::seriesNames() const {
    QStringList names;
    for (const Series& s : series_) names << s.name;
    return names;
}

int LivePlot::pointCount(const QString& series) const {
    auto it = index_.constFind(series);
    return it == index_.constEnd() ? 0 : int(series_[size_t(*it)].value.size());
}

QPoint LivePlot::pixelOf(const QString& series, int index) const {
    auto it = index_.constFind(series);
    if (it == index_.constEnd()) return {};
    const Series& s = series_[size_t(*it)];
    if (index < 0 || size_t(index) >= s.value.size()) return {};
    const double y = smoothing_ > 0 ? s.smoothed[size_t(index)] : s.value[size_t(index)];
    return QPoint(int(std::lround(plot_->xAxis->coordToPixel(xs(s)[size_t(index)]))),
                  int(std::lround(plot_->yAxis->coordToPixel(y))));
}

bool LivePlot::nearestPoint(const QPoint& pos, QString* series, double* step, double* value,
                            double maxPixels) const {
    double best = maxPixels * maxPixels;
    bool found = false;
    const double keyAtPos = plot_->xAxis->pixelToCoord(pos.x());
    const double keyTolerance = std::abs(plot_->xAxis->pixelToCoord(pos.x() + maxPixels) - keyAtPos);
    for (const Series& s : series_) {
        if (!s.visible || s.value.empty()) continue;
        const std::vector<double>& x = xs(s);
        // x is sorted when points arrive in step order (the normal case); only look near the cursor.
        const bool sorted = std::is_sorted(x.begin(), x.end());
        size_t lo = 0, hi = x.size();
        if (sorted) {
            lo = size_t(std::lower_bound(x.begin(), x.end(), keyAtPos - keyTolerance) - x.begin());
            hi = size_t(std::upper_bound(x.begin(), x.end(), keyAtPos + keyTolerance) - x.begin());
        }
        for (size_t i = lo; i < hi; ++i) {
            // Both the smoothed and the raw point count as "the point" under the cursor.
            for (double y : {s.value[i], s.smoothed[i]}) {
                const double dx = plot_->xAxis->coordToPixel(x[i]) - pos.x();
                const double dy = plot_->yAxis->coordToPixel(y) - pos.y();
                const double d2 = dx * dx + dy * dy;
                if (d2 <= best) {
                    best = d2;
                    found = true;
                    if (series) *series = s.name;
                    if (step) *step = s.step[i];
                    if (value) *value = s.value[i];
                }
            }
        }
    }
    return found;
}

void LivePlot::onMouseMove(QMouseEvent* event) {
    if (event->buttons() != Qt::NoButton) {
        follow_ = false;  // the user is panning
        return;
    }
    QString name;
    double step = 0, value = 0;
    if (nearestPoint(event->pos(), &name, &step, &value)) {
        QToolTip::showText(event->globalPosition().toPoint(),
                           QStringLiteral("%1\nstep %2\nvalue %3").arg(name).arg(qint64(step)).arg(value, 0, 'g', 6),
                           plot_);
    } else {
        QToolTip::hideText();
    }
}

void LivePlot::onMousePress(QMouseEvent* event) { pressPos_ = event->pos(); }

void LivePlot::onMouseRelease(QMouseEvent* event) {
    // A click, not the end of a drag: emit the point under the cursor.
    if ((event->pos() - pressPos_).manhattanLength() > 3 || event->button() != Qt::LeftButton) return;
    QString name;
    double step = 0;
    if (nearestPoint(event->pos(), &name, &step, nullptr)) Q_EMIT pointClicked(name, qint64(step));
}

}  // namespace rlhf::ui
