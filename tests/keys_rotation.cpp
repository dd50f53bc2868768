#include <catch2/catch.hpp>

#include <msgbridge/keys.hpp>

#include <array>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "support/keys_test_support.hpp"

using msgbridge::acquire_status;
using msgbridge::key_lease;
using msgbridge::key_pool;
using msgbridge::key_set;
using msgbridge::rotation;
using keys_test::fake_clock;
using keys_test::fake_time_options;
using keys_test::test_keys;

namespace {
// Acquires and immediately releases `count` times; returns the indices chosen.
std::vector<std::size_t> take_and_release(key_pool& pool, std::size_t count, const key_set& tried = {}) {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < count; ++i) {
        auto got = pool.acquire(tried);
        if (got.status != acquire_status::leased) break;
        order.push_back(got.lease.index());
    }
    return order;
}
}  // namespace

TEST_CASE("rotation: round_robin hands out keys in exact order", "[keys]") {
    fake_clock clock;
    key_pool pool(test_keys(4), fake_time_options(clock, rotation::round_robin));

    SECTION("released leases") {
        CHECK(take_and_release(pool, 10) == std::vector<std::size_t>{0, 1, 2, 3, 0, 1, 2, 3, 0, 1});
    }
    SECTION("held leases do not change the order") {
        std::vector<key_lease> held;
        std::vector<std::size_t> order;
        for (int i = 0; i < 6; ++i) {
            auto got = pool.acquire();
            REQUIRE(got.status == acquire_status::leased);
            order.push_back(got.lease.index());
            held.push_back(std::move(got.lease));
        }
        CHECK(order == std::vector<std::size_t>{0, 1, 2, 3, 0, 1});
    }
}

TEST_CASE("rotation: round_robin skips the keys already tried for the request", "[keys]") {
    fake_clock clock;
    key_pool pool(test_keys(4), fake_time_options(clock, rotation::round_robin));
    CHECK(take_and_release(pool, 1) == std::vector<std::size_t>{0});

    key_set tried;
    tried.insert(1);
    CHECK(take_and_release(pool, 1, tried) == std::vector<std::size_t>{2});
    CHECK(take_and_release(pool, 2) == std::vector<std::size_t>{3, 0});

    SECTION("a retry loop visits every key once, then the pool says exhausted") {
        key_set request;
        std::vector<std::size_t> visited;
        for (int attempt = 0; attempt < 5; ++attempt) {
            auto got = pool.acquire(request);
            if (got.status != acquire_status::leased) {
                CHECK(got.status == acquire_status::exhausted);
                CHECK(got.wait.count() == 0);
                break;
            }
            visited.push_back(got.lease.index());
            request.insert(got.lease.index());
        }
        CHECK(visited == std::vector<std::size_t>{1, 2, 3, 0});
    }
}

TEST_CASE("tried: key_set holds any index", "[keys]") {
    key_set set;
    CHECK(set.empty());
    for (std::size_t i : {0, 5, 63, 64, 65, 200, 5}) set.insert(i);
    CHECK(set.size() == 6);
    for (std::size_t i : {0, 5, 63, 64, 65, 200}) CHECK(set.contains(i));
    for (std::size_t i : {1, 62, 66, 199, 201, 100000}) CHECK_FALSE(set.contains(i));
    set.clear();
    CHECK(set.empty());
    CHECK_FALSE(set.contains(200));
}

TEST_CASE("rotation: random with a fixed seed spreads evenly and repeats exactly", "[keys]") {
    fake_clock clock;
    SECTION("40000 picks over 4 keys land within 5% of 10000 each") {
        key_pool pool(test_keys(4), fake_time_options(clock, rotation::random));
        std::array<int, 4> counts{};
        for (std::size_t index : take_and_release(pool, 40000)) ++counts.at(index);
        for (int count : counts) {
            CHECK(count > 9500);
            CHECK(count < 10500);
        }
    }
    SECTION("the same seed gives the same sequence; another seed another") {
        auto options = fake_time_options(clock, rotation::random);
        key_pool a(test_keys(5), options);
        key_pool b(test_keys(5), options);
        options.seed = 43;
        key_pool c(test_keys(5), options);
        const auto seq_a = take_and_release(a, 200);
        CHECK(seq_a.size() == 200);
        CHECK(seq_a == take_and_release(b, 200));
        CHECK(seq_a != take_and_release(c, 200));
    }
    SECTION("only untried keys are drawn, still evenly") {
        key_pool pool(test_keys(4), fake_time_options(clock, rotation::random));
        key_set tried;
        tried.insert(0);
        tried.insert(2);
        std::array<int, 4> counts{};
        for (std::size_t index : take_and_release(pool, 2000, tried)) ++counts.at(index);
        CHECK(counts[0] == 0);
        CHECK(counts[2] == 0);
        CHECK(counts[1] + counts[3] == 2000);
        CHECK(counts[1] > 900);
        CHECK(counts[3] > 900);
    }
}

