// The proxy's service: routes each request to its handler. The messages
// handler lives here; the attempt loop (attempts.hpp), the streaming session
// (stream_session.hpp), the route table (routes.hpp), the answers made
// without the upstream (local_answers.hpp) and the settings a reload
// replaces (settings_generation.hpp) each have their own file.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <msgbridge/error.hpp>
#include <msgbridge/keys.hpp>
#include <msgbridge/request.hpp>
#include <msgbridge/response.hpp>

#include "attempts.hpp"
#include "config.hpp"
#include "converter_pool.hpp"
#include "exchange_observers.hpp"
#include "http_types.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "self_healing.hpp"
#include "settings_generation.hpp"
#include "status_board.hpp"
#include "upstream.hpp"
#include "upstream_health.hpp"
#include "upstream_models.hpp"
#include "worker_pool.hpp"

namespace proxy {

class stream_session;

/// The routes of docs/server.md. Thread-safe: one object serves every connection.
class service {
public:
    /// `cfg.max_connections` is fixed for the service's life; the rest can be reloaded.
    service(const config& cfg, std::shared_ptr<upstream_transport> upstream, logger log = {});
    ~service();
    service(const service&) = delete;
    service& operator=(const service&) = delete;

    /// Routes and answers one request.
    http_response handle(const http_request& request);

    /// Whether a request may go on to have its body read, judged from its
    /// method, path and headers alone: false when its route needs
    /// SERVER_API_KEY and the headers do not carry it.
    bool admits(const http_request& head_only) const;

    /// Shutdown has begun: new messages are refused with 529 overloaded_error.
    void begin_shutdown() { aborting_ = true; }
    /// The grace period is over: every running stream ends with an `error` event.
    void abort_streams();
    std::size_t active_streams() const;

    /// New requests use `cfg` and `upstream` from now on; requests already
    /// running finish on the settings they started with. Keys in both the
    /// old and the new configuration keep their cooldowns and quarantines.
    /// `cfg` must be valid (load_config's checks) and carry the running
    /// `max_connections` (keep_startup_settings).
    void reload(const config& cfg, std::shared_ptr<upstream_transport> upstream);

    /// The settings new requests get now.
    std::shared_ptr<const settings_generation> settings() const;
    /// The plain logger, for lines made without request data.
    const logger& log() const { return sink_; }
    /// Where the HTTP side counts what it answers without the service (refusals before a body).
    metrics& counters() { return metrics_; }

private:
    using steady = std::chrono::steady_clock;
    using generation = std::shared_ptr<const settings_generation>;

    http_response dispatch(const http_request& request, const generation& current);
    http_response messages(const http_request& request, const generation& current);
    http_response stream_messages(const http_request& request, const generation& current,
                                  msgbridge::converted_request converted);
    http_response complete_messages(const http_request& request, const settings_generation& current,
                                    msgbridge::converted_request converted, steady::time_point started);
    std::optional<http_response> completion_answer(const config& cfg, const attempt_result& attempts, bool too_large,
                                                   const std::string& answer, const msgbridge::response_context& context,
                                                   bool may_ask_again, exchange_summary& summary);
    http_response count_tokens(const http_request& request, const settings_generation& current);
    http_response status_page(const settings_generation& current) const;
    /// `basic`: the key may also come as the password of HTTP Basic auth (browser routes).
    static bool authorized(const http_request& request, const config& cfg, bool basic = false);

    void add_session(const std::shared_ptr<stream_session>& session);
    void remove_session(stream_session* session);

    logger sink_;
    mutable std::mutex generation_mutex_;  ///< guards the pointer only; a request copies it once
    generation current_;
    converter_pool<msgbridge::response_converter> response_converters_;

    // Kept across reloads, as what the operator sees should be.
    metrics metrics_;  ///< counters never go back to zero
    healing_memory healing_;  ///< what upstream models refused stays known
    status_board board_;
    upstream_health upstream_health_;
    const exchange_observers exchanges_{metrics_, board_};
    const steady::time_point started_at_ = steady::now();

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
