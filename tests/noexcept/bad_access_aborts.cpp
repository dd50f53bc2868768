// Built with -fno-exceptions: value() on an error cannot throw, so it must stop
// the program with the error's message instead of reading a value that is not
// there. A child process makes the bad access; the parent checks that it died
// of SIGABRT, said why on stderr, and never reached the line after.
#include <msgbridge/error.hpp>

#include <csignal>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

int main() {
    int err_pipe[2];
    if (pipe(err_pipe) != 0) return 2;
    const pid_t child = fork();
    if (child < 0) return 2;
    if (child == 0) {
        dup2(err_pipe[1], STDERR_FILENO);
        dup2(err_pipe[1], STDOUT_FILENO);
        const msgbridge::result<int> failed = msgbridge::invalid_request("messages: required");
        const int value = failed.value();
        std::printf("UNREACHABLE: value() returned %d\n", value);
        std::fflush(stdout);
        _exit(0);
    }
    close(err_pipe[1]);
    std::string output;
    char buffer[256];
    for (ssize_t n; (n = read(err_pipe[0], buffer, sizeof buffer)) > 0;) output.append(buffer, static_cast<std::size_t>(n));
    int status = 0;
    waitpid(child, &status, 0);

    const bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    const bool said_why = output.find("result accessed without checking: messages: required") != std::string::npos;
    const bool continued = output.find("UNREACHABLE") != std::string::npos;
    std::printf("child output: %s", output.c_str());
    if (aborted && said_why && !continued) {
        std::puts("bad_access_aborts: value() on an error aborted with its message");
        return 0;
    }
    std::printf("FAILED: aborted=%d said_why=%d continued=%d\n", aborted, said_why, continued);
    return 1;
}
