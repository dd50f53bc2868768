// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "msgbridge/detail/keys_http_date.hpp"
#include "msgbridge/error.hpp"
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

/// `nvapi-…3f9a`: enough to tell keys apart in logs, never the key. Keys
/// shorter than 16 bytes become `[redacted]` whatever their length.
[[nodiscard]] inline std::string redact_key(std::string_view key);

/// The four places keys come from, highest precedence first. Fill in what is
/// set; an unset variable and an empty one are the same.
struct key_sources {
    std::string provider_api_keys;         ///< env `PROVIDER_API_KEYS`, comma-separated
    std::string provider_api_key;          ///< env `PROVIDER_API_KEY`, one key
    std::vector<std::string> nvidia_keys;  ///< config `nvidia_keys`
    std::string nvidia_key;                ///< config `nvidia_key` (deprecated)
};

/// Which source the keys were taken from.
enum class key_source { none, provider_api_keys, provider_api_key, nvidia_keys, nvidia_key };

/// The name a user knows `source` by: `PROVIDER_API_KEYS`, …, `nvidia_key`; `none`.
[[nodiscard]] constexpr std::string_view to_string(key_source source) noexcept;

/// The keys in use and where they came from.
struct collected_keys {
    std::vector<std::string> keys;  ///< trimmed, no blanks, no duplicates, in the source's order
    key_source source = key_source::none;
};

/// The keys of the highest-precedence source that yields at least one key
/// (`PROVIDER_API_KEYS` > `PROVIDER_API_KEY` > `nvidia_keys` > `nvidia_key`);
/// sources are never merged. No keys at all is allowed: local upstreams need none.
[[nodiscard]] inline collected_keys collect_keys(const key_sources& sources);

/// The delay a `Retry-After` header value asks for: delta-seconds (`120`, a
/// fraction such as `1.5` is accepted) or an HTTP-date in any of the three
/// forms of RFC 9110 (a past date is zero). `nullopt` when the value is neither.
[[nodiscard]] inline std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now) noexcept;

/// The Go original retries a 429 with the next key, up to this many attempts per request.
inline constexpr int default_max_attempts = 5;

/// Configuration of a `key_pool`; every field has a usable default. Durations
/// are clamped to [0, 366 days].
struct key_pool_options {
    rotation strategy = rotation::round_robin;
    /// How long a key that got 401/403 stays out of service.
    std::chrono::milliseconds auth_quarantine = std::chrono::minutes(15);
    /// Cooldown after a 429 without a usable Retry-After: base · 2^(n-1) for
    /// the n-th 429 in a row on that key, at most `backoff_cap`.
    std::chrono::milliseconds backoff_base = std::chrono::seconds(1);
    std::chrono::milliseconds backoff_cap = std::chrono::seconds(60);
    /// Upper bound on an honoured Retry-After, so a bogus value cannot park a key for days.
    std::chrono::milliseconds retry_after_cap = std::chrono::hours(1);
    /// Per-key budget over any sliding minute; 0 turns pacing off. NVIDIA's free keys allow about 40.
    std::uint32_t requests_per_minute = 0;
    /// Monotonic time; empty means `std::chrono::steady_clock::now`.
    std::function<std::chrono::steady_clock::time_point()> clock;
    /// Calendar time for HTTP-date Retry-After and `last_error_at`; empty means `system_clock::now`.
    std::function<std::chrono::system_clock::time_point()> wall_clock;
    /// Seed for `rotation::random`; empty means a per-pool seed from the clock.
    std::optional<std::uint64_t> seed;
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
    auth_failed,   ///< 401/403: the key is quarantined for `auth_quarantine`
    transient,     ///< network error, 5xx, other 4xx: not the key's fault, no penalty
};

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
    /// `redact_key(key())`, for logs.
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
    std::string redacted_id;
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

/// `[{"id":"nvapi-…3f9a","requests":3,…},…]`: the stats as JSON for /health.
[[nodiscard]] inline std::string to_json(const std::vector<key_stats>& stats);

