// A raw client connection to the proxy: bytes exactly as the test writes
// them, for requests no HTTP library would send.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>

#include "mock_upstream.hpp"

namespace mock {

class raw_client {
public:
    explicit raw_client(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~raw_client() { close(); }
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;
    bool connected() const { return connected_; }
    int fd() const { return fd_; }
    bool send(std::string_view bytes) { return mock::raw_upstream::send_all(fd_, bytes); }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    /// Reads until the proxy closes the connection (or the safety net); returns what arrived.
    std::string read_until_closed(bool& closed) {
        std::string got;
        char buf[8192];
        closed = false;
        for (;;) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(mock::patience).count())) <= 0) return got;
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed = true;
                return got;
            }
            got.append(buf, static_cast<std::size_t>(n));
        }
    }
    /// Reads until `text` has arrived; false if the connection ended first.
    bool read_until(const std::string& text, std::string& got) {
        char buf[8192];
        while (got.find(text) == std::string::npos) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(mock::patience).count())) <= 0) return false;
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) return false;
            got.append(buf, static_cast<std::size_t>(n));
        }
        return true;
    }

private:
    int fd_ = -1;
    bool connected_ = false;
};

}  // namespace mock
