#include <catch2/catch.hpp>

#include <msgbridge/keys.hpp>

#include <type_traits>
#include <utility>

#include "support/keys_test_support.hpp"

using msgbridge::acquire_status;
using msgbridge::key_lease;
using msgbridge::key_outcome;
using msgbridge::key_pool;
using msgbridge::rotation;
using keys_test::fake_clock;
using keys_test::fake_time_options;
using keys_test::same_secret;
using keys_test::test_key;
using keys_test::test_keys;

namespace {
std::uint32_t in_flight(const key_pool& pool, std::size_t index) { return pool.stats().at(index).in_flight; }
}  // namespace

TEST_CASE("lease: a lease exposes its index, the key for Authorization and a redacted id", "[keys]") {
    key_pool pool(test_keys(3));
    auto got = pool.acquire();
    REQUIRE(got.status == acquire_status::leased);
    const key_lease& lease = got.lease;
    CHECK(lease.valid());
    CHECK(static_cast<bool>(lease));
    CHECK(lease.index() == 0);
    CHECK(same_secret(lease.key(), test_key(0)));
    CHECK(lease.redacted_id() == msgbridge::redact_key(test_key(0), 0));
    CHECK(lease.redacted_id() == pool.redacted_id(0));
}

TEST_CASE("lease: a lease counts as in flight until it is destroyed or released", "[keys]") {
    static_assert(!std::is_copy_constructible_v<key_lease>);
    static_assert(std::is_nothrow_move_constructible_v<key_lease>);
    static_assert(std::is_nothrow_move_assignable_v<key_lease>);
    fake_clock clock;
    key_pool pool(test_keys(2), fake_time_options(clock, rotation::round_robin));

    SECTION("destruction releases") {
        {
            auto got = pool.acquire();
            CHECK(in_flight(pool, 0) == 1);
        }
        CHECK(in_flight(pool, 0) == 0);
    }
    SECTION("moving transfers, it does not double-count or double-release") {
        auto got = pool.acquire();
        key_lease moved(std::move(got.lease));
        CHECK_FALSE(got.lease.valid());
        CHECK(moved.valid());
        CHECK(in_flight(pool, 0) == 1);
        key_lease assigned;
        assigned = std::move(moved);
        CHECK(in_flight(pool, 0) == 1);
        CHECK(assigned.index() == 0);
        CHECK(same_secret(assigned.key(), test_key(0)));
    }
    SECTION("move-assigning over a live lease releases the old key") {
        auto first = pool.acquire();
        auto second = pool.acquire();
        CHECK(in_flight(pool, 0) == 1);
        CHECK(in_flight(pool, 1) == 1);
        first.lease = std::move(second.lease);
        CHECK(in_flight(pool, 0) == 0);
        CHECK(in_flight(pool, 1) == 1);
        CHECK(first.lease.index() == 1);
    }
    SECTION("release is idempotent and empties the lease") {
        auto got = pool.acquire();
        got.lease.release();
        got.lease.release();
        CHECK_FALSE(got.lease.valid());
        CHECK(got.lease.key().empty());
        CHECK(got.lease.redacted_id().empty());
        CHECK(in_flight(pool, 0) == 0);
    }
    SECTION("reporting does not end the lease: a stream may still be running") {
        auto got = pool.acquire();
        got.lease.report(key_outcome::success);
        CHECK(in_flight(pool, 0) == 1);
    }
}

TEST_CASE("lease: only a lease's first report counts", "[keys]") {
    key_pool pool(test_keys(1));
    auto got = pool.acquire();
    CHECK(got.lease.report(key_outcome::success).recorded);
    const auto again = got.lease.report(key_outcome::auth_failed);
    CHECK_FALSE(again.recorded);
    CHECK_FALSE(again.newly_quarantined);
    const auto stats = pool.stats();
    CHECK(stats[0].successes == 1);
    CHECK(stats[0].auth_failures == 0);

    SECTION("an empty or released lease records nothing") {
        key_lease empty;
        CHECK_FALSE(empty.report(key_outcome::rate_limited, "5").recorded);
        auto other = pool.acquire();
        other.lease.release();
        CHECK_FALSE(other.lease.report(key_outcome::rate_limited).recorded);
        CHECK(pool.stats()[0].rate_limited == 0);
    }
}

TEST_CASE("lease: upstream statuses map to key outcomes", "[keys]") {
    using msgbridge::outcome_for_status;
    CHECK(outcome_for_status(200) == key_outcome::success);
    CHECK(outcome_for_status(204) == key_outcome::success);
    CHECK(outcome_for_status(429) == key_outcome::rate_limited);
    CHECK(outcome_for_status(401) == key_outcome::auth_failed);
    CHECK(outcome_for_status(403) == key_outcome::auth_failed);
    CHECK(outcome_for_status(400) == key_outcome::transient);
    CHECK(outcome_for_status(404) == key_outcome::transient);
    CHECK(outcome_for_status(500) == key_outcome::transient);
    CHECK(outcome_for_status(503) == key_outcome::transient);
    CHECK(outcome_for_status(0) == key_outcome::transient);
}
