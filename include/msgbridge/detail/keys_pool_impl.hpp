// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "msgbridge/detail/text.hpp"
#include "msgbridge/detail/keys_http_date.hpp"
#include "msgbridge/detail/keys_impl.hpp"
#include "msgbridge/keys.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail::key_policy {

inline void add_key(std::vector<std::string>& keys, std::string_view raw) {
    const std::string_view key = trim_json_space(raw);
    if (key.empty()) return;
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) return;
    keys.emplace_back(key);
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

// base · 2^(n-1) for the n-th failure in a row, at most `cap`; zero before the first.
inline std::chrono::milliseconds doubling_backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                                  std::uint32_t consecutive) noexcept {
    using ms = std::chrono::milliseconds;
    if (consecutive == 0 || base.count() == 0) return ms(0);
    ms delay = base;
    for (std::uint32_t i = 1; i < consecutive && delay < cap; ++i) delay = delay > cap / 2 ? cap : delay * 2;
    return std::min(delay, cap);
}

inline void count_up(std::uint32_t& streak) noexcept {
    if (streak < std::numeric_limits<std::uint32_t>::max()) ++streak;
}

inline std::int64_t epoch_ms(std::chrono::system_clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// A shared epoch time as this process's steady time, through one pair of
// readings of both clocks; `nullopt` when it is not later than `wall_ms`.
inline std::optional<std::chrono::steady_clock::time_point> steady_from_epoch_ms(
    std::int64_t until_ms, std::chrono::steady_clock::time_point now, std::int64_t wall_ms) noexcept {
    if (until_ms <= wall_ms) return std::nullopt;
    // A share's value is not trusted to stay inside the pool's 366-day clamp.
    constexpr std::int64_t longest = std::int64_t{366} * 24 * 3600 * 1000;
    return now + std::chrono::milliseconds(std::min(until_ms - wall_ms, longest));
}

}  // namespace detail::key_policy

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

inline std::string key_share_id(std::string_view key) {
    std::string id = redact_key(key);
    id.push_back(':');
    detail::append_hex_digits(id, detail::fnv1a64(key), 16);
    return id;
}

inline key_pool::key_pool(std::vector<std::string> keys, key_pool_options options) : options_(std::move(options)) {
    for (const std::string& key : keys) detail::key_policy::add_key(keys_, key);
    redacted_.reserve(keys_.size());
    for (const std::string& key : keys_) redacted_.push_back(redact_key(key, redacted_.size()));
    slots_.resize(keys_.size());
    for (std::size_t i = 0; i < keys_.size(); ++i) slots_[i].requests_per_minute = budget_of(keys_[i]);
    if (options_.share) {
        share_ids_.reserve(keys_.size());
        for (const std::string& key : keys_) share_ids_.push_back(key_share_id(key));
    }
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
    clamp(options_.auth_quarantine_base);
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

inline std::uint32_t key_pool::budget_of(std::string_view key) const {
    const auto& budgets = options_.key_requests_per_minute;
    const auto named = std::find_if(budgets.rbegin(), budgets.rend(), [&](const key_budget& b) { return b.key == key; });
    return named != budgets.rend() ? named->requests_per_minute : options_.requests_per_minute;
}

inline key_pool::time_point key_pool::usable_at(const slot& s, time_point now) const {
    time_point at = std::max({s.cooling_until, s.quarantined_until, s.paced_until});
    // Sliding window: a key that was leased requests_per_minute times is
    // usable again one minute after the oldest of those leases.
    const std::size_t budget = s.requests_per_minute;
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
    if (keys_.empty()) return {};
    if (options_.share) return acquire_shared(tried);
    std::lock_guard<std::mutex> lock(mutex_);
    const time_point t = now();
    if (const auto chosen = pick(tried, t)) return grant(*chosen, t);
    return none_free(tried, t);
}

// The share is asked outside the lock, so a slow share holds up only the
// requests that wait for it. Between the calls other threads may lease the
// chosen key too: harmless, as the share's pacing slot is what counts.
inline acquire_result key_pool::acquire_shared(const key_set& tried) {
    const std::optional<shared_key_view> view = options_.share->view(share_ids_);
    // A refused slot makes its key unusable, so each round either leases or
    // rules one more key out: at most one round per key, and one to answer.
    for (std::size_t round = 0; round <= keys_.size(); ++round) {
        std::optional<std::size_t> chosen;
        std::uint32_t budget = 0;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            const time_point t = now();
            if (round == 0 && view) merge(*view, t, detail::key_policy::epoch_ms(wall_now()));
            chosen = pick(tried, t);
            if (!chosen) return none_free(tried, t);
            budget = slots_[*chosen].requests_per_minute;
            if (budget == 0) return grant(*chosen, t);
        }
        const std::int64_t wall_ms = detail::key_policy::epoch_ms(wall_now());
        const auto slot_taken = options_.share->take_pacing_slot(share_ids_[*chosen], budget, wall_ms);
        std::lock_guard<std::mutex> lock(mutex_);
        const time_point t = now();
        // Unavailable: the local window, already checked by pick, is the budget.
        if (!slot_taken || slot_taken->granted) return grant(*chosen, t);
        const auto free_at = detail::key_policy::steady_from_epoch_ms(slot_taken->free_at_ms, t, wall_ms);
        // A share that refuses without saying until when rests the key a second, not never.
        slots_[*chosen].paced_until = std::max(slots_[*chosen].paced_until, free_at ? *free_at : t + std::chrono::seconds(1));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    return none_free(tried, now());
}

inline void key_pool::merge(const shared_key_view& view, time_point now, std::int64_t wall_ms) {
    if (view.keys.size() != slots_.size()) return;  // a share that answers for other keys is not believed
    if (options_.strategy != rotation::random) cursor_ = static_cast<std::size_t>(view.cursor % slots_.size());
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        slot& s = slots_[i];
        if (const auto until = detail::key_policy::steady_from_epoch_ms(view.keys[i].cooling_until_ms, now, wall_ms))
            s.cooling_until = std::max(s.cooling_until, *until);
        if (const auto until =
                detail::key_policy::steady_from_epoch_ms(view.keys[i].quarantined_until_ms, now, wall_ms))
            s.quarantined_until = std::max(s.quarantined_until, *until);
    }
}

