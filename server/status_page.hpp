// `GET /status`: one self-contained HTML page for an operator (docs/server.md,
// "Status page"). Everything it shows is gathered by the service into a
// status_view; this file only renders it.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <msgbridge/keys.hpp>

#include "http_types.hpp"
#include "metrics.hpp"
#include "status_board.hpp"
#include "upstream_health.hpp"

namespace proxy {

/// A stream being answered now.
struct open_stream {
    std::string request_id;
    std::string model;  ///< the upstream model
    std::chrono::steady_clock::duration age{};
};

/// The key state shared with other instances (REDIS_URL).
struct shared_state_view {
    std::string where;  ///< the Redis URL without credentials
    shared_state_reading reading;
};

/// Everything the page shows, read at one moment.
struct status_view {
    std::string_view version;
    std::string upstream_url;  ///< scheme, authority and path: no credentials, no query
    std::chrono::steady_clock::duration uptime{};
    std::chrono::system_clock::time_point now;
    upstream_health::report upstream;
    std::vector<msgbridge::key_stats> keys;
    std::optional<shared_state_view> shared;  ///< none: each instance keeps its own key state
    std::vector<status_board::model_totals> models;
    std::vector<status_board::finished_exchange> recent;  ///< newest first
    std::vector<open_stream> streams;
    std::chrono::seconds refresh_every{5};
};

/// The page as one HTML document with its CSS and script inline; every
/// text from a client or the configuration is HTML-escaped.
std::string render_status_page(const status_view& view);

/// The page with the headers that keep it uncached, unframed and free of
/// any script or style but its own (a Content-Security-Policy naming their hashes).
http_response status_answer(const status_view& view);

/// `http(s)://authority/path` of an upstream URL, without its query (which
/// may carry a token); the URL must be one parse_upstream_url accepts.
std::string upstream_url_for_display(const std::string& url);

}  // namespace proxy
