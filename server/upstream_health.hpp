// Whether the upstream has been answering lately: what `/health` reports as
// `"status":"degraded"` and `/status` shows (docs/server.md, "Routes").
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>

#include "attempts.hpp"

namespace proxy {

/// When the upstream counts as degraded: the last `failures` attempts all
/// failed and the latest of them is at most `recent` old (with no traffic
/// since, old failures say nothing about the upstream now). From the
/// settings (HEALTH_DEGRADED_AFTER_FAILURES, HEALTH_DEGRADED_WINDOW_SECONDS),
/// so a reload changes it.
struct degraded_rule {
    std::size_t failures = 5;  ///< 0: never degraded
    std::chrono::seconds recent{300};
};

/// Counts the upstream attempts that failed since the last one that worked.
/// One attempt that works ends a streak. Thread-safe.
class upstream_health {
public:
    using clock = std::chrono::steady_clock;

    struct options {
        std::function<clock::time_point()> clock_now;  ///< tests step time by hand; empty: steady_clock
    };

    /// What /status shows.
    struct report {
        bool degraded = false;
        std::size_t failures_in_a_row = 0;
        std::optional<clock::duration> since_last_failure;
        std::optional<clock::duration> since_last_success;
    };

    upstream_health() : upstream_health(options{}) {}
    explicit upstream_health(options o) : options_(std::move(o)) {}

    /// One request's attempts, once they are over (committed or not).
    void observe(const attempt_result& attempts);
    bool degraded(const degraded_rule& rule) const { return read(rule).degraded; }
    report read(const degraded_rule& rule) const;

private:
    clock::time_point now() const { return options_.clock_now ? options_.clock_now() : clock::now(); }

    const options options_;
    mutable std::mutex mutex_;
    std::size_t failures_in_a_row_ = 0;
    std::optional<clock::time_point> last_failure_;
    std::optional<clock::time_point> last_success_;
};

}  // namespace proxy
