// The retry loop a proxy runs around one upstream call, against a pretend
// upstream that rate-limits the first key. Exits 0 only when the pool
// behaved as docs/keys.md says.
#include <msgbridge/keys.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

int failures = 0;
void expect(bool condition, const char* what) {
    if (!condition) {
        std::fprintf(stderr, "FAILED: %s\n", what);
        ++failures;
    }
}

// Stands in for the HTTP call: the first key is out of requests for 20 s.
int pretend_upstream(const msgbridge::key_lease& lease, std::string& retry_after) {
    if (lease.index() == 0) {
        retry_after = "20";
        return 429;
    }
    return 200;
}

}  // namespace

int main() {
    using namespace std::chrono_literals;

    // Blank and duplicate keys are dropped, the first of each kept in order.
    const std::vector<std::string> keys = {"nvapi-example-key-one-00000000000000000000000001",
                                           " nvapi-example-key-two-00000000000000000000000002 ",
                                           "nvapi-example-key-one-00000000000000000000000001", ""};

    // A hand-driven clock keeps the example deterministic.
    auto now = std::chrono::steady_clock::time_point{} + 1h;
    msgbridge::key_pool_options options;
    // The strategy comes from a setting: a bad one is the caller's startup error.
    const msgbridge::result<msgbridge::rotation> strategy = msgbridge::parse_rotation("round_robin", "KEY_ROTATION");
    if (!strategy) {
        std::fprintf(stderr, "%s\n", strategy.error().message.c_str());
        return 1;
    }
    options.strategy = *strategy;
    options.clock = [&now] { return now; };
    msgbridge::key_pool pool(keys, options);
    expect(pool.size() == 2, "blanks and duplicates are dropped");

    // One client request: try keys until one answers, at most five attempts (as in Go).
    msgbridge::key_set tried;
    int status = 0;
    for (int attempt = 0; attempt < msgbridge::default_max_attempts && status != 200; ++attempt) {
        msgbridge::acquire_result got = pool.acquire(tried);
        if (got.status != msgbridge::acquire_status::leased) break;
        tried.insert(got.lease.index());
        std::string retry_after;
        status = pretend_upstream(got.lease, retry_after);
        const msgbridge::report_result reported =
            got.lease.report(msgbridge::outcome_for_status(status), retry_after);
        std::printf("attempt %d: key %.*s -> %d (rests %lld ms)\n", attempt + 1,
                    static_cast<int>(got.lease.redacted_id().size()), got.lease.redacted_id().data(), status,
                    static_cast<long long>(reported.cooldown.count()));
    }
    expect(status == 200, "the second key answers");

    // The next request skips the cooling key without trying it.
    msgbridge::acquire_result next = pool.acquire();
    expect(next.status == msgbridge::acquire_status::leased && next.lease.index() == 1, "cooling key skipped");
    next.lease.release();

    // Once the second key is tried too, the pool says how long to wait.
    msgbridge::key_set both;
    both.insert(1);
    const msgbridge::acquire_result busy = pool.acquire(both);
    expect(busy.status == msgbridge::acquire_status::cooling && busy.wait == 20s, "wait until key 0 is back");

    const std::string health = msgbridge::to_json(pool.stats());
    std::printf("%s\n", health.c_str());
    expect(health.find("example-key") == std::string::npos, "stats never show a key");

    if (failures == 0) std::puts("key_pool example: all checks passed");
    return failures == 0 ? 0 : 1;
}
