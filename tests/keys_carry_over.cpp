#include <catch2/catch.hpp>

#include <msgbridge/keys.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "support/keys_test_support.hpp"

using namespace std::chrono_literals;
using msgbridge::acquire_status;
using msgbridge::key_outcome;
using msgbridge::key_pool;
using keys_test::test_key;

namespace {
// The key at `index` alone, with every other key of `pool` marked tried.
msgbridge::acquire_result acquire_only(key_pool& pool, std::size_t index) {
    msgbridge::key_set others;
    for (std::size_t i = 0; i < pool.size(); ++i) {
        if (i != index) others.insert(i);
    }
    return pool.acquire(others);
}
}  // namespace

TEST_CASE("carry over: a pool replacing another keeps the state of the keys they share", "[keys]") {
    keys_test::fake_clock clock;
    const auto options = keys_test::fake_time_options(clock, msgbridge::rotation::round_robin);
    key_pool old_pool({test_key(0), test_key(1), test_key(2)}, options);
    acquire_only(old_pool, 0).lease.report(key_outcome::rate_limited, "120");
    acquire_only(old_pool, 1).lease.report(key_outcome::auth_failed);
    acquire_only(old_pool, 2).lease.report(key_outcome::rate_limited, "120");

    // test_key(0) moves to index 1 and test_key(1) to index 2; test_key(7) is new, test_key(2) gone.
    key_pool new_pool({test_key(7), test_key(0), test_key(1)}, options);
    new_pool.carry_over_state(old_pool);
    const auto stats = new_pool.stats();
    REQUIRE(stats.size() == 3);

    SECTION("a key in cooldown stays in cooldown, wherever it now stands in the list") {
        CHECK(stats[1].rate_limited == 1);
        CHECK(stats[1].cooling_for == 120s);
        CHECK(acquire_only(new_pool, 1).status == acquire_status::cooling);
    }
    SECTION("a quarantined key stays quarantined, and its streak goes on doubling") {
        CHECK(stats[2].quarantined);
        CHECK(stats[2].auth_failures == 1);
        clock.advance(stats[2].cooling_for);
        CHECK(acquire_only(new_pool, 2).lease.report(key_outcome::auth_failed).cooldown ==
              2 * options.auth_quarantine_base);
    }
    SECTION("a new key starts fresh and is usable at once") {
        CHECK(stats[0].requests == 0);
        CHECK_FALSE(stats[0].cooling_until.has_value());
        CHECK(acquire_only(new_pool, 0).status == acquire_status::leased);
    }
    SECTION("a lease of the old pool is counted and released there, not in the new one") {
        clock.advance(121s);
        auto held = acquire_only(old_pool, 0);
        REQUIRE(held.status == acquire_status::leased);
        key_pool next_pool({test_key(0)}, options);
        next_pool.carry_over_state(old_pool);
        CHECK(next_pool.stats()[0].in_flight == 0);
        CHECK(next_pool.stats()[0].requests == 2);
        held.lease.release();
        CHECK(old_pool.stats()[0].in_flight == 0);
    }
    SECTION("carrying a pool's state over to itself changes nothing") {
        new_pool.carry_over_state(new_pool);
        CHECK(new_pool.stats()[1].cooling_for == 120s);
    }
}

TEST_CASE("carry over: the pacing window moves with the key, the budget is the new pool's", "[keys]") {
    keys_test::fake_clock clock;
    auto options = keys_test::fake_time_options(clock, msgbridge::rotation::round_robin);
    options.requests_per_minute = 2;
    key_pool old_pool({test_key(0)}, options);
    CHECK(acquire_only(old_pool, 0).status == acquire_status::leased);
    CHECK(acquire_only(old_pool, 0).status == acquire_status::leased);

    SECTION("a lowered budget is already used up") {
        options.key_requests_per_minute = {{test_key(0), 1}};
        key_pool new_pool({test_key(0)}, options);
        new_pool.carry_over_state(old_pool);
        CHECK(acquire_only(new_pool, 0).status == acquire_status::cooling);
    }
    SECTION("a raised budget leaves room for what it adds") {
        options.requests_per_minute = 3;
        key_pool new_pool({test_key(0)}, options);
        new_pool.carry_over_state(old_pool);
        CHECK(acquire_only(new_pool, 0).status == acquire_status::leased);
        CHECK(acquire_only(new_pool, 0).status == acquire_status::cooling);
    }
}
