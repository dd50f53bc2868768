// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgbridge/error.hpp"
#include "msgbridge/key_share.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// How the next key is chosen: `round_robin` (default), `random`, `least_used`.
enum class rotation { round_robin, random, least_used };

/// Parses the wire spelling (`round_robin`, `random`, `least_used`; surrounding
/// blanks ignored; empty means the default, `round_robin`). Anything else is an
/// `invalid_request_error` whose message starts with `field` (the config key or
/// environment variable the value came from). See docs/keys.md.
[[nodiscard]] inline result<rotation> parse_rotation(std::string_view name, std::string_view field = "key_rotation");

/// The wire spelling of `strategy`.
[[nodiscard]] constexpr std::string_view to_string(rotation strategy) noexcept;

/// The key as logs, errors and /health may show it: a public vendor prefix
/// (`nvapi-`, `sk-`) and the last 4 bytes when they are at most an eighth of
/// the rest (`nvapi-…3f9a`), else `[redacted]`. See docs/keys.md#redaction.
[[nodiscard]] inline std::string redact_key(std::string_view key);

/// `redact_key(key)` and `#index`, the key's position in its pool, so that
/// keys that redact alike stay apart: `nvapi-…3f9a#0`, `[redacted]#1`.
[[nodiscard]] inline std::string redact_key(std::string_view key, std::size_t index);

/// The delay a `Retry-After` header value asks for: delta-seconds (`120`, a
/// fraction such as `1.5` is accepted) or an HTTP-date in any of the three
/// forms of RFC 9110 (a past date is zero). `nullopt` when the value is neither.
[[nodiscard]] inline std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now) noexcept;

/// Upstream attempts per client request, keys rotated between them: five, as
/// in the Go original.
inline constexpr int default_max_attempts = 5;

/// A pacing budget for one key, in place of `key_pool_options::requests_per_minute`.
struct key_budget {
    std::string key;
    std::uint32_t requests_per_minute = 0;  ///< 0: this key is not paced
};

/// Configuration of a `key_pool`; every field has a usable default. Durations
/// are clamped to [0, 366 days].
struct key_pool_options {
    rotation strategy = rotation::round_robin;
    /// Quarantine after a 401/403: base · 2^(n-1) for the n-th in a row on
    /// that key (a success resets n), at most `auth_quarantine`. Short at
    /// first because a 401/403 often says nothing about the key (a WAF, a
    /// model the account may not use); see docs/keys.md#quarantine.
    std::chrono::milliseconds auth_quarantine_base = std::chrono::seconds(5);
    std::chrono::milliseconds auth_quarantine = std::chrono::minutes(15);
    /// Cooldown after a 429 without a usable Retry-After: base · 2^(n-1) for
    /// the n-th 429 in a row on that key, at most `backoff_cap`.
    std::chrono::milliseconds backoff_base = std::chrono::seconds(1);
    std::chrono::milliseconds backoff_cap = std::chrono::seconds(60);
    /// Upper bound on an honoured Retry-After, so a bogus value cannot park a key for days.
    std::chrono::milliseconds retry_after_cap = std::chrono::hours(1);
    /// Per-key budget over any sliding minute; 0 turns pacing off. NVIDIA's free keys allow about 40.
    std::uint32_t requests_per_minute = 0;
    /// Budgets that replace `requests_per_minute` for the keys they name (the
    /// last entry for a key wins); entries naming no key of the pool are ignored.
    std::vector<key_budget> key_requests_per_minute;
    /// Monotonic time; empty means `std::chrono::steady_clock::now`.
    std::function<std::chrono::steady_clock::time_point()> clock;
    /// Calendar time for HTTP-date Retry-After and `last_error_at`; empty means `system_clock::now`.
    std::function<std::chrono::system_clock::time_point()> wall_clock;
    /// Seed for `rotation::random`; empty means a per-pool seed from the clock.
    std::optional<std::uint64_t> seed;
    /// Cooldowns, quarantines, pacing windows and the round-robin cursor shared
    /// with other pools (other processes); empty: this pool alone knows them.
    std::shared_ptr<key_state_share> share;
};

/// A small set of key indices: the keys already tried for one request.
class key_set {
public:
    void insert(std::size_t index);
    [[nodiscard]] bool contains(std::size_t index) const noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    void clear() noexcept;

private:
    std::uint64_t low_ = 0;            // indices 0..63, the common case, without allocating
    std::vector<std::uint64_t> high_;  // indices 64.. in 64-bit words
    std::size_t count_ = 0;
};

