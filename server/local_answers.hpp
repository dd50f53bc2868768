// Answers the proxy gives without the upstream: Claude Code's quota probe,
// token counts, the model list, health and the root status.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <msgbridge/error.hpp>
#include <msgbridge/keys.hpp>
#include <msgbridge/options.hpp>
#include <msgbridge/request.hpp>

#include "http_types.hpp"

namespace proxy {

/// Claude Code's quota probe, answered without spending upstream quota: the
/// completion an upstream would give ("ok", one token) run through the real
/// converters, streamed or not as the request asked.
http_response quota_probe_answer(const msgbridge::converted_request& converted);

/// `POST /v1/messages/count_tokens`: `{"input_tokens":N}`, or the request's error.
http_response count_tokens_answer(const msgbridge::result<std::uint64_t>& counted);

/// `GET /v1/models`: the `claude…` names the mapping serves, then the
/// upstream models (those named in the options, then `upstream_ids`), paged
/// by `limit` and `after_id` or `before_id` from `query` as Anthropic's API is.
http_response models_answer(const msgbridge::request_options& options, const std::vector<std::string>& upstream_ids,
                            std::string_view query);

/// `GET /v1/models/{id}`: one entry of that list, else 404.
http_response model_answer(const msgbridge::request_options& options, const std::vector<std::string>& upstream_ids,
                           std::string_view id);

/// Claude Code's `/api/hello` and `/api/event_logging/batch`: 200 with `{}`.
http_response client_probe_answer();

/// What `GET /health` reports besides the keys.
struct health_report {
    std::size_t active_streams = 0;
    bool upstream_degraded = false;  ///< the recent upstream attempts all failed
    std::string_view shared_state;   ///< "ok" or "degraded" with REDIS_URL, empty (left out) without
    std::string_view learned;        ///< the self-healing findings (healing_memory::to_json); built for authenticated callers only
};

/// `GET /health`: `"status":"degraded"` (still 200) when the upstream or the
/// shared key state is, else "ok". The per-key counters (redacted ids) and
/// the self-healing findings only when `with_key_stats`.
http_response health_answer(const health_report& report, const msgbridge::key_pool& keys, bool with_key_stats);

/// `GET /metrics`: the exposition text metrics::scrape made.
http_response metrics_answer(std::string exposition);

/// `GET /`: the Go original's liveness JSON, naming the listed routes.
http_response root_answer();

}  // namespace proxy
