// Plain-text views of records for tables and panes: one line for a cell, full text for a pane.
#pragma once
#include <QString>

#include "core/data/records.h"

namespace rlhf::ui {

// "user: …\n\nassistant: …"; a role-less message (TRL standard format) is its content alone.
QString messagesText(const data::Messages& messages);
// The text squeezed to one line of at most `maxChars` characters (newlines shown as ⏎).
QString oneLine(const QString& text, int maxChars = 160);

}  // namespace rlhf::ui
