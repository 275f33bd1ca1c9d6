// Includes QCustomPlot under QT_NO_KEYWORDS: its header writes `signals` and `foreach`, which that
// define removes (we need it because Qt's keywords break LibTorch headers, pytorch#19405). The
// words are mapped to Q_SIGNALS/Q_FOREACH for this one include and removed again afterwards.
#pragma once
#include <QtGlobal>
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach
