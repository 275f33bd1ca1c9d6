// Screenshot mode (rlhf-workbench --screenshots DIR): builds a small demo project (import with a
// few bad lines, comparisons, some labels, a demo run), then saves a PNG of every panel and of the
// import dialog into DIR with QWidget::grab. Works under QT_QPA_PLATFORM=offscreen.
#pragma once
#include <QString>

namespace rlhf::ui {

// Writes a TRL-style preference JSONL with `records` good lines and two malformed ones; returns
// the number of lines written. The demo data of the screenshots and of the GUI tests.
int writeDemoPreferenceFile(const QString& path, int records);

// Returns a process exit code (0 = every PNG written).
int saveScreenshots(const QString& outDir, const QString& projectDir = QString());

}  // namespace rlhf::ui
