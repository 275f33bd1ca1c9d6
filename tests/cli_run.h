// Runs the rlhf CLI under test (RLHF_CLI_PATH) to completion and returns its exit code and
// output, for tests that check a command's behaviour end to end.
#pragma once
#include <QProcess>
#include <QString>
#include <QStringList>
#include <string>

namespace cli_test {

struct Result {
    int code = -1;         // exit code (QProcess::exitCode: -1 until the process finished)
    std::string out, err;  // all of stdout / stderr
};

// `cwd` empty = the test's working directory. The timeout bounds a hung command; a command that
// runs out of it is read as it stands (its code then stays what QProcess reports).
inline Result run_cli(const QStringList& args, const QString& cwd = QString(), int timeout_ms = 240000) {
    QProcess p;
    if (!cwd.isEmpty()) p.setWorkingDirectory(cwd);
    p.start(QStringLiteral(RLHF_CLI_PATH), args);
    p.waitForFinished(timeout_ms);
    return {p.exitCode(), p.readAllStandardOutput().toStdString(), p.readAllStandardError().toStdString()};
}

}  // namespace cli_test
