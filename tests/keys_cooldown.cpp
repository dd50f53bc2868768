#include <catch2/catch.hpp>

#include <msgbridge/keys.hpp>

#include <chrono>
#include <vector>

#include "support/keys_test_support.hpp"

using namespace std::chrono_literals;
using msgbridge::acquire_status;
using msgbridge::key_outcome;
using msgbridge::key_pool;
using msgbridge::key_set;
using msgbridge::rotation;
using keys_test::fake_clock;
using keys_test::fake_time_options;
using keys_test::test_keys;

namespace {
// Leases key `index` (every other key is marked tried) and reports `outcome`.
msgbridge::report_result report_on(key_pool& pool, std::size_t index, key_outcome outcome,
                                   std::string_view retry_after = {}) {
    key_set others;
    for (std::size_t i = 0; i < pool.size(); ++i) {
        if (i != index) others.insert(i);
    }
    auto got = pool.acquire(others);
    if (got.status != acquire_status::leased) return {};
    return got.lease.report(outcome, retry_after);
}

bool usable_now(key_pool& pool, std::size_t index) {
    key_set others;
    for (std::size_t i = 0; i < pool.size(); ++i) {
        if (i != index) others.insert(i);
    }
    return pool.acquire(others).status == acquire_status::leased;
}
}  // namespace

TEST_CASE("cooldown: a 429 without Retry-After backs off exponentially per key, capped, reset on success", "[keys]") {
    fake_clock clock;
    auto options = fake_time_options(clock, rotation::round_robin);
    options.backoff_base = 1s;
    options.backoff_cap = 8s;
    key_pool pool(test_keys(2), options);

    std::vector<long long> cooldowns;
    for (int i = 0; i < 5; ++i) {
        const auto reported = report_on(pool, 0, key_outcome::rate_limited);
        cooldowns.push_back(reported.cooldown.count());
        clock.advance(reported.cooldown);
    }
    CHECK(cooldowns == std::vector<long long>{1000, 2000, 4000, 8000, 8000});

    SECTION("the key is skipped until exactly the end of its cooldown") {
        report_on(pool, 0, key_outcome::rate_limited);  // 8 s
        CHECK_FALSE(usable_now(pool, 0));
        CHECK(usable_now(pool, 1));
        clock.advance(8s - 1ms);
        CHECK_FALSE(usable_now(pool, 0));
        clock.advance(1ms);
        CHECK(usable_now(pool, 0));
    }
    SECTION("success resets the backoff") {
        report_on(pool, 0, key_outcome::success);
        CHECK(report_on(pool, 0, key_outcome::rate_limited).cooldown == 1s);
    }
    SECTION("a transient failure neither penalises nor resets") {
        CHECK(report_on(pool, 0, key_outcome::transient).cooldown == 0ms);
        CHECK(usable_now(pool, 0));
        CHECK(report_on(pool, 0, key_outcome::rate_limited).cooldown == 8s);
    }
    SECTION("backoff is per key") {
        CHECK(report_on(pool, 1, key_outcome::rate_limited).cooldown == 1s);
    }
}

