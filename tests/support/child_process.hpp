// The built claude-nvidia-proxy binary as a child process, for the tests
// that need the real main(): signals, exit codes, start-up lines.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mock_upstream.hpp"

namespace mock {

/// `strings` as execve() wants them: pointers into them, then a null. Made
/// before fork(), since the child of a threaded process must not allocate.
inline std::vector<char*> exec_pointers(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// Runs the binary with exactly `env` (plus PATH) in `cwd`; collects stderr and stdout.
class child_process {
public:
    child_process(std::vector<std::string> args, std::vector<std::string> env, const std::string& cwd = "/tmp")
        : args_(std::move(args)), env_(std::move(env)), cwd_(cwd) {
        // Everything the child needs is built here, before fork(): the child of a
        // threaded process may only make async-signal-safe calls until it execs.
        // An allocation there can wait forever on a lock another thread of ours
        // held at the fork (seen under ASan: a proxy that never started).
        env_.push_back("PATH=/usr/bin:/bin");
        const std::vector<char*> argv = exec_pointers(args_), envp = exec_pointers(env_);
        const pid_t parent = getpid();
        int out[2];
        REQUIRE(pipe2(out, O_CLOEXEC) == 0);  // no other child inherits this pipe
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            // Dies with the test, even one killed by a timeout. The raw syscall:
            // sanitizers intercept prctl() itself.
            syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
            if (getppid() != parent) _exit(127);  // the test ended before prctl
            dup2(out[1], 1);  // dup2 clears O_CLOEXEC on 1 and 2
            dup2(out[1], 2);
            if (chdir(cwd_.c_str()) != 0) _exit(127);
            execve(argv[0], argv.data(), envp.data());
            _exit(127);
        }
        close(out[1]);
        reader_ = std::thread([this, fd = out[0]] {
            char buffer[4096];
            for (;;) {
                ssize_t n = read(fd, buffer, sizeof buffer);
                if (n <= 0) break;
                std::lock_guard<std::mutex> lock(mutex_);
                output_.append(buffer, static_cast<std::size_t>(n));
                changed_.notify_all();
            }
            close(fd);
            std::lock_guard<std::mutex> lock(mutex_);
            eof_ = true;
            changed_.notify_all();
        });
    }
    ~child_process() {
        if (!exited_) {
            kill(pid_, SIGKILL);
            (void)wait();
        }
        if (reader_.joinable()) reader_.join();
    }

    /// Waits until the output contains `text`.
    bool wait_for(const std::string& text) { return wait_for(text, 1); }
    /// Waits until the output contains `text` at least `times` times.
    bool wait_for(const std::string& text, std::size_t times) {
        std::unique_lock<std::mutex> lock(mutex_);
        const auto seen = [&] { return count_of(output_, text) >= times; };
        return changed_.wait_for(lock, mock::patience, [&] { return seen() || eof_; }) && seen();
    }
    /// How often `text` occurs in `output`.
    static std::size_t count_of(const std::string& output, const std::string& text) {
        std::size_t n = 0;
        for (auto at = output.find(text); at != std::string::npos; at = output.find(text, at + text.size())) ++n;
        return n;
    }
    std::string output() {
        std::lock_guard<std::mutex> lock(mutex_);
        return output_;
    }
    void signal(int sig) { kill(pid_, sig); }
    pid_t pid() const { return pid_; }
    int wait() {
        int status = 0;
        waitpid(pid_, &status, 0);
        exited_ = true;
        if (reader_.joinable()) reader_.join();
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    /// The port from the "listening on host:port" line.
    int port() {
        if (!wait_for("listening on ")) {
            // Shown with the test's next assertion: why it never listened.
            UNSCOPED_INFO("the child never said 'listening on'; its output:\n" << output());
            return -1;
        }
        auto text = output();
        auto at = text.find("listening on ");
        auto colon = text.find(':', at + 13);
        return std::atoi(text.c_str() + colon + 1);
    }

private:
    std::vector<std::string> args_, env_;
    std::string cwd_;
    pid_t pid_ = -1;
    bool exited_ = false;
    std::thread reader_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::string output_;
    bool eof_ = false;
};

}  // namespace mock