/// How one upstream attempt went, from the key's point of view.
enum class key_outcome {
    success,       ///< the key worked; resets its 429 backoff
    rate_limited,  ///< 429: the key cools down for Retry-After or its backoff
    auth_failed,   ///< 401/403: the key is quarantined, backing off from `auth_quarantine_base`
    transient,     ///< network error, 5xx, other 4xx: not the key's fault, no penalty
};

/// How `key_state_share` names `key`: its redacted form and 16 hex digits of
/// its FNV-1a 64 hash (`nvapi-…3f9a:1c9d…`), the same in every process; never the key.
[[nodiscard]] inline std::string key_share_id(std::string_view key);

/// The outcome for an upstream HTTP status: 2xx success, 429 rate_limited,
/// 401/403 auth_failed, anything else transient.
[[nodiscard]] constexpr key_outcome outcome_for_status(int http_status) noexcept;

/// What reporting an outcome did to the key.
struct report_result {
    bool recorded = false;                  ///< false: empty lease, or it already reported
    bool newly_quarantined = false;         ///< this report took the key out of service: log its redacted id now
    std::chrono::milliseconds cooldown{0};  ///< how long the key now rests (cooldown or quarantine)
};

class key_pool;

/// One key, held for one upstream attempt. Counts as in flight until it is
/// destroyed or released. Must not outlive its pool.
class key_lease {
public:
    key_lease() noexcept = default;
    key_lease(key_lease&& other) noexcept;
    key_lease& operator=(key_lease&& other) noexcept;
    key_lease(const key_lease&) = delete;
    key_lease& operator=(const key_lease&) = delete;
    ~key_lease();

    [[nodiscard]] bool valid() const noexcept { return pool_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }

    /// Position of the key in the pool (stable; what `key_set` holds).
    [[nodiscard]] std::size_t index() const noexcept { return index_; }
    /// The key itself, for `Authorization: Bearer …` only. Never log it.
    [[nodiscard]] std::string_view key() const noexcept;
    /// `redact_key(key(), index())`, for logs.
    [[nodiscard]] std::string_view redacted_id() const noexcept;

    /// Records how the attempt went. Only the first report of a lease counts;
    /// the lease stays in flight until released (a stream may still be running).
    report_result report(key_outcome outcome, std::string_view retry_after = {});

    /// Ends the lease early; the destructor does the same.
    void release() noexcept;

private:
    friend class key_pool;
    key_lease(key_pool* pool, std::size_t index) noexcept : pool_(pool), index_(index) {}

    key_pool* pool_ = nullptr;
    std::size_t index_ = 0;
    bool reported_ = false;
};

/// What `key_pool::acquire` found.
enum class acquire_status {
    leased,       ///< `lease` holds a key
    no_keys,      ///< the pool is empty: send no Authorization header
    cooling,      ///< every untried key is cooling down or over its pacing budget; see `wait`
    quarantined,  ///< every untried key is out of service after 401/403; see `wait`
    exhausted,    ///< every key was already tried for this request
};

/// The outcome of `key_pool::acquire`.
struct acquire_result {
    acquire_status status = acquire_status::no_keys;
    key_lease lease;  ///< valid only when `status == leased`
    /// cooling/quarantined: until the first untried key is usable again;
    /// exhausted: until any key is (zero if one is usable now). Rounded up.
    std::chrono::milliseconds wait{0};
};

/// Counters for one key, for a status page or metrics.
struct key_stats {
    std::size_t index = 0;
    std::string redacted_id;  ///< `redact_key(key, index)`
    std::uint64_t requests = 0;  ///< leases granted
    std::uint32_t in_flight = 0;
    std::uint64_t successes = 0;
    std::uint64_t rate_limited = 0;  ///< 429s
    std::uint64_t auth_failures = 0;
    std::uint64_t transient_failures = 0;
    bool quarantined = false;
    /// When the key is usable again (cooldown, quarantine or pacing); `nullopt` when usable now.
    std::optional<std::chrono::steady_clock::time_point> cooling_until;
    std::chrono::milliseconds cooling_for{0};  ///< `cooling_until` minus now, rounded up
    std::optional<std::chrono::system_clock::time_point> last_error_at;  ///< last 429, 401/403 or transient failure
};

/// `[{"index":0,"id":"nvapi-…3f9a#0","requests":3,…},…]`: the stats as JSON for /health.
[[nodiscard]] inline std::string to_json(const std::vector<key_stats>& stats);

