// Test helper: runs this test executable again as `world_size` child processes with a torchrun
// environment on loopback (MASTER_ADDR=127.0.0.1, a free MASTER_PORT, RANK, WORLD_SIZE,
// LOCAL_RANK) plus RLHF_DIST_TEST_CHILD=<mode>, so a test's main() can branch into the child's
// work. Each child's stdout+stderr go to <dir>/rank<r>.log.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace rlhf::dist_test {

// A TCP port that was free a moment ago (bound to 0, read back, closed).
inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        throw std::runtime_error("bind() failed");
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// Starts the children and waits for them; returns their exit codes (128+signal when killed).
inline std::vector<int> spawn_ranks(const std::string& mode, int world_size, const std::string& dir,
                                    const std::map<std::string, std::string>& extra_env = {}) {
    const int port = free_port();
    std::vector<pid_t> pids;
    for (int r = 0; r < world_size; ++r) {
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error("fork() failed");
        if (pid == 0) {
            ::setenv("MASTER_ADDR", "127.0.0.1", 1);
            ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
            ::setenv("RANK", std::to_string(r).c_str(), 1);
            ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
            ::setenv("WORLD_SIZE", std::to_string(world_size).c_str(), 1);
            ::setenv("RLHF_DIST_TEST_CHILD", mode.c_str(), 1);
            ::setenv("RLHF_DIST_TEST_DIR", dir.c_str(), 1);
            for (const auto& [k, v] : extra_env) ::setenv(k.c_str(), v.c_str(), 1);
            const std::string log = dir + "/rank" + std::to_string(r) + ".log";
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
                ::close(fd);
            }
            char* argv[] = {const_cast<char*>("/proc/self/exe"), nullptr};
            ::execv("/proc/self/exe", argv);
            ::_exit(127);
        }
        pids.push_back(pid);
    }
    std::vector<int> codes;
    for (pid_t pid : pids) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    return codes;
}

}  // namespace rlhf::dist_test
