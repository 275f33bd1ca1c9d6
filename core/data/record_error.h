// RecordError: a per-record problem. Importers throw it while mapping one record; import_file
// catches it, counts it under `category` and keeps going with the next record.
#pragma once
#include <stdexcept>
#include <string>

namespace rlhf::data {

// Reason categories (ImportSummary::skipped_by_reason keys). One table so tests and the GUI can
// name them.
inline constexpr const char* kIssueInvalidJson = "invalid JSON";
inline constexpr const char* kIssueInvalidUtf8 = "invalid UTF-8";
inline constexpr const char* kIssueLineTooLong = "line too long";
inline constexpr const char* kIssueTooDeep = "nesting too deep";
inline constexpr const char* kIssueNotObject = "not an object";
inline constexpr const char* kIssueMissingField = "missing field";
inline constexpr const char* kIssueNullField = "null field";
inline constexpr const char* kIssueWrongType = "wrong type";
inline constexpr const char* kIssueBadValue = "bad value";
inline constexpr const char* kIssueFormatMismatch = "format mismatch";
inline constexpr const char* kIssueCsvFieldCount = "CSV field count";
inline constexpr const char* kIssueCsvQuote = "unterminated CSV quote";
inline constexpr const char* kIssueTruncated = "truncated file";
inline constexpr const char* kIssueIdenticalPair = "identical pair";
inline constexpr const char* kIssueLengthFilter = "length filter";
inline constexpr const char* kIssueEmptyRecord = "empty record";

class RecordError : public std::runtime_error {
  public:
    RecordError(std::string category, const std::string& reason)
        : std::runtime_error(reason), category_(std::move(category)) {}
    const std::string& category() const { return category_; }

  private:
    std::string category_;
};

}  // namespace rlhf::data
