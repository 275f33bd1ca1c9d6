#include "core/data/csv_reader.h"

#include "core/data/record_error.h"

namespace rlhf::data {

CsvReader::CsvReader(const std::string& path, char delimiter, size_t max_record_bytes)
    : path_(path),
      delim_(delimiter),
      max_bytes_(max_record_bytes),
      lines_(std::make_unique<io::LineReader>(path, max_record_bytes)) {}

bool CsvReader::next_line(std::string& line) {
    return lines_->next(line);
}

void CsvReader::reopen_after(uint64_t line) {
    lines_ = std::make_unique<io::LineReader>(path_, max_bytes_);
    std::string skip;
    while (lines_->line_number() < line && lines_->next(skip)) {
    }
}

bool CsvReader::next(CsvRow& out) {
    out = CsvRow{};
    std::string line;
    do {
        if (!next_line(line)) return false;
        if (lines_->line_too_long()) {
            out.line = lines_->line_number();
            out.category = kIssueLineTooLong;
            out.error = "line longer than " + std::to_string(max_bytes_) + " bytes";
            return true;
        }
    } while (line.empty());
    out.line = lines_->line_number();

    std::string field;
    size_t bytes = 0;
    bool quoted = false;      // inside a quoted section
    bool was_quoted = false;  // the current field started with a quote
    size_t i = 0;
    for (;;) {
        if (i >= line.size()) {
            if (!quoted) {
                out.fields.push_back(std::move(field));
                return true;
            }
            // Newline inside quotes: the record continues on the next line.
            bytes += line.size() + 1;
            if (!next_line(line) || lines_->line_too_long() || bytes > max_bytes_) {
                bool too_long = lines_->line_too_long() || bytes > max_bytes_;
                uint64_t start = out.line;
                out.fields.clear();
                if (too_long) {
                    out.category = kIssueLineTooLong;
                    out.error = "quoted field longer than " + std::to_string(max_bytes_) + " bytes";
                } else {
                    out.category = kIssueCsvQuote;
                    out.error = "unterminated quoted field (the file ends inside quotes)";
                }
                // Resume on the line after the record's start: its other lines were probably
                // records of their own.
                if (resyncs_left_-- > 0) reopen_after(start);
                return true;
            }
            field += '\n';
            i = 0;
            continue;
        }
        char c = line[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < line.size() && line[i + 1] == '"') {
                    field += '"';
                    i += 2;
                    continue;
                }
                quoted = false;
                ++i;
                continue;
            }
            field += c;
            ++i;
            continue;
        }
        if (c == delim_) {
            out.fields.push_back(std::move(field));
            field.clear();
            was_quoted = false;
            ++i;
            continue;
        }
        if (c == '"' && field.empty() && !was_quoted) {
            quoted = was_quoted = true;
            ++i;
            continue;
        }
        field += c;
        ++i;
    }
}

}  // namespace rlhf::data