TEST_CASE("cooldown: Retry-After sets the cooldown, as seconds or as an HTTP date", "[keys]") {
    fake_clock clock;
    key_pool pool(test_keys(3), fake_time_options(clock, rotation::round_robin));

    SECTION("seconds") { CHECK(report_on(pool, 0, key_outcome::rate_limited, "30").cooldown == 30s); }
    SECTION("an HTTP date 30 s after the wall clock") {
        CHECK(report_on(pool, 0, key_outcome::rate_limited, "Sun, 06 Nov 1994 08:50:07 GMT").cooldown == 30s);
    }
    SECTION("a date in the past means no cooldown") {
        CHECK(report_on(pool, 0, key_outcome::rate_limited, "Sun, 06 Nov 1994 08:00:00 GMT").cooldown == 0ms);
        CHECK(usable_now(pool, 0));
    }
    SECTION("an unreadable value falls back to the backoff") {
        CHECK(report_on(pool, 0, key_outcome::rate_limited, "soon").cooldown == 1s);
    }
    SECTION("a huge value is capped by retry_after_cap") {
        CHECK(report_on(pool, 0, key_outcome::rate_limited, "99999999").cooldown == 1h);
    }
    SECTION("a shorter Retry-After does not cut a running cooldown short") {
        auto first = pool.acquire();
        auto second = pool.acquire(key_set{});
        auto third = pool.acquire();
        auto fourth = pool.acquire();  // key 0 again, in flight alongside the first
        REQUIRE(first.lease.index() == 0);
        REQUIRE(fourth.lease.index() == 0);
        first.lease.report(key_outcome::rate_limited, "30");
        fourth.lease.report(key_outcome::rate_limited, "5");
        clock.advance(10s);
        CHECK_FALSE(usable_now(pool, 0));
        CHECK(usable_now(pool, 1));
    }
}

TEST_CASE("cooldown: when every key is cooling the pool says how long until the first is free", "[keys]") {
    fake_clock clock;
    key_pool pool(test_keys(3), fake_time_options(clock, rotation::round_robin));
    report_on(pool, 0, key_outcome::rate_limited, "20");
    report_on(pool, 1, key_outcome::rate_limited, "10");
    report_on(pool, 2, key_outcome::rate_limited, "15");

    auto got = pool.acquire();
    CHECK(got.status == acquire_status::cooling);
    CHECK_FALSE(got.lease.valid());
    CHECK(got.wait == 10s);

    clock.advance(9500ms);
    CHECK(pool.acquire().wait == 500ms);
    clock.advance(500ms);
    auto freed = pool.acquire();
    REQUIRE(freed.status == acquire_status::leased);
    CHECK(freed.lease.index() == 1);

    SECTION("the wait is rounded up to whole milliseconds") {
        freed.lease.release();
        report_on(pool, 1, key_outcome::rate_limited, "1");
        clock.advance(std::chrono::microseconds(1500));
        CHECK(pool.acquire().wait == 999ms);
    }
    SECTION("keys tried for this request do not count towards the wait") {
        key_set tried;
        tried.insert(2);
        tried.insert(1);
        const auto rest = pool.acquire(tried);
        CHECK(rest.status == acquire_status::cooling);
        CHECK(rest.wait == 10s);
    }
    SECTION("with every key tried the pool says exhausted and when any key frees up") {
        key_set tried;
        for (std::size_t i = 0; i < 3; ++i) tried.insert(i);
        freed.lease.release();
        report_on(pool, 1, key_outcome::rate_limited, "3");
        const auto none = pool.acquire(tried);
        CHECK(none.status == acquire_status::exhausted);
        CHECK(none.wait == 3s);
    }
}

TEST_CASE("quarantine: 401/403 quarantines the key and is announced once", "[keys]") {
    fake_clock clock;
    auto options = fake_time_options(clock, rotation::round_robin);
    options.auth_quarantine_base = 10min;
    options.auth_quarantine = 10min;
    key_pool pool(test_keys(2), options);

    auto a = pool.acquire();
    auto b = pool.acquire(key_set{});  // key 1
    auto c = pool.acquire();           // key 0 again, concurrently with a
    REQUIRE(a.lease.index() == 0);
    REQUIRE(c.lease.index() == 0);

    const auto first = a.lease.report(key_outcome::auth_failed);
    CHECK(first.recorded);
    CHECK(first.newly_quarantined);
    CHECK(first.cooldown == 10min);
    const auto second = c.lease.report(key_outcome::auth_failed);
    CHECK(second.recorded);
    CHECK_FALSE(second.newly_quarantined);

    SECTION("a quarantined key is skipped while others serve") {
        for (int i = 0; i < 4; ++i) CHECK(pool.acquire().lease.index() == 1);
    }
    SECTION("every key quarantined: status quarantined with the time left") {
        CHECK(b.lease.report(key_outcome::auth_failed).newly_quarantined);
        clock.advance(1min);
        const auto none = pool.acquire();
        CHECK(none.status == acquire_status::quarantined);
        CHECK(none.wait == 9min);
    }
    SECTION("a cooling key among quarantined ones makes the status cooling") {
        b.lease.report(key_outcome::rate_limited, "5");
        const auto none = pool.acquire();
        CHECK(none.status == acquire_status::cooling);
        CHECK(none.wait == 5s);
    }
    SECTION("after the quarantine the key serves again, and a new failure is announced again") {
        clock.advance(10min);
        CHECK(usable_now(pool, 0));
        CHECK(report_on(pool, 0, key_outcome::auth_failed).newly_quarantined);
    }
}

