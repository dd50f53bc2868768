// What the handlers see of HTTP: a plain request in, a full body or a
// pull-style stream out. No HTTP library here; http_adapter.cpp does the wire.
// SPDX-License-Identifier: MIT
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <msgbridge/error.hpp>

#include "upstream.hpp"

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

/// A JSON answer.
http_response json_response(int status, std::string body);

/// The Anthropic-shaped error answer for `err`.
http_response error_response(const msgbridge::error& err);

/// An SSE answer that sends what `stream` produces, with the headers that
/// keep proxies from buffering it.
http_response sse_response(std::unique_ptr<body_stream> stream);

/// One `x-proxy-warning` header per converter warning (what the request
/// lost or had changed on its way upstream), so a client sees what the log
/// says. Bytes outside printable ASCII, and '%', are percent-encoded (the
/// warnings quote tool and model names); at most `max_warning_headers`
/// headers of `max_warning_header_chars` each, then one saying how many more
/// the log has.
header_list warning_headers(const std::vector<std::string>& warnings);
inline constexpr std::size_t max_warning_headers = 16;
inline constexpr std::size_t max_warning_header_chars = 1024;

/// ASCII case-insensitive equality (header names, the `Bearer` scheme).
bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept;

/// The password of an `Authorization: Basic <base64(user:password)>` value
/// (RFC 7617); none for another scheme or malformed base64.
std::optional<std::string> basic_auth_password(std::string_view authorization);

}  // namespace proxy
