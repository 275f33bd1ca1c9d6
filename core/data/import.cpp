// import_file: container sniffing, the raw-record sources (JSONL, JSON array, CSV/TSV), format
// detection over the first records, mapping, preprocessing, filters, the per-reason summary.
//
// Decisions worth knowing:
// - An empty file (no bytes, or only whitespace / a BOM) is a whole-file rlhf::Error
//   "<path>: empty file (no records)": there is nothing to detect a format from, and a user who
//   imported it most likely picked the wrong file.
// - A file where no record parses (so no format can be detected) is a whole-file error naming
//   the first problem; with --format forced, those records are per-record issues instead.
// - A gzip stream cut short after some records keeps those records and reports the cut as a
//   "truncated file" issue; cut before any record it is a whole-file error.
// - Line numbers: JSONL and CSV issues name the physical line where the record starts; JSON
//   arrays name the element index + 1 (ImportIssue::line) and also the line (file_line).
#include "core/data/import.h"

#include <chrono>
#include <deque>
#include <memory>

#include "core/data/byte_stream.h"
#include "core/data/csv_reader.h"
#include "core/data/formats.h"
#include "core/data/json_array_reader.h"
#include "core/data/preprocess.h"
#include "core/data/record_error.h"
#include "core/io/error.h"
#include "core/io/json_io.h"

namespace rlhf::data {

using nlohmann::json;

namespace {

constexpr size_t kMaxRecordBytes = 64u << 20;  // one record (line, element, CSV record): 64 MiB
constexpr int kMaxDepth = 128;                 // real records nest < 10 levels
constexpr size_t kDetectRecords = 8;           // valid records looked at before deciding a format
constexpr size_t kDetectMaxBuffered = 256;     // records buffered for detection at most...
constexpr size_t kDetectMaxBytes = 64u << 20;  // ...and bytes of their text at most

// One record as the container yields it, before any format is applied.
struct RawRecord {
    uint64_t line = 0;       // ImportIssue::line / Record::line
    uint64_t file_line = 0;  // physical line where it starts
    json value;
    size_t bytes = 0;             // size of the record's text, to bound what detection buffers
    std::string category, error;  // set when the record is unusable
};

class RawSource {
  public:
    virtual ~RawSource() = default;
    virtual bool next(RawRecord& out) = 0;
    virtual uint64_t bytes_done() const = 0;
    virtual uint64_t bytes_total() const = 0;
};

// Nesting depth of JSON text, strings skipped: checked before parsing so a hostile
// "[[[[..." line is rejected cheaply and never reaches a recursive algorithm.
int64_t json_depth(const std::string& s) {
    int64_t depth = 0, max_depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth) max_depth = depth;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return max_depth;
}

// Checks and parses one record's JSON text into out.value (or sets out.error).
void parse_record_text(const std::string& text, RawRecord& out) {
    size_t bad = 0;
    if (!is_valid_utf8(text, &bad)) {
        out.category = kIssueInvalidUtf8;
        out.error = "invalid UTF-8 at byte " + std::to_string(bad + 1) + " of the record";
        return;
    }
    if (json_depth(text) > kMaxDepth) {
        out.category = kIssueTooDeep;
        out.error = "nested deeper than " + std::to_string(kMaxDepth) + " levels";
        return;
    }
    try {
        out.value = json::parse(text);
    } catch (const json::parse_error& e) {
        out.category = kIssueInvalidJson;
        std::string what = e.what();
        // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." -> keep the tail
        size_t p = what.find("] ");
        out.error = "invalid JSON: " + (p == std::string::npos ? what : what.substr(p + 2));
    }
}

class JsonlSource : public RawSource {
  public:
    explicit JsonlSource(const std::string& path) : lines_(path, kMaxRecordBytes) {}
    bool next(RawRecord& out) override {
        std::string line;
        for (;;) {
            if (!lines_.next(line)) return false;
            out = RawRecord{};
            out.line = out.file_line = lines_.line_number();
            if (lines_.line_too_long()) {
                out.category = kIssueLineTooLong;
                out.error = "line longer than " + std::to_string(kMaxRecordBytes) + " bytes";
                return true;
            }
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
            out.bytes = line.size();
            parse_record_text(line, out);
            return true;
        }
    }
    uint64_t bytes_done() const override { return lines_.compressed_bytes_read(); }
    uint64_t bytes_total() const override { return lines_.file_size(); }