/// A thread-safe pool of upstream keys with rotation, 429 cooldown, auth
/// quarantine and optional pacing. All state lives in the object; one mutex
/// guards it. Not movable: leases point at it. See docs/keys.md.
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
    /// `redact_key` of the key at `index`.
    [[nodiscard]] std::string_view redacted_id(std::size_t index) const noexcept;

    /// A consistent snapshot of every key's counters.
    [[nodiscard]] std::vector<key_stats> stats() const;

private:
    friend class key_lease;
    using time_point = std::chrono::steady_clock::time_point;

    struct slot {
        std::uint32_t in_flight = 0;
        std::uint64_t requests = 0, successes = 0, rate_limited = 0, auth_failures = 0, transient_failures = 0;
        std::uint32_t consecutive_429 = 0;
        time_point cooling_until{};
        time_point quarantined_until{};
        std::deque<time_point> recent;  // the last requests_per_minute lease times, oldest first
        std::optional<std::chrono::system_clock::time_point> last_error_at;
    };

    time_point now() const { return options_.clock ? options_.clock() : std::chrono::steady_clock::now(); }
    std::chrono::system_clock::time_point wall_now() const {
        return options_.wall_clock ? options_.wall_clock() : std::chrono::system_clock::now();
    }

    // All private helpers expect mutex_ held.
    time_point usable_at(const slot& s, time_point now) const;
    std::optional<std::size_t> pick(const key_set& tried, time_point now);
    std::uint64_t next_random() noexcept;
    std::chrono::milliseconds backoff_for(std::uint32_t consecutive) const noexcept;

    report_result report(std::size_t index, key_outcome outcome, std::string_view retry_after);
    void release(std::size_t index) noexcept;

    std::vector<std::string> keys_;      // immutable after construction: leases read them unlocked
    std::vector<std::string> redacted_;  // likewise
    key_pool_options options_;
    mutable std::mutex mutex_;
    std::vector<slot> slots_;
    std::size_t cursor_ = 0;  // where round_robin and least_used ties start looking
    std::uint64_t random_state_ = 0;
};

// ---------------------------------------------------------------------------
// Implementation.

namespace detail::key_policy {

constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

constexpr std::string_view trim(std::string_view text) noexcept {
    while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
    return text;
}

inline void add_key(std::vector<std::string>& keys, std::string_view raw) {
    const std::string_view key = trim(raw);
    if (key.empty()) return;
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) return;
    keys.emplace_back(key);
}

inline std::vector<std::string> split_keys(std::string_view list) {
    std::vector<std::string> keys;
    while (true) {
        const std::size_t comma = list.find(',');
        add_key(keys, list.substr(0, comma));
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return keys;
}

// splitmix64: tiny, good enough to spread load, and the same sequence on
// every standard library (std::uniform_int_distribution is not), so a
// seeded test sees the same picks everywhere.
constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
    state += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

constexpr std::chrono::milliseconds ceil_ms(std::chrono::steady_clock::duration d) noexcept {
    if (d <= std::chrono::steady_clock::duration::zero()) return std::chrono::milliseconds(0);
    return std::chrono::ceil<std::chrono::milliseconds>(d);
}

}  // namespace detail::key_policy

inline result<rotation> parse_rotation(std::string_view name, std::string_view field) {
    const std::string_view value = detail::key_policy::trim(name);
    if (value.empty() || value == "round_robin") return rotation::round_robin;
    if (value == "random") return rotation::random;
    if (value == "least_used") return rotation::least_used;
    std::string message(field);
    message += ": unknown key rotation strategy";
    // Echo the value only when it looks like a strategy name: a key pasted
    // into the wrong variable must not end up in the startup error.
    const bool echo = value.size() <= 24 && std::all_of(value.begin(), value.end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
                      });
    if (echo) {
        message += " \"";
        message += value;
        message += '"';
    }
    message += "; expected round_robin, random or least_used";
    return invalid_request(std::move(message));
}

