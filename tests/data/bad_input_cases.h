// Tables of malformed files for test_bad_input.cpp (see bad_input_cases.cpp).
#pragma once
#include <QByteArray>
#include <QString>

#include <initializer_list>
#include <vector>

namespace data_test {

extern const QByteArray kPref;    // a good trl-preference JSONL line
extern const QByteArray kHh;      // a good hh-rlhf JSONL line
extern const QByteArray kAlpaca;  // a good alpaca JSONL line

QByteArray lines(std::initializer_list<QByteArray> ls, const char* eol = "\n");  // each + eol
QByteArray gzip_bytes(const QByteArray& plain);                                  // gzip (RFC 1952)

// A file whose broken records are skipped while the rest imports.
struct PerRecordCase {
    const char* tag;
    const char* name;  // file name: the extension picks CSV / TSV; .json may hold JSONL
    QByteArray bytes;
    const char* format;  // the format detection must pick
    int ok;              // good records that must import
    const char* issues;  // expected issues, "line:category;..." (see issue_list)
};
std::vector<PerRecordCase> per_record_cases();

// A file that is rejected whole with an rlhf::Error whose message contains `message`.
struct WholeFileCase {
    const char* tag;
    const char* name;
    QByteArray bytes;
    const char* message;  // expected substring
};
std::vector<WholeFileCase> whole_file_cases();

}  // namespace data_test
