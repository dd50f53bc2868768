// The proxy's routes: one table, read by the router, by `GET /` and by the
// 404 answer, so the three cannot disagree.
// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

#include "http_types.hpp"

namespace proxy {

/// What a route leads to; service::route() dispatches on it.
enum class endpoint { messages, count_tokens, models, model, health, metrics, status, root, client_probe };

struct route {
    std::string_view method;
    std::string_view path;
    endpoint target;
    bool prefix = false;     ///< `path` is a prefix; the rest of the request path is the argument
    bool needs_key = false;  ///< SERVER_API_KEY, when set, applies
    bool listed = false;     ///< named by `GET /` and by the 404 answer
    /// A page for browsers, which cannot add a header to a page load: the key
    /// is also taken as the password of HTTP Basic auth, and a 401 asks for it.
    bool browser = false;
};

inline constexpr route routes[] = {
    {"POST", "/v1/messages", endpoint::messages, false, true, true},
    {"POST", "/v1/messages/count_tokens", endpoint::count_tokens, false, true, true},
    {"GET", "/v1/models", endpoint::models, false, true, true},
    {"GET", "/v1/models/", endpoint::models, false, true, false},
    {"GET", "/v1/models/", endpoint::model, true, true, false},
    {"GET", "/health", endpoint::health, false, false, true},
    {"GET", "/metrics", endpoint::metrics, false, true, true},
    {"GET", "/status", endpoint::status, false, true, true, true},
    {"GET", "/", endpoint::root, false, false, false},
    // Claude Code's start-up check and its telemetry, which go to whatever
    // ANTHROPIC_BASE_URL names: answered so that they fail nowhere.
    {"GET", "/api/hello", endpoint::client_probe, false, false, false},
    {"POST", "/api/event_logging/batch", endpoint::client_probe, false, false, false},
};

/// The route serving `path` (with any method): exact paths first, then
/// prefixes, in table order. Null when none does.
const route* find_route(std::string_view path);

/// The route pattern serving `path` as metrics label it (`/v1/models/{id}`;
/// `unmatched` for a path no route serves): never the raw path, which a
/// client could vary without end.
std::string route_label(std::string_view path);

/// "POST /v1/messages": a route as `GET /` and the 404 answer name it.
std::string endpoint_name(const route& r);

/// The argument a prefix route takes from `path` (`/v1/models/{id}`: the id).
std::string_view route_argument(const route& r, std::string_view path);

/// Whether `r` answers `method`; every GET route also answers HEAD.
bool serves_method(const route& r, std::string_view method);

/// 405 with `Allow`, for a known path asked with another method.
http_response method_not_allowed(const http_request& request, const route& r);

/// 401 for a route that needs SERVER_API_KEY, asked without it; for a
/// browser route it carries the `WWW-Authenticate: Basic` that makes a
/// browser ask for the key.
http_response unauthorized(std::string_view path);

/// 404 naming the method, the path and the routes this proxy serves.
http_response no_route(const http_request& request);

}  // namespace proxy
