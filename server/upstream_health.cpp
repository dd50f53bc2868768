// SPDX-License-Identifier: MIT
#include "upstream_health.hpp"

namespace proxy {
namespace {

enum class verdict { worked, failed, unknown };

// Only what the upstream did counts: an answer the upstream judged (a 400
// for a bad request, a 404 for a model it lacks) shows it working; a client
// that left says nothing about it.
verdict verdict_of(const attempt_result& attempts) {
    if (attempts.committed) return verdict::worked;
    const upstream_outcome& last = attempts.last;
    if (!attempts.attempts.empty() && last.what == upstream_outcome::kind::cancelled) return verdict::unknown;
    if (attempts.attempts.empty()) return verdict::failed;  // every key cooling down or quarantined
    if (last.what != upstream_outcome::kind::completed) return verdict::failed;  // connect, TLS, I/O, timeout
    const int status = last.status;
    if (status == 401 || status == 403 || status == 429 || status >= 500) return verdict::failed;
    return verdict::worked;
}

}  // namespace

void upstream_health::observe(const attempt_result& attempts) {
    const verdict v = verdict_of(attempts);
    if (v == verdict::unknown) return;
    const clock::time_point at = now();
    std::lock_guard<std::mutex> lock(mutex_);
    if (v == verdict::worked) {
        failures_in_a_row_ = 0;
        last_success_ = at;
        return;
    }
    // Every attempt of a request that was not answered failed (a key
    // refused, a 5xx retried, …); none made: the key pool had none to give.
    failures_in_a_row_ += attempts.attempts.empty() ? 1 : attempts.attempts.size();
    last_failure_ = at;
}

upstream_health::report upstream_health::read(const degraded_rule& rule) const {
    const clock::time_point at = now();
    std::lock_guard<std::mutex> lock(mutex_);
    report r;
    r.failures_in_a_row = failures_in_a_row_;
    if (last_failure_) r.since_last_failure = at - *last_failure_;
    if (last_success_) r.since_last_success = at - *last_success_;
    r.degraded = rule.failures > 0 && failures_in_a_row_ >= rule.failures && r.since_last_failure &&
                 *r.since_last_failure <= rule.recent;
    return r;
}

}  // namespace proxy