TEST_CASE("rotation: least_used picks the key with the fewest requests in flight", "[keys]") {
    fake_clock clock;
    key_pool pool(test_keys(3), fake_time_options(clock, rotation::least_used));

    SECTION("ties are broken in turn") {
        CHECK(take_and_release(pool, 7) == std::vector<std::size_t>{0, 1, 2, 0, 1, 2, 0});
    }
    SECTION("held leases steer the next pick") {
        std::vector<key_lease> held;
        std::vector<std::size_t> order;
        for (int i = 0; i < 5; ++i) {
            auto got = pool.acquire();
            order.push_back(got.lease.index());
            held.push_back(std::move(got.lease));
        }
        // In flight now: key 0 twice, key 1 twice, key 2 once.
        CHECK(order == std::vector<std::size_t>{0, 1, 2, 0, 1});
        auto next = pool.acquire();
        CHECK(next.lease.index() == 2);
        held[0].release();
        held[3].release();
        CHECK(pool.acquire().lease.index() == 0);
    }
}

TEST_CASE("rotation: least_used balances leases held by concurrent threads", "[keys]") {
    fake_clock clock;
    key_pool pool(test_keys(4), fake_time_options(clock, rotation::least_used));
    constexpr int threads = 12;

    std::mutex mutex;
    std::condition_variable all_holding;
    int holding = 0;
    bool done = false;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            auto got = pool.acquire();
            std::unique_lock<std::mutex> lock(mutex);
            ++holding;
            all_holding.notify_all();
            all_holding.wait(lock, [&] { return done; });
        });
    }
    std::vector<msgbridge::key_stats> while_held;
    {
        std::unique_lock<std::mutex> lock(mutex);
        all_holding.wait(lock, [&] { return holding == threads; });
        while_held = pool.stats();
        done = true;
        all_holding.notify_all();
    }
    for (auto& worker : workers) worker.join();

    REQUIRE(while_held.size() == 4);
    for (const auto& key : while_held) CHECK(key.in_flight == 3);
    for (const auto& key : pool.stats()) CHECK(key.in_flight == 0);
}

TEST_CASE("rotation: strategies parse from their wire names", "[keys]") {
    using msgbridge::parse_rotation;
    using msgbridge::rotation;
    SECTION("the three names, with blanks around them") {
        CHECK(parse_rotation("round_robin").value() == rotation::round_robin);
        CHECK(parse_rotation("random").value() == rotation::random);
        CHECK(parse_rotation(" least_used\n").value() == rotation::least_used);
    }
    SECTION("empty means the default, round_robin") {
        CHECK(parse_rotation("").value() == rotation::round_robin);
        CHECK(parse_rotation("  ").value() == rotation::round_robin);
    }
    SECTION("names round-trip through to_string") {
        for (rotation r : {rotation::round_robin, rotation::random, rotation::least_used}) {
            CHECK(parse_rotation(msgbridge::to_string(r)).value() == r);
        }
    }
    SECTION("an unknown strategy is an invalid_request_error naming the field and the choices") {
        const auto got = parse_rotation("sideways", "KEY_ROTATION");
        REQUIRE_FALSE(got.has_value());
        CHECK(got.error().type == msgbridge::error_type::invalid_request_error);
        CHECK(got.error().message ==
              "KEY_ROTATION: unknown key rotation strategy \"sideways\"; expected round_robin, random or least_used");
        CHECK(parse_rotation("Round_Robin").has_value() == false);
        CHECK(parse_rotation("LRU").error().message.rfind("key_rotation: ", 0) == 0);
    }
    SECTION("a key pasted into the strategy is not echoed in the error") {
        const auto got = parse_rotation(keys_test::test_key(1));
        REQUIRE_FALSE(got.has_value());
        CHECK_FALSE(keys_test::contains_marker(got.error().message));
        CHECK(got.error().message == "key_rotation: unknown key rotation strategy; expected round_robin, random or least_used");
    }
}
