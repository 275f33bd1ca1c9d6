// The malformed files of test_bad_input.cpp, kept apart from the Q_OBJECT test class because
// moc's lexer trips over the raw string literals these tables are written in.
#include "data/bad_input_cases.h"

#include <zlib.h>

namespace data_test {

// A good TRL preference line and an alpaca line, for padding around the broken ones.
const QByteArray kPref = R"({"prompt": "p", "chosen": "c", "rejected": "r"})";
const QByteArray kHh =
    R"({"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go"})";
const QByteArray kAlpaca = R"({"instruction": "i", "input": "", "output": "o"})";

QByteArray lines(std::initializer_list<QByteArray> ls, const char* eol) {
    QByteArray out;
    for (const QByteArray& l : ls) out += l + eol;
    return out;
}

QByteArray gzip_bytes(const QByteArray& plain) {
    z_stream zs{};
    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    QByteArray out(int(deflateBound(&zs, uLong(plain.size()))) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.constData()));
    zs.avail_in = uInt(plain.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = uInt(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(int(zs.total_out));
    deflateEnd(&zs);
    return out;
}

std::vector<PerRecordCase> per_record_cases() {
    std::vector<PerRecordCase> cases;
    cases.push_back(PerRecordCase{"bom", "bom.jsonl", ("\xEF\xBB\xBF" + lines({kPref, kPref})),
                                  "trl-preference", 2, ""});
    cases.push_back(PerRecordCase{"crlf", "crlf.jsonl", lines({kPref, kPref, kPref}, "\r\n"),
                                  "trl-preference", 3, ""});
    cases.push_back(
        PerRecordCase{"blank lines keep numbering", "blank.jsonl",
                      lines({kPref, "", " ", R"({"prompt": "p", "chosen": "c"})", kPref}),
                      "trl-preference", 2, "4:missing field"});
    cases.push_back(PerRecordCase{"invalid UTF-8 in a string", "utf8.jsonl",
                                  lines({kPref,
                                         R"({"prompt": "caf)"
                                         "\xC3\x28"
                                         R"(", "chosen": "c", "rejected": "r"})",
                                         kPref}),
                                  "trl-preference", 2, "2:invalid UTF-8"});
    cases.push_back(PerRecordCase{"overlong UTF-8 slash", "overlong.jsonl",
                                  lines({kPref, kPref,
                                         R"({"prompt": "a)"
                                         "\xC0\xAF"
                                         R"(", "chosen": "c", "rejected": "r"})"}),
                                  "trl-preference", 2, "3:invalid UTF-8"});
    cases.push_back(PerRecordCase{"UTF-8 surrogate", "surrogate.jsonl",
                                  lines({R"({"prompt": ")"
                                         "\xED\xA0\x80"
                                         R"(", "chosen": "c", "rejected": "r"})",
                                         kPref}),
                                  "trl-preference", 1, "1:invalid UTF-8"});
    cases.push_back(PerRecordCase{
        "invalid JSON", "syntax.jsonl",
        lines({kPref, R"({"prompt": "p", "chosen": )", kPref, "{'single': 'quotes'}"}),
        "trl-preference", 2, "2:invalid JSON;4:invalid JSON"});
    cases.push_back(
        PerRecordCase{"number where a string is expected", "number.jsonl",
                      lines({kPref, R"({"prompt": 42, "chosen": "c", "rejected": "r"})", kPref}),
                      "trl-preference", 2, "2:wrong type"});
    cases.push_back(
        PerRecordCase{"wrong JSON types", "types.jsonl",
                      lines({kPref, R"({"prompt": "p", "chosen": {"text": "c"}, "rejected": "r"})",
                             R"({"prompt": "p", "chosen": "c", "rejected": ["r"]})",
                             R"({"prompt": "p", "chosen": true, "rejected": "r"})", kPref}),
                      "trl-preference", 2, "2:wrong type;3:wrong type;4:wrong type"});
    cases.push_back(
        PerRecordCase{"null fields", "null.jsonl",
                      lines({kPref, R"({"prompt": "p", "chosen": null, "rejected": "r"})", kPref}),
                      "trl-preference", 2, "2:null field"});
    cases.push_back(PerRecordCase{"missing fields", "missing.jsonl",
                                  lines({kAlpaca, R"({"instruction": "i", "input": "x"})", kAlpaca,
                                         R"({"output": "o", "instruction": null})"}),
                                  "alpaca", 2, "2:missing field;4:null field"});
    cases.push_back(PerRecordCase{
        "not an object", "scalar.jsonl", lines({kPref, "[1, 2]", "\"text\"", "17", kPref}),
        "trl-preference", 2, "2:not an object;3:not an object;4:not an object"});
    cases.push_back(PerRecordCase{"mixed formats", "mixed.jsonl",
                                  lines({kHh, kHh, kAlpaca, kHh, R"({"text": "t"})", kHh}),
                                  "hh-rlhf", 4, "3:format mismatch;5:format mismatch"});
    cases.push_back(PerRecordCase{
        "hh transcript without markers", "hh-bad.jsonl",
        lines(
            {kHh,
             R"({"chosen": "\n\nHuman: hi\n\nAssistant: a", "rejected": "\n\nHuman: hi\n\nAssistant: b"})",
             R"({"chosen": "preamble\n\nHuman: hi\n\nAssistant: a", "rejected": "\n\nHuman: hi\n\nAssistant: b"})",
             kHh}),
        "hh-rlhf", 3, "3:bad value"});
    cases.push_back(
        PerRecordCase{"deeply nested JSON", "deep.jsonl",
                      lines({kPref, QByteArray(100000, '[') + QByteArray(100000, ']'),
                             R"({"prompt": "p", "chosen": "c", "rejected": "r", "meta": )" +
                                 QByteArray(500, '[') + QByteArray(500, ']') + "}",
                             kPref}),
                      "trl-preference", 2, "2:nesting too deep;3:nesting too deep"});
    cases.push_back(PerRecordCase{
        "identical pair dropped", "same.jsonl",
        lines({kPref, R"({"prompt": "p", "chosen": "same", "rejected": "same"})", kPref}),
        "trl-preference", 2, "2:identical pair"});
    cases.push_back(PerRecordCase{
        "unknown message role", "roles.jsonl",
        lines(
            {R"({"messages": [{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}]})",
             R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})",
             R"({"messages": [{"role": "user", "content": 5}]})", R"({"messages": []})"}),
        "messages", 1, "1:bad value;3:wrong type;4:empty record"});
    cases.push_back(PerRecordCase{
        "sharegpt unknown speaker", "speaker.jsonl",
        lines(
            {R"({"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]})",
             R"({"conversations": [{"from": "alien", "value": "a"}]})",
             R"({"conversations": "not a list"})"}),
        "sharegpt", 1, "2:bad value;3:wrong type"});
    cases.push_back(PerRecordCase{
        "shp labels not 0/1", "shp.jsonl",
        lines({R"({"history": "h", "human_ref_A": "a", "human_ref_B": "b", "labels": 1})",
               R"({"history": "h", "human_ref_A": "a", "human_ref_B": "b", "labels": 2})",
               R"({"history": "h", "human_ref_A": "a", "human_ref_B": "b", "labels": "yes"})"}),
        "shp", 1, "2:bad value;3:wrong type"});
    // CSV: record 2 spans lines 3-4 (a quoted newline), so the short record is on line 5.
    cases.push_back(PerRecordCase{
        "csv embedded newline keeps line numbers", "nl.csv",
        QByteArray("prompt,chosen,rejected\np,c,r\n\"multi\nline\",c,r\nonly,two\np,c,r\n"),
        "trl-preference", 3, "5:CSV field count"});
    cases.push_back(PerRecordCase{
        "csv embedded delimiter and CRLF", "crlf.csv",
        QByteArray("prompt,chosen,rejected\r\n\"a,b\",\"c\r\nd\",r\r\np,c,\"r,\"\"q\"\"\"\r\n"),
        "trl-preference", 2, ""});
    cases.push_back(PerRecordCase{
        "csv unterminated quote resumes on the next line", "quote.csv",
        QByteArray("prompt,chosen,rejected\np,c,r\n\"never closed,c,r\np2,c2,r2\np3,c3,r3\n"),
        "trl-preference", 3, "3:unterminated CSV quote"});
    cases.push_back(
        PerRecordCase{"csv invalid UTF-8 cell", "utf8.csv",
                      QByteArray("prompt,chosen,rejected\np,c,r\np,\xFF\xFE,r\np,c,r\n"),
                      "trl-preference", 2, "3:invalid UTF-8"});
    cases.push_back(
        PerRecordCase{"tsv wrong field count", "a.tsv",
                      QByteArray("instruction\tinput\toutput\ni\t\to\ni\to\ni\tx\to\textra\n"),
                      "alpaca", 1, "3:CSV field count;4:CSV field count"});
    // JSON arrays: issue lines are element index + 1.
    cases.push_back(
        PerRecordCase{"json array cut off mid-element", "cut.json",
                      ("[" + kPref + ",\n" + kPref + ",\n" + R"({"prompt": "p", "chos)"),
                      "trl-preference", 2, "3:truncated file"});
    cases.push_back(PerRecordCase{"json array not closed", "open.json",
                                  ("[" + kPref + ",\n" + kPref + "\n"), "trl-preference", 2,
                                  "3:truncated file"});
    cases.push_back(PerRecordCase{
        "json array bad elements", "elements.json",
        ("[" + kPref + ", 5, \"s\", null, {\"prompt\": \"x\" \"y\"}, " + kPref + "]"),
        "trl-preference", 2, "2:not an object;3:not an object;4:not an object;5:invalid JSON"});
    cases.push_back(PerRecordCase{
        "json array deep element", "deep.json",
        ("[" + kPref + ", " + QByteArray(5000, '[') + QByteArray(5000, ']') + ", " + kPref + "]"),
        "trl-preference", 2, "2:nesting too deep"});
    cases.push_back(
        PerRecordCase{"json array invalid UTF-8 element", "utf8.json",
                      ("[" + kPref + ",\n" + R"({"prompt": ")" + "\xF8\x88\x80\x80\x80" +
                       R"(", "chosen": "c", "rejected": "r"})" + ",\n" + kPref + "]"),
                      "trl-preference", 2, "2:invalid UTF-8"});
    cases.push_back(
        PerRecordCase{"gzip with BOM and CRLF", "bom.jsonl.gz",
                      gzip_bytes("\xEF\xBB\xBF" + lines({kPref, "{bad", kPref}, "\r\n")),
                      "trl-preference", 2, "2:invalid JSON"});
    // The gzip trailer (CRC, size) cut off: all three lines inflate, then the stream is short.
    QByteArray gz = gzip_bytes(lines({kPref, kPref, kPref}));
    cases.push_back(PerRecordCase{"gzip cut in its trailer", "trailer.jsonl.gz",
                                  gz.left(gz.size() - 4), "trl-preference", 3, "4:truncated file"});
    return cases;
}

