// RFC 4180 CSV / TSV records on top of io::LineReader (so gzip, the BOM and CRLF are handled
// there): quoted fields, "" for a quote inside quotes, delimiters and newlines inside quotes
// (a record then spans several lines; an embedded CRLF reads as LF). Lenient where Python's csv
// module is: text after a closing quote is kept. An unterminated quote would swallow the rest
// of the file; instead the reader reports that record and resumes on the line after it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/io/json_io.h"

namespace rlhf::data {

struct CsvRow {
    uint64_t line = 0;  // 1-based line where the record starts
    std::vector<std::string> fields;
    std::string category;  // "" = fine; else a kIssue* category (record_error.h)
    std::string error;
};

class CsvReader {
  public:
    CsvReader(const std::string& path, char delimiter, size_t max_record_bytes);
    // Blank lines between records are skipped. False at end of file.
    bool next(CsvRow& out);
    const io::LineReader& lines() const { return *lines_; }

  private:
    bool next_line(std::string& line);
    void reopen_after(uint64_t line);

    std::string path_;
    char delim_;
    size_t max_bytes_;
    std::unique_ptr<io::LineReader> lines_;
    int resyncs_left_ = 1000;  // bounds the rescans a file full of stray quotes can cause
};

}  // namespace rlhf::data
