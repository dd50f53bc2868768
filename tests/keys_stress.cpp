#include <catch2/catch.hpp>

#include <msgbridge/keys.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "support/keys_test_support.hpp"

using namespace std::chrono_literals;
using msgbridge::acquire_status;
using msgbridge::key_lease;
using msgbridge::key_outcome;
using msgbridge::key_pool;
using msgbridge::key_set;
using msgbridge::rotation;

namespace {

constexpr std::size_t key_count = 5;
constexpr int thread_count = 8;
constexpr int requests_per_thread = 1500;

// What one worker did, tallied locally and compared with the pool's
// counters once every thread has joined.
struct tally {
    std::uint64_t leased = 0, successes = 0, rate_limited = 0, auth_failures = 0, transient = 0, unreported = 0;
    std::uint64_t refused = 0, bad_picks = 0, bad_waits = 0, bad_snapshots = 0;
};

void work(key_pool& pool, keys_test::fake_clock& clock, int seed, tally& out) {
    std::uint64_t random_state = static_cast<std::uint64_t>(seed) * 7919;
    std::vector<key_lease> parked;  // leases kept across requests, like slow streams
    for (int request = 0; request < requests_per_thread; ++request) {
        key_set tried;
        for (int attempt = 0; attempt < 3; ++attempt) {
            auto got = pool.acquire(tried);
            if (got.status != acquire_status::leased) {
                ++out.refused;
                if (got.lease.valid() || got.wait < 0ms || got.status == acquire_status::no_keys) ++out.bad_waits;
                clock.advance(got.wait + 1us);
                break;
            }
            ++out.leased;
            const std::size_t index = got.lease.index();
            if (index >= key_count || tried.contains(index) || got.lease.key().empty()) ++out.bad_picks;
            tried.insert(index);

            const std::uint64_t roll = msgbridge::detail::key_policy::splitmix64(random_state) % 100;
            bool retry = false;
            if (roll < 55) {
                got.lease.report(key_outcome::success);
                ++out.successes;
            } else if (roll < 70) {
                constexpr const char* retry_after[] = {"", "0", "1", "0.002", "Sun, 06 Nov 1994 08:49:38 GMT", "bogus"};
                got.lease.report(key_outcome::rate_limited, retry_after[roll % 6]);
                ++out.rate_limited;
                retry = true;
            } else if (roll < 73) {
                got.lease.report(key_outcome::auth_failed);
                ++out.auth_failures;
                retry = true;
            } else if (roll < 85) {
                got.lease.report(key_outcome::transient);
                ++out.transient;
                retry = true;
            } else {
                ++out.unreported;
            }
            if (roll % 7 == 0) parked.push_back(std::move(got.lease));
            if (parked.size() > 3) parked.erase(parked.begin());
            clock.advance(50us);
            if (!retry) break;
        }
        // As the server does when every key tried for a request was refused alike.
        if (request % 31 == 0) pool.lift_quarantine(tried);
        if (request % 97 == 0) {
            std::uint64_t in_flight = 0;
            for (const auto& key : pool.stats()) in_flight += key.in_flight;
            if (in_flight > static_cast<std::uint64_t>(thread_count) * 5) ++out.bad_snapshots;
        }
    }
}

void run_stress(rotation strategy, std::uint32_t requests_per_minute) {
    keys_test::fake_clock clock;
    auto options = keys_test::fake_time_options(clock, strategy);
    options.auth_quarantine_base = 2ms;
    options.auth_quarantine = 20ms;
    options.backoff_base = 1ms;
    options.backoff_cap = 8ms;
    options.retry_after_cap = 5ms;
    options.requests_per_minute = requests_per_minute;
    key_pool pool(keys_test::test_keys(key_count), options);

    std::array<tally, thread_count> tallies{};
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t) {
        threads.emplace_back([&pool, &clock, &tallies, t] { work(pool, clock, t + 1, tallies[t]); });
    }
    for (auto& thread : threads) thread.join();

    tally total;
    for (const tally& t : tallies) {
        total.leased += t.leased;
        total.successes += t.successes;
        total.rate_limited += t.rate_limited;
        total.auth_failures += t.auth_failures;
        total.transient += t.transient;
        total.unreported += t.unreported;
        total.refused += t.refused;
        total.bad_picks += t.bad_picks;
        total.bad_waits += t.bad_waits;
        total.bad_snapshots += t.bad_snapshots;
    }
    tally pool_total;
    std::uint64_t in_flight = 0;
    for (const auto& key : pool.stats()) {
        in_flight += key.in_flight;
        pool_total.leased += key.requests;
        pool_total.successes += key.successes;
        pool_total.rate_limited += key.rate_limited;
        pool_total.auth_failures += key.auth_failures;
        pool_total.transient += key.transient_failures;
    }

    CHECK(in_flight == 0);
    CHECK(total.bad_picks == 0);
    CHECK(total.bad_waits == 0);
    CHECK(total.bad_snapshots == 0);
    CHECK(total.leased >= static_cast<std::uint64_t>(thread_count) * requests_per_thread / 2);
    CHECK(pool_total.leased == total.leased);
    CHECK(pool_total.successes == total.successes);
    CHECK(pool_total.rate_limited == total.rate_limited);
    CHECK(pool_total.auth_failures == total.auth_failures);
    CHECK(pool_total.transient == total.transient);
    CHECK(total.leased ==
          total.successes + total.rate_limited + total.auth_failures + total.transient + total.unreported);
    CHECK(total.rate_limited > 0);
    CHECK(total.auth_failures > 0);
}

}  // namespace

TEST_CASE("stress: threads acquiring, reporting and releasing keep the counters exact (round_robin)", "[keys]") {
    run_stress(rotation::round_robin, 0);
}

TEST_CASE("stress: threads acquiring, reporting and releasing keep the counters exact (random)", "[keys]") {
    run_stress(rotation::random, 0);
}

TEST_CASE("stress: threads acquiring, reporting and releasing keep the counters exact (least_used)", "[keys]") {
    run_stress(rotation::least_used, 0);
}

TEST_CASE("stress: threads acquiring, reporting and releasing keep the counters exact (least_used, paced)", "[keys]") {
    run_stress(rotation::least_used, 200);
}
