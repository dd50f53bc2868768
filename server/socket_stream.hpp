// A client's connection as cpp-httplib's Stream. Internal to the server:
// only http_adapter.cpp includes it (with upstream.cpp, the only files that
// include httplib.h).
// SPDX-License-Identifier: MIT
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include <httplib.h>

#include "connection_watcher.hpp"

namespace proxy {

/// Bounds every blocked read and write on `fd` (SO_RCVTIMEO / SO_SNDTIMEO).
inline void set_socket_timeouts(int fd, std::chrono::microseconds read_timeout, std::chrono::microseconds write_timeout) {
    for (auto [option, timeout] : {std::pair{SO_RCVTIMEO, read_timeout}, std::pair{SO_SNDTIMEO, write_timeout}}) {
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(timeout.count() / 1000000);
        tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000000);
        ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
    }
}

/// Ours instead of httplib's SocketStream, which polls before every read and
/// every write: here the socket's own timeouts (set_socket_timeouts) bound
/// a blocked call, so reading a request costs one recv and writing a response
/// one send. Reads come first from the connection's buffer, where the
/// watcher left the request head (and whatever followed it). The first write of a response (its head: status line and
/// headers) is held until the response's first body bytes and leaves with
/// them in one sendmsg; whatever is still held goes out before any read and
/// at flush().
///
/// The upstream side keeps httplib's stream: the same class there (through
/// ClientImpl's process_socket hook) made non-streaming requests 2–14%
/// faster at 64 connections but streams 7–17% slower, measured side by side.
class socket_stream final : public httplib::Stream {
public:
    socket_stream(int fd, input_buffer& received) : fd_(fd), in_(received) {}

    /// The next write is a response's head.
    void begin_response() { head_written_ = false; }

    /// Reads fail once `deadline` has passed (a body that trickles in, each
    /// byte within the read timeout, would otherwise hold its worker for as
    /// long as the client likes). `read_timeout` is the socket's own bound on
    /// one blocked recv: while the deadline is further away than that, recv
    /// needs no poll before it.
    void set_read_deadline(std::chrono::steady_clock::time_point deadline, std::chrono::microseconds read_timeout) {
        deadline_ = deadline;
        read_timeout_ = read_timeout;
        deadline_passed_ = false;
    }
    void clear_read_deadline() { deadline_.reset(); }
    /// A read failed because the deadline had passed.
    bool deadline_passed() const { return deadline_passed_; }

    /// Sends what is held back.
    bool flush() {
        if (held_.empty()) return !broken_;
        bool ok = send_parts(held_.data(), held_.size(), nullptr, 0);
        held_.clear();
        return ok;
    }

    bool is_readable() const override {
        if (!in_.empty()) return true;
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, 0) > 0;
    }
    bool is_writable() const override { return !broken_; }

    ssize_t read(char* ptr, std::size_t size) override {
        if (in_.empty()) {
            if (!flush()) return -1;  // e.g. "100 Continue", or a request's head, must leave before we wait
            if (size >= read_chunk) return receive(ptr, size);
            ssize_t n = fill();
            if (n <= 0) return n;
        }
        std::size_t n = std::min(size, in_.size());
        std::memcpy(ptr, in_.view().data(), n);
        in_.consume(n);
        return static_cast<ssize_t>(n);
    }

    /// Waits (up to the read timeout) for more bytes and appends them to the
    /// buffer; what recv returned.
    ssize_t fill() {
        char* room = in_.room(read_chunk);
        ssize_t n = receive(room, in_.room_size());
        if (n > 0) in_.commit(static_cast<std::size_t>(n));
        return n;
    }

    /// Appends what arrives within `wait` (nothing more) to the buffer; false
    /// when nothing did, or the peer closed.
    bool take_arrived(std::chrono::milliseconds wait) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
        char* room = in_.room(read_chunk);
        ssize_t n = ::recv(fd_, room, in_.room_size(), MSG_DONTWAIT);
        if (n <= 0) return false;
        in_.commit(static_cast<std::size_t>(n));
        return true;
    }

    ssize_t write(const char* ptr, std::size_t size) override {
        if (broken_) return -1;
        if (!head_written_) {
            head_written_ = true;
            held_.assign(ptr, size);
            return static_cast<ssize_t>(size);
        }
        bool ok = held_.empty() ? send_parts(ptr, size, nullptr, 0) : send_parts(held_.data(), held_.size(), ptr, size);
        held_.clear();
        return ok ? static_cast<ssize_t>(size) : -1;
    }

    // Asked for every request; the answer does not change on a connection.
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        if (remote_port_ < 0) address_of(::getpeername, remote_ip_, remote_port_);
        ip = remote_ip_;
        port = remote_port_;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        if (local_port_ < 0) address_of(::getsockname, local_ip_, local_port_);
        ip = local_ip_;
        port = local_port_;
    }
    socket_t socket() const override { return fd_; }