  private:
    io::LineReader lines_;
};

class JsonArraySource : public RawSource {
  public:
    explicit JsonArraySource(const std::string& path)
        : in_(path), reader_(in_, kMaxRecordBytes, kMaxDepth) {}
    bool next(RawRecord& out) override {
        JsonElement e;
        if (!reader_.next(e)) return false;
        out = RawRecord{};
        out.line = e.index;
        out.file_line = e.line;
        if (!e.category.empty()) {
            out.category = e.category;
            out.error = e.error;
        } else {
            out.bytes = e.text.size();
            parse_record_text(e.text, out);
        }
        return true;
    }
    uint64_t bytes_done() const override { return in_.compressed_bytes_read(); }
    uint64_t bytes_total() const override { return in_.file_size(); }

  private:
    ByteStream in_;
    JsonArrayReader reader_;
};

class CsvSource : public RawSource {
  public:
    CsvSource(const std::string& path, char delim) : csv_(path, delim, kMaxRecordBytes) {
        CsvRow header;
        if (!csv_.next(header)) throw Error(path + ": empty file (no records)");
        if (!header.category.empty())
            throw Error(path + ":" + std::to_string(header.line) +
                        ": bad header row: " + header.error);
        for (std::string& h : header.fields) {
            size_t b = h.find_first_not_of(" \t"), e = h.find_last_not_of(" \t");
            h = b == std::string::npos ? std::string() : h.substr(b, e - b + 1);
            if (!is_valid_utf8(h))
                throw Error(path + ":" + std::to_string(header.line) +
                            ": invalid UTF-8 in the header row");
        }
        header_ = std::move(header.fields);
        header_line_ = header.line;
    }
    bool next(RawRecord& out) override {
        CsvRow row;
        if (!csv_.next(row)) return false;
        out = RawRecord{};
        out.line = out.file_line = row.line;
        if (!row.category.empty()) {
            out.category = row.category;
            out.error = row.error;
            return true;
        }
        if (row.fields.size() != header_.size()) {
            out.category = kIssueCsvFieldCount;
            out.error = std::to_string(row.fields.size()) + " fields, the header (line " +
                        std::to_string(header_line_) + ") has " + std::to_string(header_.size());
            return true;
        }
        json obj = json::object();
        for (size_t i = 0; i < header_.size(); ++i) {
            std::string& cell = row.fields[i];
            out.bytes += cell.size();
            size_t bad = 0;
            if (!is_valid_utf8(cell, &bad)) {
                out.category = kIssueInvalidUtf8;
                out.error = "invalid UTF-8 in column '" + header_[i] + "'";
                return true;
            }
            // A message list stored as JSON text in a cell: parse it. Anything else stays text
            // (a prompt may well start with "[INST]").
            size_t first = cell.find_first_not_of(" \t\n");
            if (first != std::string::npos && (cell[first] == '[' || cell[first] == '{') &&
                json_depth(cell) <= kMaxDepth) {
                json v = json::parse(cell, nullptr, /*allow_exceptions=*/false);
                bool message_list = v.is_array() && !v.empty() && v[0].is_object();
                if (message_list || v.is_object()) {
                    obj[header_[i]] = std::move(v);
                    continue;
                }
            }
            obj[header_[i]] = std::move(cell);
        }
        out.value = std::move(obj);
        return true;
    }
    uint64_t bytes_done() const override { return csv_.lines().compressed_bytes_read(); }
    uint64_t bytes_total() const override { return csv_.lines().file_size(); }

