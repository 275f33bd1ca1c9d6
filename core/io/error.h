// rlhf::Error — the one exception type core/ throws. Its message names the file, line/field or
// stage at fault ("model.safetensors: tensor 'wte.weight': data_offsets [0, 12) ..."); the CLI
// prints it as one line and exits 1, the GUI facade turns it into jobFailed(QString).
#pragma once
#include <stdexcept>
#include <string>

namespace rlhf {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Bad command-line usage: the CLI exits 2 instead of 1.
class UsageError : public Error {
public:
    explicit UsageError(const std::string& what) : Error(what) {}
};

// Thrown by long jobs when their cancel flag is set.
class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled") {}
};

}  // namespace rlhf