constexpr std::string_view to_string(rotation strategy) noexcept {
    switch (strategy) {
        case rotation::round_robin: return "round_robin";
        case rotation::random: return "random";
        case rotation::least_used: return "least_used";
    }
    return "round_robin";
}

inline std::string redact_key(std::string_view key) {
    // Below 16 bytes the last four would be a quarter of the secret or more.
    constexpr std::size_t min_length = 16;
    constexpr std::size_t max_prefix = 8;
    constexpr std::size_t tail = 4;
    if (key.size() < min_length) return "[redacted]";
    std::string out;
    // Vendor prefixes (`nvapi-`, `sk-`) are public and tell key kinds apart.
    const std::size_t dash = key.find('-');
    if (dash != std::string_view::npos && dash + 1 <= max_prefix) out.append(key.substr(0, dash + 1));
    out += "\xE2\x80\xA6";  // …
    for (char c : key.substr(key.size() - tail)) {
        const bool printable = c > ' ' && c < 0x7F;
        out.push_back(printable ? c : '?');
    }
    return out;
}

constexpr std::string_view to_string(key_source source) noexcept {
    switch (source) {
        case key_source::none: return "none";
        case key_source::provider_api_keys: return "PROVIDER_API_KEYS";
        case key_source::provider_api_key: return "PROVIDER_API_KEY";
        case key_source::nvidia_keys: return "nvidia_keys";
        case key_source::nvidia_key: return "nvidia_key";
    }
    return "none";
}

inline collected_keys collect_keys(const key_sources& sources) {
    collected_keys out;
    out.keys = detail::key_policy::split_keys(sources.provider_api_keys);
    if (!out.keys.empty()) {
        out.source = key_source::provider_api_keys;
        return out;
    }
    detail::key_policy::add_key(out.keys, sources.provider_api_key);
    if (!out.keys.empty()) {
        out.source = key_source::provider_api_key;
        return out;
    }
    for (const std::string& key : sources.nvidia_keys) detail::key_policy::add_key(out.keys, key);
    if (!out.keys.empty()) {
        out.source = key_source::nvidia_keys;
        return out;
    }
    detail::key_policy::add_key(out.keys, sources.nvidia_key);
    if (!out.keys.empty()) out.source = key_source::nvidia_key;
    return out;
}

inline std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                                  std::chrono::system_clock::time_point now) noexcept {
    const std::string_view text = detail::key_policy::trim(value);
    if (text.empty()) return std::nullopt;
    if (text.front() >= '0' && text.front() <= '9') {
        // Saturate rather than overflow: the pool caps the delay anyway.
        constexpr std::uint64_t max_seconds = 1'000'000'000;
        std::uint64_t seconds = 0;
        std::size_t i = 0;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
            seconds = std::min<std::uint64_t>(max_seconds, seconds * 10 + static_cast<std::uint64_t>(text[i] - '0'));
        }
        std::uint64_t millis = 0;
        if (i < text.size() && text[i] == '.') {
            ++i;
            std::uint64_t scale = 100;
            const std::size_t first_digit = i;
            for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
                millis += scale * static_cast<std::uint64_t>(text[i] - '0');
                scale /= 10;
            }
            if (i == first_digit) return std::nullopt;
            // A fraction below a millisecond still means "not now".
            if (millis == 0 && text.find_first_not_of("0.", first_digit - 1) != std::string_view::npos) millis = 1;
        }
        if (i != text.size()) return std::nullopt;
        return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000 + millis));
    }
    const auto date = detail::key_policy::parse_http_date(text, now);
    if (!date) return std::nullopt;
    if (*date <= now) return std::chrono::milliseconds(0);
    return std::chrono::ceil<std::chrono::milliseconds>(*date - now);
}