/// A thread-safe pool of upstream keys with rotation, 429 cooldown, auth
/// quarantine and optional pacing. All state lives in the object, one mutex
/// guarding it, and with `key_pool_options::share` the resting times, pacing
/// windows and cursor are also kept in common with other pools. Not movable:
/// leases point at it. See docs/keys.md.
class key_pool {
public:
    /// Blank and duplicate keys are dropped (first occurrence kept).
    explicit key_pool(std::vector<std::string> keys, key_pool_options options = {});
    key_pool(const key_pool&) = delete;
    key_pool& operator=(const key_pool&) = delete;
    ~key_pool();

    /// A key for one attempt, skipping `tried` and keys cooling down,
    /// quarantined or over their pacing budget.
    [[nodiscard]] acquire_result acquire(const key_set& tried = {});

    [[nodiscard]] std::size_t size() const noexcept { return keys_.size(); }
    [[nodiscard]] bool empty() const noexcept { return keys_.empty(); }
    [[nodiscard]] rotation strategy() const noexcept { return options_.strategy; }
    /// `redact_key(key, index)` of the key at `index`; empty past the end.
    [[nodiscard]] std::string_view redacted_id(std::size_t index) const noexcept;

    /// Puts `keys` back in service at once and forgets their 401/403 streak:
    /// for when every key tried for a request was refused alike, which blames
    /// the account or the request rather than any one key.
    void lift_quarantine(const key_set& keys);

    /// A consistent snapshot of every key's counters.
    [[nodiscard]] std::vector<key_stats> stats() const;

    /// Takes over, for each key this pool shares with `previous`, everything
    /// `previous` knows of it (cooldown, quarantine, failure streaks, pacing
    /// window, counters), so that replacing a pool (a configuration reload)
    /// neither forgives a resting key nor resets its stats. Keys only in this
    /// pool stay fresh; leases of `previous` stay with it. Both pools must use
    /// the same clock. Call it before this pool hands out leases.
    void carry_over_state(const key_pool& previous);

private:
    friend class key_lease;
    using time_point = std::chrono::steady_clock::time_point;

    struct slot {
        std::uint32_t in_flight = 0;
        std::uint64_t requests = 0, successes = 0, rate_limited = 0, auth_failures = 0, transient_failures = 0;
        std::uint32_t consecutive_429 = 0;
        std::uint32_t consecutive_auth_failures = 0;
        time_point cooling_until{};
        time_point quarantined_until{};
        time_point paced_until{};  // the share refused a pacing slot until then
        std::uint32_t requests_per_minute = 0;  // this key's pacing budget, 0: unpaced
        std::deque<time_point> recent;          // the last requests_per_minute lease times, oldest first
        std::optional<std::chrono::system_clock::time_point> last_error_at;
    };

    time_point now() const { return options_.clock ? options_.clock() : std::chrono::steady_clock::now(); }
    std::chrono::system_clock::time_point wall_now() const {
        return options_.wall_clock ? options_.wall_clock() : std::chrono::system_clock::now();
    }

    std::uint32_t budget_of(std::string_view key) const;  // from options_ only: no lock needed
    acquire_result acquire_shared(const key_set& tried);
    void publish(std::size_t index, key_outcome outcome, std::chrono::system_clock::time_point wall,
                 std::chrono::milliseconds cooldown);

    // The other private helpers expect mutex_ held.
    time_point usable_at(const slot& s, time_point now) const;
    std::optional<std::size_t> pick(const key_set& tried, time_point now);
    acquire_result grant(std::size_t index, time_point now);
    acquire_result none_free(const key_set& tried, time_point now) const;
    void merge(const shared_key_view& view, time_point now, std::int64_t wall_ms);
    std::uint64_t next_random() noexcept;

    report_result report(std::size_t index, key_outcome outcome, std::string_view retry_after);
    void release(std::size_t index) noexcept;

    std::vector<std::string> keys_;      // immutable after construction: leases read them unlocked
    std::vector<std::string> redacted_;  // likewise
    std::vector<std::string> share_ids_;  // likewise; key_share_id of each key, empty without a share
    key_pool_options options_;
    mutable std::mutex mutex_;
    std::vector<slot> slots_;
    std::size_t cursor_ = 0;  // where round_robin and least_used ties start looking
    std::uint64_t random_state_ = 0;
};

MSGBRIDGE_END_NAMESPACE

#include "msgbridge/detail/keys_impl.hpp"
#include "msgbridge/detail/keys_pool_impl.hpp"
