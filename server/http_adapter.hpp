// The inbound HTTP side: cpp-httplib wired to `service`. Together with
// upstream.cpp the only code that includes httplib.h.
// SPDX-License-Identifier: MIT
#pragma once

#include <memory>
#include <string>

#include "config.hpp"
#include "proxy.hpp"

namespace proxy {

/// Listens, hands every request to `service`, and streams its answers.
class http_server {
public:
    http_server(const config& cfg, service& svc);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    /// Binds cfg.listen_host:cfg.listen_port (port 0: any free port) and
    /// returns the port. Throws std::runtime_error naming the address.
    int bind();

    /// Accepts and serves until stop(); returns once every connection has finished.
    void run();

    /// Stops accepting new connections; running ones (streams included) continue. Thread-safe.
    void stop_accepting();
    /// Ends idle keep-alive connections and cuts streams still running; after stop_accepting().
    void close_connections();
    /// Both: what tests use to tear down.
    void stop();

    /// Connections being served now.
    std::size_t active_connections() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace proxy