TEST_CASE("quarantine: backs off from seconds, doubling per 401/403 in a row, capped, reset on success", "[keys]") {
    fake_clock clock;
    auto options = fake_time_options(clock, rotation::round_robin);
    options.auth_quarantine_base = 5s;
    options.auth_quarantine = 30s;
    key_pool pool(test_keys(2), options);

    for (const auto expected : {5s, 10s, 20s, 30s, 30s}) {
        const auto got = report_on(pool, 0, key_outcome::auth_failed);
        CHECK(got.newly_quarantined);
        CHECK(got.cooldown == expected);
        clock.advance(expected - 1ms);
        CHECK_FALSE(usable_now(pool, 0));
        clock.advance(1ms);
        CHECK(usable_now(pool, 0));
    }
    CHECK(report_on(pool, 0, key_outcome::success).recorded);
    CHECK(report_on(pool, 0, key_outcome::auth_failed).cooldown == 5s);
}

TEST_CASE("quarantine: lift_quarantine puts keys back in service and restarts their backoff", "[keys]") {
    fake_clock clock;
    auto options = fake_time_options(clock, rotation::round_robin);
    options.auth_quarantine_base = 5s;
    key_pool pool(test_keys(3), options);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(report_on(pool, i, key_outcome::auth_failed).cooldown == 5s);
        CHECK(report_on(pool, i, key_outcome::auth_failed).cooldown == 0ms);  // quarantined: not leased
    }
    CHECK(pool.acquire().status == acquire_status::quarantined);

    key_set refused;
    refused.insert(0);
    refused.insert(2);
    pool.lift_quarantine(refused);
    CHECK(usable_now(pool, 0));
    CHECK_FALSE(usable_now(pool, 1));
    CHECK(usable_now(pool, 2));
    CHECK_FALSE(pool.stats()[0].quarantined);
    CHECK(report_on(pool, 0, key_outcome::auth_failed).cooldown == 5s);  // not 10 s: the streak was forgotten
}

TEST_CASE("pacing: each key stays within its requests per minute", "[keys]") {
    fake_clock clock;
    auto options = fake_time_options(clock, rotation::round_robin);
    options.requests_per_minute = 3;
    key_pool pool(test_keys(2), options);

    std::vector<std::size_t> order;
    for (int i = 0; i < 6; ++i) {
        auto got = pool.acquire();
        REQUIRE(got.status == acquire_status::leased);
        order.push_back(got.lease.index());
        clock.advance(1s);
    }
    CHECK(order == std::vector<std::size_t>{0, 1, 0, 1, 0, 1});

    // Key 0 was leased at 0 s, 2 s, 4 s; key 1 at 1 s, 3 s, 5 s; it is 6 s now.
    auto over = pool.acquire();
    CHECK(over.status == acquire_status::cooling);
    CHECK(over.wait == 54s);
    clock.advance(54s);
    CHECK(pool.acquire().lease.index() == 0);
    const auto next = pool.acquire();
    CHECK(next.status == acquire_status::cooling);
    CHECK(next.wait == 1s);

    SECTION("the budget is over any sliding minute, not per calendar minute") {
        clock.advance(1s);
        CHECK(pool.acquire().lease.index() == 1);
        CHECK(pool.acquire().wait == 1s);
    }
    SECTION("stats report a paced key as cooling, not quarantined") {
        const auto stats = pool.stats();
        CHECK(stats[1].cooling_for == 1s);
        CHECK_FALSE(stats[1].quarantined);
    }
}