constexpr key_outcome outcome_for_status(int http_status) noexcept {
    if (http_status >= 200 && http_status < 300) return key_outcome::success;
    if (http_status == 429) return key_outcome::rate_limited;
    if (http_status == 401 || http_status == 403) return key_outcome::auth_failed;
    return key_outcome::transient;
}

// ---- key_set ----

inline void key_set::insert(std::size_t index) {
    if (contains(index)) return;
    if (index < 64) {
        low_ |= std::uint64_t{1} << index;
    } else {
        const std::size_t word = (index - 64) / 64;
        if (high_.size() <= word) high_.resize(word + 1, 0);
        high_[word] |= std::uint64_t{1} << ((index - 64) % 64);
    }
    ++count_;
}

inline bool key_set::contains(std::size_t index) const noexcept {
    if (index < 64) return (low_ >> index) & 1U;
    const std::size_t word = (index - 64) / 64;
    return word < high_.size() && ((high_[word] >> ((index - 64) % 64)) & 1U);
}

inline void key_set::clear() noexcept {
    low_ = 0;
    high_.clear();
    count_ = 0;
}

// ---- key_lease ----

inline key_lease::key_lease(key_lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), index_(other.index_), reported_(other.reported_) {}

inline key_lease& key_lease::operator=(key_lease&& other) noexcept {
    if (this != &other) {
        release();
        pool_ = std::exchange(other.pool_, nullptr);
        index_ = other.index_;
        reported_ = other.reported_;
    }
    return *this;
}

inline key_lease::~key_lease() { release(); }

inline std::string_view key_lease::key() const noexcept {
    return pool_ ? std::string_view(pool_->keys_[index_]) : std::string_view();
}

inline std::string_view key_lease::redacted_id() const noexcept {
    return pool_ ? pool_->redacted_id(index_) : std::string_view();
}

inline report_result key_lease::report(key_outcome outcome, std::string_view retry_after) {
    if (pool_ == nullptr || reported_) return {};
    reported_ = true;
    return pool_->report(index_, outcome, retry_after);
}

inline void key_lease::release() noexcept {
    if (pool_ == nullptr) return;
    std::exchange(pool_, nullptr)->release(index_);
}

// ---- key_pool ----

inline key_pool::key_pool(std::vector<std::string> keys, key_pool_options options) : options_(std::move(options)) {
    for (const std::string& key : keys) detail::key_policy::add_key(keys_, key);
    redacted_.reserve(keys_.size());
    for (const std::string& key : keys_) redacted_.push_back(redact_key(key));
    slots_.resize(keys_.size());
    if (options_.seed) {
        random_state_ = *options_.seed;
    } else {
        // No std::random_device: it may throw, and the core must work without exceptions.
        random_state_ = static_cast<std::uint64_t>(now().time_since_epoch().count()) ^
                        static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(this));
    }
    // Bounded so that now + duration can never overflow a time_point.
    const auto clamp = [](std::chrono::milliseconds& d) {
        d = std::clamp(d, std::chrono::milliseconds(0), std::chrono::milliseconds(std::chrono::hours(24 * 366)));
    };
    clamp(options_.auth_quarantine);
    clamp(options_.backoff_base);
    clamp(options_.backoff_cap);
    clamp(options_.retry_after_cap);
}

inline key_pool::~key_pool() {
#ifndef NDEBUG
    std::lock_guard<std::mutex> lock(mutex_);
    for (const slot& s : slots_) MSGBRIDGE_ASSERT(s.in_flight == 0 && "a key_lease outlived its key_pool");
#endif
}

inline std::string_view key_pool::redacted_id(std::size_t index) const noexcept {
    return index < redacted_.size() ? std::string_view(redacted_[index]) : std::string_view();
}

inline key_pool::time_point key_pool::usable_at(const slot& s, time_point now) const {
    time_point at = std::max(s.cooling_until, s.quarantined_until);
    // Sliding window: a key that was leased requests_per_minute times is
    // usable again one minute after the oldest of those leases.
    const std::size_t budget = options_.requests_per_minute;
    if (budget > 0 && s.recent.size() >= budget) {
        const time_point oldest = s.recent[s.recent.size() - budget];
        if (oldest + std::chrono::minutes(1) > now) at = std::max(at, oldest + std::chrono::minutes(1));
    }
    return at;
}

