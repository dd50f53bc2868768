// A real redis-server on loopback for the scale-out tests: started in its own
// temporary directory on a free port, nothing written to disk, killed at the
// end. Tests skip, saying why, where the Debian package is not installed.
#pragma once

#include <catch2/catch.hpp>

#include <hiredis/hiredis.h>

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

// The test's own look at Redis, through hiredis like the proxy's.
struct redis_probe {
    redisContext* context = nullptr;
    explicit redis_probe(int port, const std::string& password = "") {
        context = redisConnect("127.0.0.1", port);
        REQUIRE(context != nullptr);
        REQUIRE(context->err == 0);
        if (!password.empty()) REQUIRE(reply("AUTH", {password}) == "OK");
    }
    ~redis_probe() { redisFree(context); }
    redis_probe(const redis_probe&) = delete;
    redis_probe& operator=(const redis_probe&) = delete;

    // The reply as text: a status, a string, an integer, or the elements of an array joined by '\n'.
    std::string reply(const std::string& command, const std::vector<std::string>& args = {}) {
        std::vector<const char*> argv{command.c_str()};
        std::vector<std::size_t> lengths{command.size()};
        for (const auto& arg : args) {
            argv.push_back(arg.c_str());
            lengths.push_back(arg.size());
        }
        auto* r = static_cast<redisReply*>(
            redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
        REQUIRE(r != nullptr);
        std::string out;
        if (r->type == REDIS_REPLY_INTEGER) out = std::to_string(r->integer);
        else if (r->type == REDIS_REPLY_ARRAY) {
            for (std::size_t i = 0; i < r->elements; ++i) out += std::string(r->element[i]->str, r->element[i]->len) + "\n";
        } else if (r->str != nullptr) out.assign(r->str, r->len);
        freeReplyObject(r);
        return out;
    }
};

}  // namespace redis_test
