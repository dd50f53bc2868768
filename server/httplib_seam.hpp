// Every use of cpp-httplib beyond its documented API, in one place.
//
// The server owns each connection's loop (one recv and one send per request,
// idle connections that sleep, a listener stopped in two steps) and cancels
// upstream connects that are still being made. cpp-httplib 0.11.4 has no
// public API for either, so this file reaches into its protected members and
// private virtuals, and relies on the order in which it calls its hooks. A
// different cpp-httplib may rename or reorder any of that without a compile
// error elsewhere: the static_assert below stops the build instead, and
// tests/server_httplib_seam.cpp pins each internal listed here, one test each.
// SPDX-License-Identifier: MIT
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include <httplib.h>

static_assert(std::string_view(CPPHTTPLIB_VERSION) == "0.11.4",
              "server/httplib_seam.hpp relies on cpp-httplib 0.11.4 internals: check each one against "
              "tests/server_httplib_seam.cpp before changing the pinned version");

namespace proxy::httplib_seam {

/// httplib::Server with its per-connection loop handed to the subclass.
class server : public httplib::Server {
protected:
    /// Serves one accepted connection, then shuts and closes `sock`.
    /// (Internal: replaces the private virtual process_and_close_socket.)
    virtual bool serve_connection(socket_t sock) = 0;

    /// Reads one request from `stream`, routes it and writes the answer.
    /// (Internal: the protected Server::process_request.)
    bool serve_request(httplib::Stream& stream, bool close_connection, bool& connection_closed) {
        return process_request(stream, close_connection, connection_closed, nullptr);
    }

    /// The listening socket, INVALID_SOCKET before bind and after it closed.
    /// (Internal: the protected member svr_sock_.)
    socket_t listening_socket() const { return svr_sock_.load(); }

    /// Marks the listener gone without closing it. 0.11.4's chunked writer
    /// checks the listener between chunks, so every running chunked response
    /// ends at its next chunk; accept() is not affected.
    void forget_listening_socket() { svr_sock_.exchange(INVALID_SOCKET); }

    /// The values of set_read_timeout, set_write_timeout,
    /// set_keep_alive_max_count and set_keep_alive_timeout (protected members).
    std::chrono::microseconds read_timeout() const {
        return std::chrono::seconds(read_timeout_sec_) + std::chrono::microseconds(read_timeout_usec_);
    }
    std::chrono::microseconds write_timeout() const {
        return std::chrono::seconds(write_timeout_sec_) + std::chrono::microseconds(write_timeout_usec_);
    }
    std::size_t keep_alive_max_count() const { return keep_alive_max_count_; }
    std::chrono::seconds keep_alive_timeout() const { return std::chrono::seconds(keep_alive_timeout_sec_); }

private:
    bool process_and_close_socket(socket_t sock) final { return serve_connection(sock); }
};

/// True when a handler has given `res` something to send: a body, or a
/// content provider (the provider flags are public members, but undocumented).
inline bool has_content(const httplib::Response& res) {
    return !res.body.empty() || res.is_chunked_content_provider_ || static_cast<bool>(res.content_provider_);
}

/// Moves the request body out instead of copying it (bodies reach the body
/// limit). Safe only inside a handler: 0.11.4's Request is a local of
/// process_request() that nothing reads after the handler returns.
inline std::string take_body(const httplib::Request& req) {
    return std::move(const_cast<httplib::Request&>(req).body);
}

/// Makes `client`'s next connect fail at once when `cancelled()` is true at
/// the moment the socket is made. 0.11.4 runs the socket-options hook on the
/// new socket before connect(), under the same lock Client::stop() takes, so
/// a cancel either is seen here or finds the socket open for stop(). The
/// socket is swapped for /dev/null: connect() fails and httplib still closes
/// the descriptor it owns. clear_connect_guard() removes the hook.
/// A template, not std::function: the hook is set on every upstream request,
/// and a std::function inside httplib's std::function would allocate each time.
template <class Cancelled>
void guard_connect(httplib::Client& client, Cancelled cancelled) {
    client.set_socket_options([cancelled](socket_t sock) {
        if (!cancelled()) return;
        int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0) return;
        ::dup2(devnull, sock);
        ::close(devnull);
    });
}

inline void clear_connect_guard(httplib::Client& client) { client.set_socket_options(nullptr); }

}  // namespace proxy::httplib_seam