private:
    ssize_t receive(char* ptr, std::size_t size) {
        if (deadline_ && !before_deadline()) {
            deadline_passed_ = true;
            errno = ETIMEDOUT;
            return -1;
        }
        for (;;) {
            ssize_t n = ::recv(fd_, ptr, size, 0);
            if (n < 0 && errno == EINTR) continue;
            return n;  // -1 with EAGAIN: the read timeout passed
        }
    }

    // Whether bytes arrive before the deadline: at once when a blocked recv
    // cannot outlast it, else by waiting for them until the deadline.
    bool before_deadline() {
        using namespace std::chrono;
        for (;;) {
            const auto left = duration_cast<milliseconds>(*deadline_ - steady_clock::now());
            if (left <= milliseconds(0)) return false;
            if (left >= read_timeout_) return true;
            pollfd p{fd_, POLLIN, 0};
            const int ready = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
            if (ready > 0) return true;
            if (ready == 0) return false;
            if (errno != EINTR) return true;  // let recv report it
        }
    }

    // Sends `a` then `b` whole, in as few calls as the socket allows.
    bool send_parts(const char* a, std::size_t a_size, const char* b, std::size_t b_size) {
        iovec parts[2] = {{const_cast<char*>(a), a_size}, {const_cast<char*>(b), b_size}};
        int count = b_size > 0 ? 2 : 1;
        iovec* next = parts;
        while (count > 0) {
            msghdr msg{};
            msg.msg_iov = next;
            msg.msg_iovlen = static_cast<std::size_t>(count);
            ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                broken_ = true;  // gone, or the write timeout passed
                return false;
            }
            auto sent = static_cast<std::size_t>(n);
            while (count > 0 && sent >= next->iov_len) {
                sent -= next->iov_len;
                ++next;
                --count;
            }
            if (count > 0) {
                next->iov_base = static_cast<char*>(next->iov_base) + sent;
                next->iov_len -= sent;
            }
        }
        return true;
    }

    template <class Query>
    void address_of(Query query, std::string& ip, int& port) const {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        ip.clear();
        port = -1;
        if (query(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
        char text[INET6_ADDRSTRLEN] = {};
        if (addr.ss_family == AF_INET) {
            auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
            ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
            port = ntohs(v4->sin_port);
        } else if (addr.ss_family == AF_INET6) {
            auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
            ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
            port = ntohs(v6->sin6_port);
        }
        ip = text;
    }

    static constexpr std::size_t read_chunk = 16 * 1024;

    int fd_;
    input_buffer& in_;
    std::string held_;
    bool head_written_ = false;
    bool broken_ = false;
    std::optional<std::chrono::steady_clock::time_point> deadline_;
    std::chrono::microseconds read_timeout_{0};
    bool deadline_passed_ = false;
    mutable std::string remote_ip_, local_ip_;
    mutable int remote_port_ = -1, local_port_ = -1;
};

}  // namespace proxy
