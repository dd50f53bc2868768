// The OpenAI-compatible upstream, seen through a small interface so the
// handlers never include httplib.h (upstream.cpp does) and tests can swap it.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.hpp"

namespace proxy {

using header_list = std::vector<std::pair<std::string, std::string>>;

/// Lets another thread abort an upstream request at once (client gone,
/// deadline passed, shutdown). The transport installs a stopper while a
/// request is in flight; cancel() runs it under the same lock, so the
/// stopper never outlives the connection it stops.
class cancel_handle {
public:
    /// Aborts the request in flight (if any) and every later one.
    void cancel() {
        cancelled_ = true;  // first: a transport that is connecting right now checks it
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopper_) stopper_();
    }
    /// Lock-free, so a transport may ask while holding its own locks.
    bool cancelled() const { return cancelled_; }
    /// For the transport: install (or clear, with nullptr) the stopper. Returns false if already cancelled.
    bool set_stopper(std::function<void()> stopper) {
        std::lock_guard<std::mutex> lock(mutex_);
        stopper_ = std::move(stopper);
        return !cancelled_;
    }

private:
    std::mutex mutex_;
    std::function<void()> stopper_;
    std::atomic<bool> cancelled_{false};
};

/// One request to the upstream: a POST to its chat/completions URL, or a GET
/// of another path on the same host (`/v1/models`).
struct upstream_request {
    std::string method = "POST";
    std::string path;  ///< empty: the configured URL's path
    std::string body;
    std::string api_key;  ///< empty: no Authorization header
    bool stream = false;
    /// Longest silence between two reads (the stream idle timeout, or the
    /// whole timeout for non-streaming requests).
    std::chrono::seconds read_timeout{300};
    /// Whole request, 0 = none (streams are bounded by read_timeout instead).
    std::chrono::seconds total_timeout{0};
};

/// Called as the answer arrives; return false to abort the request.
struct upstream_callbacks {
    /// The answer's status line and headers arrived. `retry_after` is the
    /// Retry-After header (empty when absent), the one header the proxy acts
    /// on; copying every header per request cost an allocation each.
    std::function<bool(int status, std::string_view retry_after)> on_headers;
    std::function<bool(std::string_view bytes)> on_data;
};

/// How an upstream request ended.
struct upstream_outcome {
    enum class kind {
        completed,       ///< a full HTTP answer (any status) was received
        cancelled,       ///< a callback returned false, or cancel_handle fired
        timed_out,       ///< read timeout or total timeout
        connect_failed,  ///< no connection (refused, DNS, connect timeout)
        tls_failed,      ///< TLS handshake or certificate verification failed
        io_failed,       ///< the connection broke mid-request
    };
    kind what = kind::completed;
    int status = 0;           ///< HTTP status when headers arrived, else 0
    bool got_headers = false;
    std::string detail;       ///< for logs and error messages; never contains a key
};

/// Sends requests to one upstream URL, reusing connections.
class upstream_transport {
public:
    virtual ~upstream_transport() = default;
    /// Blocks until the request ends; callbacks run on the calling thread.
    virtual upstream_outcome send(const upstream_request& request, const upstream_callbacks& callbacks,
                                  cancel_handle& cancel) = 0;
};

/// Settings for the httplib-based transport.
struct upstream_settings {
    std::string url;  ///< http(s)://host[:port]/path
    std::chrono::seconds connect_timeout{10};
    std::string ca_cert_file;  ///< extra CA bundle (PEM); empty: system store only
    header_list extra_headers;  ///< added to every request after the proxy's own (config `upstream_headers`)
    std::size_t max_idle_connections = 64;
};

/// The upstream half of the configuration.
upstream_settings upstream_settings_from(const config& cfg);

/// The real transport (cpp-httplib, OpenSSL verification against the system
/// store). Throws `config_error` (parse_upstream_url) for a URL it cannot use.
std::unique_ptr<upstream_transport> make_http_transport(const upstream_settings& settings);

}  // namespace proxy
