// The key pool's shared state in Redis (REDIS_URL), so that several proxy
// instances keep one set of cooldowns, quarantines, pacing windows and one
// round-robin turn. See docs/scale-out.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <msgbridge/key_share.hpp>

#include "config.hpp"
#include "log.hpp"
#include "metrics.hpp"

struct redisContext;

namespace proxy {

/// A `key_state_share` on a few hiredis connections. Every command has a
/// short deadline; when Redis fails or is slow, calls answer "unavailable" at
/// once (the pools go on alone) until a background thread has reached Redis
/// again, trying once a second. Only that thread connects (DNS look-up,
/// AUTH, SCRIPT LOAD): a request waits for one command at most. Going down
/// and coming back are logged once each.
class redis_key_share final : public msgbridge::key_state_share {
public:
    /// Opens every connection now, each within the deadline (the thread
    /// retries if one fails): a Redis down at start is a degraded state, not
    /// a failed start. `connections`: how many requests
    /// may talk to Redis at once (one connection each; hiredis's are not
    /// thread-safe). With one, every request waits for the others' round trips.
    /// `retry_every`: how often the background thread tries to reconnect.
    redis_key_share(redis_endpoint endpoint, logger log,
                    std::chrono::milliseconds deadline = std::chrono::milliseconds(100), std::size_t connections = 4,
                    std::chrono::milliseconds retry_every = std::chrono::seconds(1));
    ~redis_key_share() override;
    redis_key_share(const redis_key_share&) = delete;
    redis_key_share& operator=(const redis_key_share&) = delete;

    [[nodiscard]] const redis_endpoint& endpoint() const noexcept { return endpoint_; }
    /// False while Redis cannot be reached: /health says "degraded".
    [[nodiscard]] bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }
    [[nodiscard]] shared_state_reading reading() const noexcept {
        return {connected(), unavailable_.load(std::memory_order_relaxed)};
    }

    std::optional<msgbridge::shared_key_view> view(const std::vector<std::string>& ids) override;
    bool raise(std::string_view id, const msgbridge::shared_key_state& state) override;
    bool lift_quarantine(std::string_view id) override;
    std::optional<msgbridge::shared_pacing_slot> take_pacing_slot(std::string_view id, std::uint32_t per_minute,
                                                                std::int64_t now_ms) override;

private:
    // The scripts' SHA1 digests as Redis named them when loaded on this
    // connection (SCRIPT LOAD), so that calls send the digest, not the text.
    struct loaded_scripts {
        std::string view;
        std::string raise;
        std::string take_slot;
    };
    struct connection {
        std::timed_mutex mutex;
        redisContext* context = nullptr;  // guarded by mutex
        loaded_scripts scripts;           // guarded by mutex
        std::uint64_t outages_when_connected = 0;  // guarded by mutex
    };

    // Runs `work` on a free connection, or answers nullopt: Redis is known to
    // be down, no open connection is free within the deadline, or `work`
    // answered nullopt after an error (the link is then dropped and the
    // outage reported).
    template <class T, class Work>
    std::optional<T> with_connection(Work&& work);
    // A new link, authenticated, on the right database, scripts loaded; or
    // nullptr with `why` set.
    redisContext* open(loaded_scripts& scripts, std::string& why) const;
    // Opens every connection without a current link; the reason of the first
    // that fails, or nullopt when all are open.
    std::optional<std::string> open_all();
    void drop(connection& c, std::string_view why);  // c.mutex held
    void report_outage(std::string_view what);
    void resume_sharing();  // every connection is open: share again, and say so once
    void connect_in_background();  // the thread's body
    void ask_to_open();            // a request found a connection without a current link

    const redis_endpoint endpoint_;
    const logger log_;
    const std::chrono::milliseconds deadline_;
    const std::chrono::milliseconds retry_every_;
    std::vector<connection> connections_;  // sized once, never resized: the mutexes stay put
    std::atomic<std::size_t> next_{0};     // where a call starts looking for a free connection
    std::atomic<bool> connected_{false};
    std::atomic<bool> outage_logged_{false};  // one line per outage, not one per request or connection
    // Failures seen: a connection made before the last one is stale (Redis
    // restarted under it) and is replaced by the thread rather than used.
    std::atomic<std::uint64_t> outages_{0};
    std::atomic<std::uint64_t> unavailable_{0};
    // Names this instance's pacing grants apart from every other's in a
    // shared window: random per process, then a counter.
    const std::string grant_prefix_;
    std::atomic<std::uint64_t> grants_{0};

    std::mutex wake_mutex_;
    std::condition_variable wake_;  // an outage began, a connection needs opening, or the destructor runs
    bool stopping_ = false;         // guarded by wake_mutex_
    bool needs_opening_ = true;     // guarded by wake_mutex_
    std::thread reconnector_;       // last: it starts once everything above is ready
};

}  // namespace proxy
