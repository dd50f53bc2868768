// Prometheus metrics for `GET /metrics` (docs/server.md, "Metrics").
// Counters and histograms are fed as requests finish; the state of the
// streams and keys is read when scraped, so it is never stale and costs
// nothing between scrapes. prometheus-cpp's core does the bookkeeping and
// the exposition format; its HTTP exposer is not used (the proxy serves the
// text itself, behind SERVER_API_KEY).
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <msgbridge/keys.hpp>

namespace proxy {

struct exchange_summary;

/// What `/metrics` shows of the key state shared between instances (REDIS_URL).
struct shared_state_reading {
    bool connected = false;
    std::uint64_t unavailable = 0;  ///< calls answered "unavailable": the key pool went on alone
};

class metrics {
public:
    using duration = std::chrono::steady_clock::duration;

    metrics();
    ~metrics();
    metrics(const metrics&) = delete;
    metrics& operator=(const metrics&) = delete;

    /// A request answered: `route` is the route's pattern (never the raw
    /// path, which a client could vary without end), `model` the upstream
    /// model or empty. Thread-safe.
    void observe_request(std::string_view route, std::string_view model, int status, duration total,
                         std::optional<duration> first_byte = std::nullopt);
    /// A request refused from its head alone (framing, limits, auth,
    /// overload): counted, not timed. `route` empty: the head had no readable path.
    void observe_refusal(std::string_view route, int status);
    /// One `/v1/messages` exchange: the request and its tokens.
    void observe_exchange(const exchange_summary& summary);

    /// The exposition text (text/plain; version=0.0.4): every counter and
    /// histogram, plus the active streams and each key's state as read now;
    /// `shared`: the shared key state's, when REDIS_URL is set.
    std::string scrape(std::size_t active_streams, const std::vector<msgbridge::key_stats>& keys,
                       std::optional<shared_state_reading> shared = std::nullopt) const;

private:
    struct families;
    std::unique_ptr<families> f_;
};

/// The content type of metrics::scrape's text.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace proxy
