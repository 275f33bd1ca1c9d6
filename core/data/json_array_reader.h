// Streams the elements of a JSON dataset file without loading it: either a top-level array of
// records, or an object holding the records in a list under "data", "rows" or "train" (other
// keys are skipped). A byte-level splitter tracks strings, escapes and nesting depth and hands
// out one element's text at a time; each element is then parsed on its own, so memory is
// bounded by the largest element (max_element_bytes), not by the file.
#pragma once
#include <cstdint>
#include <string>

#include "core/data/byte_stream.h"

namespace rlhf::data {

struct JsonElement {
    uint64_t index = 0;    // 1-based position in the array
    uint64_t line = 0;     // 1-based line of the file where the element starts
    std::string text;      // the element's JSON text (empty when error is set)
    std::string category;  // "" = fine; otherwise a kIssue* category (record_error.h)
    std::string error;     // reason, e.g. "element nested deeper than 128 levels"
};

class JsonArrayReader {
  public:
    // Positions the stream at the first element. Throws rlhf::Error naming the path when the
    // file is neither an array nor an object with such a list.
    JsonArrayReader(ByteStream& in, size_t max_element_bytes, int max_depth);
    // False after the closing ']'. A file that ends before it yields one last element whose
    // category is kIssueTruncated.
    bool next(JsonElement& out);

  private:
    int get();
    void skip_ws();
    std::string read_key();  // at '"': the key text (escapes kept raw; keys are short)
    void skip_value();       // any value, at its first byte
    void find_list_in_object();

    ByteStream& in_;
    size_t max_bytes_;
    int max_depth_;
    uint64_t line_ = 1;
    uint64_t index_ = 0;
    bool done_ = false;
};

}  // namespace rlhf::data