  private:
    CsvReader csv_;
    std::vector<std::string> header_;
    uint64_t header_line_ = 0;
};

enum class Container { Json, Jsonl, Csv, Tsv };

std::string lower_ext(const std::string& path) {
    std::string p = path;
    for (char& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (p.size() > 3 && p.compare(p.size() - 3, 3, ".gz") == 0) p.resize(p.size() - 3);
    size_t slash = p.find_last_of('/');
    size_t dot = p.find_last_of('.');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return {};
    return p.substr(dot);
}

// Container from the name and the first bytes. JSON vs JSONL is decided by content, since
// Hugging Face `to_json` writes JSON Lines into files named .json.
Container sniff_container(const std::string& path) {
    std::string ext = lower_ext(path);
    ByteStream in(path);
    int c;
    while ((c = in.peek()) == ' ' || c == '\t' || c == '\n' || c == '\r') in.get();
    if (c < 0) throw Error(path + ": empty file (no records)");
    if (ext == ".csv") return Container::Csv;
    if (ext == ".tsv" || ext == ".tab") return Container::Tsv;
    if (c == '[') return Container::Json;  // whatever the name: a JSONL record is never an array
    if (ext == ".jsonl" || ext == ".ndjson") return Container::Jsonl;
    if (c == '{') {
        // An object that closes on its own first line is a JSONL record; one that spans lines
        // (pretty-printed) or whose first key is the record list is a JSON container.
        std::string head;
        int depth = 0;
        bool in_string = false;
        while ((c = in.get()) >= 0 && head.size() < (1u << 20)) {
            head += static_cast<char>(c);
            if (in_string) {
                if (c == '\\') {
                    int e = in.get();
                    if (e >= 0) head += static_cast<char>(e);
                } else if (c == '"') {
                    in_string = false;
                }
                continue;
            }
            if (c == '"')
                in_string = true;
            else if (c == '{' || c == '[')
                ++depth;
            else if (c == '}' || c == ']') {
                if (--depth == 0) break;
            } else if (c == '\n') {
                return Container::Json;
            }
        }
        // First key and what follows it: {"data": [ ...
        size_t k = head.find('"');
        size_t ke = k == std::string::npos ? k : head.find('"', k + 1);
        if (ke != std::string::npos) {
            std::string key = head.substr(k + 1, ke - k - 1);
            size_t v = head.find_first_not_of(" \t\r\n:", ke + 1);
            if ((key == "data" || key == "rows" || key == "train") && v != std::string::npos &&
                head[v] == '[')
                return Container::Json;
        }
        return Container::Jsonl;
    }
    if (ext == ".json") return Container::Json;
    // No telling name: a header row with more tabs than commas is TSV.
    std::string first;
    while ((c = in.get()) >= 0 && c != '\n' && first.size() < (1u << 16))
        first += static_cast<char>(c);
    size_t tabs = 0, commas = 0;
    for (char ch : first) tabs += ch == '\t', commas += ch == ',';
    if (tabs == 0 && commas == 0)
        throw Error(path + ": unknown container (not JSON, JSONL, CSV or TSV)");
    return tabs > commas ? Container::Tsv : Container::Csv;
}

std::unique_ptr<RawSource> open_source(const std::string& path, Container c) {
    switch (c) {
        case Container::Json:
            return std::make_unique<JsonArraySource>(path);
        case Container::Jsonl:
            return std::make_unique<JsonlSource>(path);
        case Container::Csv:
            return std::make_unique<CsvSource>(path, ',');
        case Container::Tsv:
            return std::make_unique<CsvSource>(path, '\t');
    }
    return nullptr;
}

void clean_text(Messages& ms, const ImportOptions& o) {
    for (Message& m : ms) {
        if (o.strip_html) m.content = strip_html(m.content);
        if (o.normalize_whitespace) m.content = normalize_whitespace(m.content);
    }
}

size_t count_messages(const Messages& ms, const ImportOptions& o) {
    size_t n = 0;
    for (const Message& m : ms) n += o.count_tokens(m.content);
    return n;
}

// Preprocessing and filters on a mapped record; throws RecordError when it is dropped.
void finish_record(Record& r, const ImportOptions& o) {
    clean_text(r.pref.prompt, o);
    clean_text(r.pref.chosen, o);
    clean_text(r.pref.rejected, o);
    clean_text(r.sft.messages, o);
    clean_text(r.prompt.prompt, o);
    if (o.drop_identical_pairs && r.kind == RecordKind::Preference &&
        r.pref.chosen == r.pref.rejected)
        throw RecordError(kIssueIdenticalPair, "chosen and rejected are identical");
    if (o.count_tokens && (o.min_tokens || o.max_tokens)) {
        size_t n = 0;
        switch (r.kind) {
            case RecordKind::Preference:
                // What a trainer feeds at once: the prompt with the longer response.
                n = count_messages(r.pref.prompt, o) +
                    std::max(count_messages(r.pref.chosen, o), count_messages(r.pref.rejected, o));
                break;
            case RecordKind::Sft:
                n = count_messages(r.sft.messages, o);
                break;
            case RecordKind::Prompt:
                n = count_messages(r.prompt.prompt, o);
                break;
        }
        if (o.min_tokens && n < o.min_tokens)
            throw RecordError(kIssueLengthFilter, std::to_string(n) +
                                                      " tokens, fewer than min_tokens " +
                                                      std::to_string(o.min_tokens));
        if (o.max_tokens && n > o.max_tokens)
            throw RecordError(kIssueLengthFilter, std::to_string(n) +
                                                      " tokens, more than max_tokens " +
                                                      std::to_string(o.max_tokens));
    }
}

class Importer {
  public:
    Importer(const std::string& path, const ImportOptions& o,
             const std::function<void(Record&&)>& sink)
        : path_(path), o_(o), sink_(sink) {
        summary_.file = path;
    }

    ImportSummary run() {
        if (o_.format != "auto" && !format_from_name(o_.format))
            throw UsageError("unknown format '" + o_.format + "' (known: auto" + names() + ")");
        source_ = open_source(path_, sniff_container(path_));
        std::deque<RawRecord> buffered;
        std::optional<Format> format;
        if (o_.format != "auto") {
            format = format_from_name(o_.format);
        } else {
            format = detect(buffered);
        }
        summary_.format = format_name(*format);
        RecordKind native = format_kind(*format);
        summary_.kind = o_.as ? *o_.as : native;
        if (!can_convert(native, summary_.kind))
            throw Error(path_ + ": " + format_name(*format) + " records are " +
                        record_kind_name(native) + " and cannot be imported as " +
                        record_kind_name(summary_.kind));
        for (RawRecord& raw : buffered) handle(raw, *format);
        buffered.clear();
        RawRecord raw;
        while (next_raw(raw)) handle(raw, *format);
        report_progress(true);
        return std::move(summary_);
    }

  private:
    static std::string names() {
        std::string s;
        for (const std::string& n : import_format_names()) s += ", " + n;
        return s;
    }

    // Reads raw records (reporting broken ones as they come) until kDetectRecords objects, then
    // votes: the most common detected format wins, ties to the earliest.
    Format detect(std::deque<RawRecord>& buffered) {
        std::vector<std::pair<Format, size_t>> votes;
        size_t objects = 0;
        std::string first_problem;
        RawRecord raw;
        size_t bytes = 0;
        while (objects < kDetectRecords && buffered.size() < kDetectMaxBuffered &&
               bytes < kDetectMaxBytes && next_raw(raw)) {
            bytes += raw.bytes;
            if (raw.error.empty()) {
                std::optional<Format> f = detect_format(raw.value);
                if (f) {
                    ++objects;
                    bool found = false;
                    for (auto& v : votes)
                        if (v.first == *f) ++v.second, found = true;
                    if (!found) votes.push_back({*f, 1});
                } else if (first_problem.empty()) {
                    first_problem =
                        path_ + ":" + std::to_string(raw.line) + ": " +
                        (raw.value.is_object() ? "the record's fields fit no known format"
                                               : "the record is not an object");
                }
            } else if (first_problem.empty()) {
                first_problem = path_ + ":" + std::to_string(raw.line) + ": " + raw.error;
            }
            buffered.push_back(std::move(raw));
        }
        if (votes.empty()) {
            if (buffered.empty()) throw Error(path_ + ": empty file (no records)");
            throw Error(path_ +
                        ": cannot detect the dataset format (pass --format); first problem: " +
                        (first_problem.empty() ? std::string("no records") : first_problem));
        }
        size_t best = 0;
        for (size_t i = 1; i < votes.size(); ++i)
            if (votes[i].second > votes[best].second) best = i;
        return votes[best].first;
    }

    bool next_raw(RawRecord& raw) {
        if (stopped_) return false;
        try {
            bool got = source_->next(raw);
            if (got) {
                ++raw_count_;
                last_line_ = raw.line;
            }
            return got;
        } catch (const Cancelled&) {
            throw;
        } catch (const Error& e) {
            // A gzip stream cut short (or a read error) after some records: keep what was read.
            if (raw_count_ == 0) throw;
            stopped_ = true;
            raw = RawRecord{};
            raw.line = last_line_ + 1;
            raw.category = kIssueTruncated;
            raw.error = e.what();
            return true;
        }
    }

    void issue(uint64_t line, uint64_t file_line, const std::string& category,
               const std::string& reason) {
        ++summary_.records_skipped;
        ++summary_.skipped_by_reason[category];
        if (summary_.issues.size() < o_.max_issues_kept) {
            ImportIssue is;
            is.line = line;
            is.reason = reason;
            // JSON arrays number elements; say where the element is in the file as well.
            if (file_line && file_line != line)
                is.reason += " (element starts on line " + std::to_string(file_line) + ")";
            is.category = category;
            is.file_line = file_line;
            summary_.issues.push_back(std::move(is));
        }
    }

    void handle(RawRecord& raw, Format format) {
        if (o_.cancel && o_.cancel->load(std::memory_order_relaxed)) throw Cancelled();
        ++summary_.records_read;
        if (!raw.error.empty()) {
            issue(raw.line, raw.file_line, raw.category, raw.error);
        } else {
            try {
                Record r = map_record(format, raw.value);
                convert_record(r, summary_.kind);
                finish_record(r, o_);
                r.line = raw.line;
                ++summary_.records_ok;
                sink_(std::move(r));
            } catch (const RecordError& e) {
                issue(raw.line, raw.file_line, e.category(), e.what());
            }
        }
        report_progress(false);
    }

    void report_progress(bool final) {
        if (!o_.progress) return;
        auto now = std::chrono::steady_clock::now();
        if (!final && now - last_progress_ < std::chrono::milliseconds(100)) return;
        last_progress_ = now;
        uint64_t total = source_->bytes_total();
        o_.progress(final ? total : std::min(source_->bytes_done(), total), total);
    }

    std::string path_;
    const ImportOptions& o_;
    const std::function<void(Record&&)>& sink_;
    std::unique_ptr<RawSource> source_;
    ImportSummary summary_;
    bool stopped_ = false;
    uint64_t raw_count_ = 0;  // raw records the source has yielded
    uint64_t last_line_ = 0;  // line of the last raw record read, to place a truncation
    std::chrono::steady_clock::time_point last_progress_{};
};

}  // namespace

std::string ImportIssue::to_string(const std::string& file) const {
    return file + ":" + std::to_string(line) + ": " + reason;
}

std::vector<std::string> import_format_names() {
    std::vector<std::string> names;
    for (Format f : {Format::TrlPreference, Format::TrlPreferenceConversational, Format::HhRlhf,
                     Format::UltraFeedback, Format::Shp, Format::Alpaca, Format::ShareGpt,
                     Format::Messages, Format::Text, Format::PromptCompletion, Format::Prompts})
        names.push_back(format_name(f));
    return names;
}

ImportSummary import_file(const std::string& path, const ImportOptions& options,
                          const std::function<void(Record&&)>& sink) {
    return Importer(path, options, sink).run();
}

}  // namespace rlhf::data
