// A real redis-server on loopback for the scale-out tests: started in its own
// temporary directory on a free port, nothing written to disk, killed at the
// end. Tests skip, saying why, where the Debian package is not installed.
#pragma once

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace redis_test {

inline constexpr const char* redis_binary = "/usr/bin/redis-server";

inline bool installed(const char* path, const char* package) {
    if (access(path, X_OK) == 0) return true;
    WARN("skipped: " << path << " is not installed (Debian package " << package << ")");
    return false;
}

// A port free right now; the child binds it a moment later (loopback only).
inline int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    close(fd);
    return ntohs(address.sin_port);
}

struct temp_dir {
    std::string path;
    temp_dir() {
        char name[] = "/tmp/scaleout_XXXXXX";
        REQUIRE(mkdtemp(name) != nullptr);
        path = name;
    }
    ~temp_dir() { std::filesystem::remove_all(path); }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

// redis-server with nothing written to disk, in its own directory and on
// its own port, killed (SIGKILL) when it goes; stop() and start() again to
// take it away and bring it back on the same port.
struct redis_server {
    temp_dir dir;
    const int port = free_port();
    const std::vector<std::string> extra_args;
    std::unique_ptr<mock::child_process> process;

    explicit redis_server(std::vector<std::string> extra = {}) : extra_args(std::move(extra)) { start(); }

    void start() {
        std::vector<std::string> args{redis_binary, "--port", std::to_string(port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", dir.path};
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        process = std::make_unique<mock::child_process>(args, std::vector<std::string>{}, dir.path);
        REQUIRE(process->wait_for("Ready to accept connections"));
    }
    void stop() { process.reset(); }
    /// What logs show of it, without credentials.
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port) + "/0"; }
};

}  // namespace redis_test
