// A streamed `/v1/messages` exchange: the upstream runs on a producer
// thread, the client's connection pulls converted events.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <msgbridge/error.hpp>
#include <msgbridge/request.hpp>
#include <msgbridge/stream.hpp>

#include "attempts.hpp"
#include "exchange_observers.hpp"
#include "http_types.hpp"
#include "metrics.hpp"
#include "settings_generation.hpp"
#include "status_board.hpp"
#include "upstream_health.hpp"
#include "worker_pool.hpp"

namespace proxy {

/// What a stream session uses of the service that starts it.
struct stream_context {
    /// Held to the session's end: a reload meanwhile does not change the
    /// upstream, keys or timeouts of a stream already running.
    std::shared_ptr<const settings_generation> settings;
    /// Outlives every session (the service joins its producers before it goes).
    worker_pool& producers;
    /// Told of the stream when it ends.
    exchange_observers observers;
    /// The service's self-healing findings; outlives every session, as `producers`.
    healing_memory& healing;
    /// Told how the attempts went; outlives every session.
    upstream_health& health;
};

/// Shared by three threads: the handler (waits until the answer commits or
/// fails), the producer (runs the attempt loop and the stream converter), and
/// the client's connection (pulls converted bytes through next()). The
/// producer is needed because the connection thread must keep sending pings
/// while the upstream is silent, and a blocked upstream read cannot do that.
/// Producers come from a pool: a thread started per stream cost a clone, an
/// 8 MB stack mapped and unmapped, and TLB shootdowns on every stream.
class stream_session : public std::enable_shared_from_this<stream_session> {
public:
    stream_session(const stream_context& context, const http_request& request, msgbridge::converted_request converted);

    /// Hands the attempts to a producer (or fails the session at once when no
    /// producer can be had).
    void start();

    /// Handler thread: true once the answer committed (stream it), false when
    /// it failed before anything was sent (answer `result().error`). An
    /// upstream that has not answered within `commit_after` (0: no limit) is
    /// not waited for: the stream starts with our own message_start so that
    /// pings can flow, and the attempts go on behind it; since nothing of the
    /// upstream's reached the client, retries still work, but a final failure
    /// can then only be an `error` event.
    bool wait_for_commit(std::chrono::seconds commit_after);
    const attempt_result& result() const { return result_; }

    /// Connection thread: body_stream::next().
    bool next(std::string& out);

    /// The client has gone: the upstream request is cut.
    void cancel_by_client();
    /// Shutdown: the stream ends with an `error` event saying `err`.
    void abort(const msgbridge::error& err);
    /// Waits until the producer has finished with the session's state.
    void join();

    /// Writes the exchange's summary line (and the text preview, if configured).
    void log_summary(int status);

    // Fixed at construction: readable from any thread (/status lists open streams).
    const std::string& request_id() const { return request_id_; }
    const std::string& upstream_model() const { return upstream_model_; }
    std::chrono::steady_clock::time_point started() const { return started_; }

private:
    enum class phase { waiting, streaming, failed };
    using steady = std::chrono::steady_clock;
    struct ending {
        bool streaming = false;
        bool client_gone = false;
        std::optional<msgbridge::error> abort;
    };

    void produce();
    bool commit();
    bool convert_and_push(std::string_view upstream_bytes, std::string& batch);
    void cut_empty_end(std::string& batch);
    bool unseen();
    void start_over();
    void release_held();
    ending settle();
    void write_ending(const ending& end, std::string& batch);
    void publish_last(const std::string& batch);

    stream_context context_;
    std::shared_ptr<client_link> client_;
    std::string request_id_;
    std::string client_address_;
    std::string client_model_;
    std::string upstream_model_;
    std::vector<std::string> warnings_;  // the conversion's, for /status
    upstream_request upstream_;
    msgbridge::response_context response_context_;  // for the converter of the one more ask
    std::optional<msgbridge::stream_converter> converter_;  // producer thread only
    cancel_handle cancel_;
    attempt_result result_;  // written by the producer before phase_/ended_ change

    std::mutex mutex_;
    std::condition_variable changed_;
    phase phase_ = phase::waiting;
    std::string pending_;
    // The converter's first events, held until content starts, the answer
    // ends, or a ping is due (message_start must come first): an answer that
    // ends empty while held can be asked for once more without the client
    // seeing a thing.
    std::string held_;
    bool holding_ = true;
    bool ended_ = false;
    bool client_gone_ = false;
    std::optional<msgbridge::error> abort_error_;
    std::string preview_;
    std::string end_note_;
    std::uint64_t input_tokens_ = 0;
    std::uint64_t output_tokens_ = 0;
    std::uint64_t cache_read_tokens_ = 0;
    std::uint64_t upstream_bytes_ = 0;  // producer thread only
    bool too_large_ = false;            // producer thread only
    bool said_nothing_ = false;         // producer thread only: the answer ended empty; its end events were cut
    unsigned pings_ = 0;
    steady::time_point started_;
    std::optional<steady::time_point> first_byte_;
    std::optional<steady::time_point> finished_;
    bool started_early_ = false;
    // Last: destroyed first, so a hang-up never reaches a half-destroyed session.
    std::unique_ptr<hangup_watch> hangup_;
};

/// What the connection pulls; ends the session when the response is destroyed.
class session_stream final : public body_stream {
public:
    session_stream(std::shared_ptr<stream_session> session, std::function<void(stream_session*)> done)
        : session_(std::move(session)), done_(std::move(done)) {}
    ~session_stream() override;
    bool next(std::string& out) override { return session_->next(out); }
    void cancel() override { session_->cancel_by_client(); }

private:
    std::shared_ptr<stream_session> session_;
    std::function<void(stream_session*)> done_;
};

}  // namespace proxy