std::vector<WholeFileCase> whole_file_cases() {
    std::vector<WholeFileCase> cases;
    cases.push_back(WholeFileCase{"empty file", "empty.jsonl", QByteArray(), "empty file"});
    cases.push_back(
        WholeFileCase{"whitespace only", "ws.json", QByteArray(" \n\r\n\t"), "empty file"});
    cases.push_back(WholeFileCase{"BOM only", "bom.csv", QByteArray("\xEF\xBB\xBF"), "empty file"});
    cases.push_back(WholeFileCase{"csv header only", "h.csv",
                                  QByteArray("prompt,chosen,rejected\n"), "empty file"});
    cases.push_back(
        WholeFileCase{"empty gzip", "e.jsonl.gz", gzip_bytes(QByteArray()), "empty file"});
    cases.push_back(WholeFileCase{"json scalar", "n.json", QByteArray("42"), "array of records"});
    cases.push_back(WholeFileCase{"json object without a list", "o.json",
                                  QByteArray("{\n \"version\": 1,\n \"items\": {}\n}"),
                                  "no 'data'"});
    cases.push_back(WholeFileCase{"no record fits any format", "x.jsonl",
                                  lines({R"({"foo": 1})", "garbage", R"({"bar": 2})"}),
                                  "cannot detect"});
    cases.push_back(WholeFileCase{"gzip header only", "t.jsonl.gz",
                                  gzip_bytes(lines({kPref, kPref})).left(12), "gzip"});
    cases.push_back(WholeFileCase{"csv header with an unterminated quote", "hq.csv",
                                  QByteArray("\"prompt,chosen,rejected\np,c,r\n"),
                                  "bad header row"});
    return cases;
}

}  // namespace data_test