inline std::uint64_t key_pool::next_random() noexcept { return detail::key_policy::splitmix64(random_state_); }

inline std::optional<std::size_t> key_pool::pick(const key_set& tried, time_point now) {
    const std::size_t n = slots_.size();
    const auto usable = [&](std::size_t i) { return !tried.contains(i) && usable_at(slots_[i], now) <= now; };

    if (options_.strategy == rotation::random) {
        std::size_t candidates = 0;
        for (std::size_t i = 0; i < n; ++i) candidates += usable(i) ? 1 : 0;
        if (candidates == 0) return std::nullopt;
        // Rejection sampling keeps every candidate exactly equally likely.
        const std::uint64_t range = candidates;
        const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() -
                                    std::numeric_limits<std::uint64_t>::max() % range;
        std::uint64_t draw = next_random();
        while (draw >= limit) draw = next_random();
        std::size_t wanted = static_cast<std::size_t>(draw % range);
        for (std::size_t i = 0; i < n; ++i) {
            if (usable(i) && wanted-- == 0) return i;
        }
        return std::nullopt;
    }

    std::optional<std::size_t> best;
    for (std::size_t step = 0; step < n; ++step) {
        const std::size_t i = (cursor_ + step) % n;
        if (!usable(i)) continue;
        if (options_.strategy == rotation::round_robin) {
            best = i;
            break;
        }
        // least_used: strictly fewer wins, so among equals the first in turn does.
        if (!best || slots_[i].in_flight < slots_[*best].in_flight) best = i;
    }
    if (best) cursor_ = (*best + 1) % n;
    return best;
}

inline acquire_result key_pool::acquire(const key_set& tried) {
    acquire_result out;
    if (keys_.empty()) return out;

    std::lock_guard<std::mutex> lock(mutex_);
    const time_point t = now();
    if (const auto chosen = pick(tried, t)) {
        slot& s = slots_[*chosen];
        ++s.in_flight;
        ++s.requests;
        if (options_.requests_per_minute > 0) {
            if (s.recent.size() >= options_.requests_per_minute) s.recent.pop_front();
            s.recent.push_back(t);
        }
        out.status = acquire_status::leased;
        out.lease = key_lease(this, *chosen);
        return out;
    }

    std::optional<time_point> first_free;
    bool any_untried = false;
    bool all_quarantined = true;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (tried.contains(i)) continue;
        any_untried = true;
        const time_point at = usable_at(slots_[i], t);
        if (slots_[i].quarantined_until <= t) all_quarantined = false;
        if (!first_free || at < *first_free) first_free = at;
    }
    if (!any_untried) {
        for (slot& s : slots_) {
            const time_point at = usable_at(s, t);
            if (!first_free || at < *first_free) first_free = at;
        }
        out.status = acquire_status::exhausted;
    } else {
        out.status = all_quarantined ? acquire_status::quarantined : acquire_status::cooling;
    }
    out.wait = detail::key_policy::ceil_ms(*first_free - t);
    return out;
}

inline std::chrono::milliseconds key_pool::backoff_for(std::uint32_t consecutive) const noexcept {
    using ms = std::chrono::milliseconds;
    if (consecutive == 0 || options_.backoff_base.count() == 0) return ms(0);
    ms delay = options_.backoff_base;
    for (std::uint32_t i = 1; i < consecutive && delay < options_.backoff_cap; ++i) {
        delay = delay > options_.backoff_cap / 2 ? options_.backoff_cap : delay * 2;
    }
    return std::min(delay, options_.backoff_cap);
}