TEST_CASE("pacing: a per-key budget replaces the pool's for the key it names", "[keys]") {
    fake_clock clock;
    auto options = fake_time_options(clock, rotation::round_robin);
    options.requests_per_minute = 1;
    options.key_requests_per_minute = {{test_keys(2)[1], 3}, {"a key the pool does not hold", 0}};
    key_pool pool(test_keys(2), options);

    std::vector<std::size_t> order;
    for (auto got = pool.acquire(); got.status == acquire_status::leased && order.size() < 10; got = pool.acquire())
        order.push_back(got.lease.index());
    CHECK(order == std::vector<std::size_t>{0, 1, 1, 1});
    const auto over = pool.acquire();
    CHECK(over.status == acquire_status::cooling);
    CHECK(over.wait == 60s);

    SECTION("0 takes one key out of pacing while the others stay paced") {
        options.key_requests_per_minute = {{test_keys(2)[0], 0}};
        key_pool unpaced_first(test_keys(2), options);
        for (int i = 0; i < 10; ++i) CHECK(usable_now(unpaced_first, 0));
        CHECK(usable_now(unpaced_first, 1));
        CHECK_FALSE(usable_now(unpaced_first, 1));
    }
}

TEST_CASE("pool: an empty pool says no_keys, so the request goes without Authorization", "[keys]") {
    key_pool empty({});
    CHECK(empty.empty());
    const auto got = empty.acquire();
    CHECK(got.status == acquire_status::no_keys);
    CHECK_FALSE(got.lease.valid());
    CHECK(empty.stats().empty());

    key_pool blanks({"", "  ", "\t"});
    CHECK(blanks.size() == 0);
    CHECK(blanks.acquire().status == acquire_status::no_keys);
}

TEST_CASE("pool: blank and duplicate keys are dropped by the pool itself", "[keys]") {
    auto keys = test_keys(3);
    keys.insert(keys.begin() + 1, keys[0]);
    keys.push_back(" " + keys[2] + " ");
    keys.push_back("");
    key_pool pool(keys);
    CHECK(pool.size() == 3);
    CHECK(pool.redacted_id(1) == msgbridge::redact_key(keys_test::test_key(1), 1));
    CHECK(pool.redacted_id(3).empty());
}

TEST_CASE("pool: absurd option durations are clamped instead of overflowing the clock", "[keys]") {
    fake_clock clock;
    auto options = fake_time_options(clock, rotation::round_robin);
    options.auth_quarantine_base = std::chrono::milliseconds::max();
    options.auth_quarantine = std::chrono::milliseconds::max();
    options.backoff_base = std::chrono::milliseconds::max();
    options.backoff_cap = std::chrono::milliseconds::max();
    options.retry_after_cap = -5s;
    key_pool pool(test_keys(3), options);
    constexpr auto year = std::chrono::milliseconds(std::chrono::hours(24 * 366));
    CHECK(report_on(pool, 0, key_outcome::auth_failed).cooldown == year);
    CHECK(report_on(pool, 1, key_outcome::rate_limited).cooldown == year);
    CHECK(report_on(pool, 2, key_outcome::rate_limited, "30").cooldown == 0ms);
    key_set tried;
    tried.insert(2);
    const auto none = pool.acquire(tried);
    CHECK(none.status == acquire_status::cooling);
    CHECK(none.wait == year);
}