inline acquire_result key_pool::grant(std::size_t index, time_point now) {
    slot& s = slots_[index];
    ++s.in_flight;
    ++s.requests;
    if (s.requests_per_minute > 0) {
        // `while`: a reload may have lowered the budget of a carried-over window.
        while (s.recent.size() >= s.requests_per_minute) s.recent.pop_front();
        s.recent.push_back(now);
    }
    acquire_result out;
    out.status = acquire_status::leased;
    out.lease = key_lease(this, index);
    return out;
}

inline acquire_result key_pool::none_free(const key_set& tried, time_point t) const {
    acquire_result out;
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
        for (const slot& s : slots_) {
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

inline report_result key_pool::report(std::size_t index, key_outcome outcome, std::string_view retry_after) {
    // Read the wall clock before locking: only HTTP-date Retry-After needs it.
    std::optional<std::chrono::milliseconds> asked;
    std::optional<std::chrono::system_clock::time_point> wall;
    if (outcome != key_outcome::success) wall = wall_now();
    if (outcome == key_outcome::rate_limited && !detail::trim_json_space(retry_after).empty()) {
        asked = parse_retry_after(retry_after, *wall);
    }

    report_result out;
    out.recorded = true;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const time_point t = now();
        slot& s = slots_[index];
        switch (outcome) {
            case key_outcome::success:
                ++s.successes;
                s.consecutive_429 = 0;
                s.consecutive_auth_failures = 0;
                break;
            case key_outcome::rate_limited: {
                ++s.rate_limited;
                detail::key_policy::count_up(s.consecutive_429);
                s.last_error_at = wall;
                out.cooldown = asked ? std::min(*asked, options_.retry_after_cap)
                                     : detail::key_policy::doubling_backoff(options_.backoff_base, options_.backoff_cap,
                                                                            s.consecutive_429);
                s.cooling_until = std::max(s.cooling_until, t + out.cooldown);
                break;
            }
            case key_outcome::auth_failed:
                ++s.auth_failures;
                detail::key_policy::count_up(s.consecutive_auth_failures);
                s.last_error_at = wall;
                out.newly_quarantined = s.quarantined_until <= t;
                out.cooldown = detail::key_policy::doubling_backoff(options_.auth_quarantine_base, options_.auth_quarantine,
                                                                    s.consecutive_auth_failures);
                s.quarantined_until = std::max(s.quarantined_until, t + out.cooldown);
                break;
            case key_outcome::transient:
                ++s.transient_failures;
                s.last_error_at = wall;
                break;
        }
    }
    if (wall) publish(index, outcome, *wall, out.cooldown);
    return out;
}

// Outside the lock, as every call to the share.
inline void key_pool::publish(std::size_t index, key_outcome outcome, std::chrono::system_clock::time_point wall,
                              std::chrono::milliseconds cooldown) {
    if (!options_.share || cooldown.count() == 0) return;
    shared_key_state state;
    const std::int64_t until = detail::key_policy::epoch_ms(wall) + cooldown.count();
    if (outcome == key_outcome::rate_limited) state.cooling_until_ms = until;
    else if (outcome == key_outcome::auth_failed) state.quarantined_until_ms = until;
    else return;
    // Unavailable: this pool rests the key all the same; others learn of it from their own 429s.
    (void)options_.share->raise(share_ids_[index], state);
}

inline void key_pool::release(std::size_t index) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    MSGBRIDGE_ASSERT(slots_[index].in_flight > 0);
    --slots_[index].in_flight;
}

inline void key_pool::lift_quarantine(const key_set& keys) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (!keys.contains(i)) continue;
            slots_[i].quarantined_until = time_point{};
            slots_[i].consecutive_auth_failures = 0;
        }
    }
    if (!options_.share) return;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (keys.contains(i)) (void)options_.share->lift_quarantine(share_ids_[i]);
    }
}

inline void key_pool::carry_over_state(const key_pool& previous) {
    if (&previous == this) return;
    std::scoped_lock lock(mutex_, previous.mutex_);
    for (std::size_t i = 0; i < keys_.size(); ++i) {
        const auto found = std::find(previous.keys_.begin(), previous.keys_.end(), keys_[i]);
        if (found == previous.keys_.end()) continue;
        const std::uint32_t in_flight = slots_[i].in_flight;  // leases count where they were granted
        const std::uint32_t budget = slots_[i].requests_per_minute;  // the new configuration's
        slots_[i] = previous.slots_[static_cast<std::size_t>(found - previous.keys_.begin())];
        slots_[i].in_flight = in_flight;
        slots_[i].requests_per_minute = budget;
    }
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