inline report_result key_pool::report(std::size_t index, key_outcome outcome, std::string_view retry_after) {
    // Read the wall clock before locking: only HTTP-date Retry-After needs it.
    std::optional<std::chrono::milliseconds> asked;
    std::optional<std::chrono::system_clock::time_point> wall;
    if (outcome != key_outcome::success) wall = wall_now();
    if (outcome == key_outcome::rate_limited && !detail::key_policy::trim(retry_after).empty()) {
        asked = parse_retry_after(retry_after, *wall);
    }

    report_result out;
    out.recorded = true;
    std::lock_guard<std::mutex> lock(mutex_);
    const time_point t = now();
    slot& s = slots_[index];
    switch (outcome) {
        case key_outcome::success:
            ++s.successes;
            s.consecutive_429 = 0;
            break;
        case key_outcome::rate_limited: {
            ++s.rate_limited;
            if (s.consecutive_429 < std::numeric_limits<std::uint32_t>::max()) ++s.consecutive_429;
            s.last_error_at = wall;
            out.cooldown = asked ? std::min(*asked, options_.retry_after_cap) : backoff_for(s.consecutive_429);
            s.cooling_until = std::max(s.cooling_until, t + out.cooldown);
            break;
        }
        case key_outcome::auth_failed:
            ++s.auth_failures;
            s.last_error_at = wall;
            out.newly_quarantined = s.quarantined_until <= t;
            out.cooldown = options_.auth_quarantine;
            s.quarantined_until = std::max(s.quarantined_until, t + options_.auth_quarantine);
            break;
        case key_outcome::transient:
            ++s.transient_failures;
            s.last_error_at = wall;
            break;
    }
    return out;
}

inline void key_pool::release(std::size_t index) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    MSGBRIDGE_ASSERT(slots_[index].in_flight > 0);
    --slots_[index].in_flight;
}

inline std::vector<key_stats> key_pool::stats() const {
    std::vector<key_stats> out;
    out.reserve(keys_.size());
    std::lock_guard<std::mutex> lock(mutex_);
    const time_point t = now();
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        const slot& s = slots_[i];
        key_stats k;
        k.index = i;
        k.redacted_id = redacted_[i];
        k.requests = s.requests;
        k.in_flight = s.in_flight;
        k.successes = s.successes;
        k.rate_limited = s.rate_limited;
        k.auth_failures = s.auth_failures;
        k.transient_failures = s.transient_failures;
        k.quarantined = s.quarantined_until > t;
        k.last_error_at = s.last_error_at;
        const time_point at = usable_at(s, t);
        if (at > t) {
            k.cooling_until = at;
            k.cooling_for = detail::key_policy::ceil_ms(at - t);
        }
        out.push_back(std::move(k));
    }
    return out;
}

inline std::string to_json(const std::vector<key_stats>& stats) {
    std::string out = "[";
    for (const key_stats& k : stats) {
        if (out.size() > 1) out.push_back(',');
        out += "{\"index\":" + std::to_string(k.index);
        out += ",\"id\":";
        detail::append_json_string(out, k.redacted_id);
        out += ",\"requests\":" + std::to_string(k.requests);
        out += ",\"in_flight\":" + std::to_string(k.in_flight);
        out += ",\"successes\":" + std::to_string(k.successes);
        out += ",\"rate_limited\":" + std::to_string(k.rate_limited);
        out += ",\"auth_failures\":" + std::to_string(k.auth_failures);
        out += ",\"transient_failures\":" + std::to_string(k.transient_failures);
        out += ",\"quarantined\":";
        out += k.quarantined ? "true" : "false";
        out += ",\"cooling_for_ms\":" + std::to_string(k.cooling_for.count());
        out += ",\"last_error_at\":";
        if (k.last_error_at) {
            out.push_back('"');
            detail::key_policy::append_rfc3339(*k.last_error_at, out);
            out.push_back('"');
        } else {
            out += "null";
        }
        out.push_back('}');
    }
    out.push_back(']');
    return out;
}

MSGBRIDGE_END_NAMESPACE
