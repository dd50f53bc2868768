// The proxy's handlers: a plain request in, a full body or a pull-style
// stream out. No HTTP library here; http_adapter.cpp does the wire.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <msgbridge/error.hpp>
#include <msgbridge/keys.hpp>
#include <msgbridge/request.hpp>

#include "config.hpp"
#include "log.hpp"
#include "upstream.hpp"
#include "worker_pool.hpp"

namespace proxy {

/// The client's end of the connection, as far as a handler needs it: a way to
/// hear that the client hung up while its answer is still being made. An
/// upstream call nobody will read still costs the user quota, so it is cut.
class client_link {
public:
    virtual ~client_link() = default;
    /// Runs `on_gone` once, on another thread, when the client hangs up (at
    /// once, on this thread, if it already has). Replaces an earlier callback.
    virtual void on_hangup(std::function<void()> on_gone) = 0;
    /// Removes the callback; once this returns it is not running and never will.
    virtual void clear_hangup() = 0;
};

/// Scoped registration with a client_link (which may be null: no watch).
class hangup_watch {
public:
    hangup_watch(std::shared_ptr<client_link> link, std::function<void()> on_gone) : link_(std::move(link)) {
        if (link_) link_->on_hangup(std::move(on_gone));
    }
    ~hangup_watch() {
        if (link_) link_->clear_hangup();
    }
    hangup_watch(const hangup_watch&) = delete;
    hangup_watch& operator=(const hangup_watch&) = delete;

private:
    std::shared_ptr<client_link> link_;
};

/// An inbound request as the handlers see it.
struct http_request {
    std::string id;  ///< request-id, made by the adapter, echoed in the response header
    std::string method;
    std::string path;   ///< without the query string
    std::string query;  ///< after '?', may be empty
    header_list headers;
    std::string body;
    std::string remote_addr;
    std::shared_ptr<client_link> client;  ///< null when the transport cannot watch its client

    /// First value of header `name` (case-insensitive), empty if absent.
    std::string header(std::string_view name) const;
};

/// A response body produced piece by piece (SSE).
class body_stream {
public:
    virtual ~body_stream() = default;
    /// Blocks until there is something to send and appends it to `out`.
    /// Returns false once the stream has ended (`out` may still hold the last
    /// bytes). When it returns true, `out` is never empty: during upstream
    /// silence it holds a `ping` event.
    virtual bool next(std::string& out) = 0;
    /// The client has gone: abort the upstream request now.
    virtual void cancel() = 0;
};

/// What a handler answers.
struct http_response {
    int status = 200;
    std::string content_type = "application/json";
    header_list headers;
    std::string body;
    std::unique_ptr<body_stream> stream;  ///< set: an SSE response, `body` unused
    bool logged = false;                  ///< the handler wrote (or a stream will write) the summary line
};

class stream_session;

/// Request converters keep their parser and buffers from one request to the
/// next; building one per request (options copied, parser allocated) cost
/// more than the conversion itself. One is lent per request in flight.
class converter_pool {
public:
    explicit converter_pool(msgbridge::request_options options) : options_(std::move(options)) {}

    /// Runs `use(msgbridge::request_converter&)` with a converter nobody else holds.
    /// `body_bytes` decides whether the converter is kept afterwards: one that
    /// converted a huge body would keep its huge buffers, so it is dropped.
    template <class Use>
    auto with(std::size_t body_bytes, Use&& use) {
        std::unique_ptr<msgbridge::request_converter> converter;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!idle_.empty()) {
                converter = std::move(idle_.back());
                idle_.pop_back();
            }
        }
        if (!converter) converter = std::make_unique<msgbridge::request_converter>(options_);
        auto outcome = use(*converter);
        if (body_bytes <= max_kept_body_bytes) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (idle_.size() < max_idle) idle_.push_back(std::move(converter));
        }
        return outcome;
    }

private:
    static constexpr std::size_t max_idle = 64;
    static constexpr std::size_t max_kept_body_bytes = std::size_t{1} << 20;

    msgbridge::request_options options_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<msgbridge::request_converter>> idle_;
};

/// The routes of docs/server.md. Thread-safe: one object serves every connection.
class service {
public:
    service(const config& cfg, upstream_transport& upstream, logger log = {});
    ~service();
    service(const service&) = delete;
    service& operator=(const service&) = delete;

    /// Routes and answers one request.
    http_response handle(const http_request& request);

    /// The Anthropic-shaped error response for `err`.
    static http_response error_response(const msgbridge::error& err);

    /// Shutdown has begun: new messages are refused with 529 overloaded_error.
    void begin_shutdown() { aborting_ = true; }
    /// The grace period is over: every running stream ends with an `error` event.
    void abort_streams();
    std::size_t active_streams() const;

    const config& settings() const { return cfg_; }
    const logger& log() const { return log_; }

private:
    friend class stream_session;

    http_response route(const http_request& request);
    http_response messages(const http_request& request);
    http_response count_tokens(const http_request& request);
    http_response models(const http_request& request);
    http_response model(const http_request& request, std::string_view id);
    http_response health(const http_request& request);
    http_response root();
    bool authorized(const http_request& request) const;

    void log_quarantine(const std::string& request_id, std::string_view redacted_id, int status) const;
    void add_session(const std::shared_ptr<stream_session>& session);
    void remove_session(stream_session* session);

    config cfg_;
    upstream_transport& upstream_;
    logger log_;
    std::unique_ptr<msgbridge::key_pool> keys_;
    std::vector<std::string> secrets_;  ///< redacted from every log line
    converter_pool converters_;

    mutable std::mutex sessions_mutex_;
    std::set<std::shared_ptr<stream_session>> sessions_;
    std::atomic<bool> aborting_{false};
    // Last: destroyed first, waiting for producers still running (the
    // destructor has aborted their streams) before anything they use goes.
    worker_pool producers_;
};

/// True when `a` and `b` are equal, in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// A fresh `req_…` id.
std::string make_request_id();

}  // namespace proxy
