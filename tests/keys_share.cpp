// key_state_share: two pools — two processes in production — that share
// one store learn each other's cooldowns and quarantines, keep one pacing
// budget and one round-robin turn, and go on alone when the store fails.
#include <catch2/catch.hpp>

#include <msgbridge/keys.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/keys_test_support.hpp"

using namespace std::chrono_literals;
using msgbridge::acquire_status;
using msgbridge::key_outcome;
using msgbridge::key_pool;
using msgbridge::shared_key_state;
using keys_test::fake_clock;
using keys_test::test_keys;

namespace {

// What the Redis share does, in memory; `down` makes every call unavailable.
class memory_share final : public msgbridge::key_state_share {
public:
    bool down = false;
    std::vector<std::string> ids_seen;

    std::optional<msgbridge::shared_key_view> view(const std::vector<std::string>& ids) override {
        std::lock_guard<std::mutex> lock(mutex_);
        if (down) return std::nullopt;
        ids_seen = ids;
        msgbridge::shared_key_view out;
        out.cursor = cursor_++;
        for (const std::string& id : ids) out.keys.push_back(states_[id]);
        return out;
    }
    bool raise(std::string_view id, const shared_key_state& state) override {
        std::lock_guard<std::mutex> lock(mutex_);
        if (down) return false;
        auto& stored = states_[std::string(id)];
        stored.cooling_until_ms = std::max(stored.cooling_until_ms, state.cooling_until_ms);
        stored.quarantined_until_ms = std::max(stored.quarantined_until_ms, state.quarantined_until_ms);
        return true;
    }
    bool lift_quarantine(std::string_view id) override {
        std::lock_guard<std::mutex> lock(mutex_);
        if (down) return false;
        states_[std::string(id)].quarantined_until_ms = 0;
        return true;
    }
    std::optional<msgbridge::shared_pacing_slot> take_pacing_slot(std::string_view id, std::uint32_t per_minute,
                                                                std::int64_t now_ms) override {
        std::lock_guard<std::mutex> lock(mutex_);
        if (down) return std::nullopt;
        auto& window = windows_[std::string(id)];
        while (!window.empty() && window.front() <= now_ms - 60000) window.pop_front();
        if (window.size() >= per_minute) return msgbridge::shared_pacing_slot{false, window.front() + 60000};
        window.push_back(now_ms);
        return msgbridge::shared_pacing_slot{true, 0};
    }

private:
    std::mutex mutex_;
    std::uint64_t cursor_ = 0;
    std::map<std::string, shared_key_state> states_;
    std::map<std::string, std::deque<std::int64_t>> windows_;
};

// Two "processes": their own clocks (steady clocks differ between processes),
// one calendar, one share.
struct two_pools {
    fake_clock clock_a, clock_b;
    std::chrono::system_clock::time_point wall = std::chrono::system_clock::time_point(1'800'000'000s);
    std::shared_ptr<memory_share> share = std::make_shared<memory_share>();
    std::unique_ptr<key_pool> a, b;

    explicit two_pools(std::size_t keys, std::uint32_t requests_per_minute = 0) {
        clock_b.advance(12345s);
        a = std::make_unique<key_pool>(test_keys(keys), options_for(clock_a, requests_per_minute));
        b = std::make_unique<key_pool>(test_keys(keys), options_for(clock_b, requests_per_minute));
    }
    void advance(std::chrono::milliseconds d) {
        clock_a.advance(d);
        clock_b.advance(d);
        wall += d;
    }

private:
    msgbridge::key_pool_options options_for(fake_clock& clock, std::uint32_t requests_per_minute) {
        auto options = keys_test::fake_time_options(clock, msgbridge::rotation::round_robin);
        options.wall_clock = [this] { return wall; };
        options.requests_per_minute = requests_per_minute;
        options.share = share;
        return options;
    }
};

std::size_t leased_index(key_pool& pool) {
    auto got = pool.acquire();
    REQUIRE(got.status == acquire_status::leased);
    return got.lease.index();
}

}  // namespace

TEST_CASE("share: keys are named by redacted id and hash, never in clear", "[keys][share]") {
    two_pools pools(2);
    (void)pools.a->acquire();
    REQUIRE(pools.share->ids_seen.size() == 2);
    CHECK(pools.share->ids_seen[0] == msgbridge::key_share_id(test_keys(2)[0]));
    CHECK(pools.share->ids_seen[0].rfind(msgbridge::redact_key(test_keys(2)[0]) + ":", 0) == 0);
    CHECK(pools.share->ids_seen[0].size() == msgbridge::redact_key(test_keys(2)[0]).size() + 17);
    CHECK(pools.share->ids_seen[0] != pools.share->ids_seen[1]);
    CHECK(pools.share->ids_seen[0].find(test_keys(2)[0].substr(6)) == std::string::npos);  // past the public prefix
}

TEST_CASE("share: a 429 learned by one pool makes the other skip the key", "[keys][share]") {
    two_pools pools(2);
    auto got = pools.a->acquire();
    REQUIRE(got.lease.index() == 0);
    got.lease.report(key_outcome::rate_limited, "30");
    got.lease.release();

    // The shared cursor moved on to key 1; the next turn would be key 0 again, which rests.
    CHECK(leased_index(*pools.b) == 1);
    CHECK(leased_index(*pools.b) == 1);
    const auto stats = pools.b->stats();
    CHECK(stats[0].cooling_for == 30s);
    CHECK_FALSE(stats[0].quarantined);

    SECTION("until its cooldown ends, in both") {
        pools.advance(30s);
        std::vector<std::size_t> order{leased_index(*pools.b), leased_index(*pools.a)};
        CHECK(order == std::vector<std::size_t>{1, 0});
    }
}

TEST_CASE("share: a quarantine is shared, and its lifting reaches pools that read the share afterwards", "[keys][share]") {
    two_pools pools(2);
    msgbridge::key_set others;
    others.insert(1);
    pools.a->acquire(others).lease.report(key_outcome::auth_failed);
    (void)pools.b->acquire();
    CHECK(pools.b->stats()[0].quarantined);

    msgbridge::key_set first;
    first.insert(0);
    pools.a->lift_quarantine(first);
    // A pool that already learned of the quarantine keeps it (the share only ever raises
    // what a pool knows); one that reads the share afresh sees it lifted.
    key_pool fresh(test_keys(2), [&] {
        auto options = keys_test::fake_time_options(pools.clock_b, msgbridge::rotation::round_robin);
        options.share = pools.share;
        return options;
    }());
    (void)fresh.acquire();
    CHECK_FALSE(fresh.stats()[0].quarantined);
}

TEST_CASE("share: the round-robin cursor is one turn for all pools", "[keys][share]") {
    two_pools pools(3);
    std::vector<std::size_t> order;
    for (int i = 0; i < 3; ++i) {
        order.push_back(leased_index(*pools.a));
        order.push_back(leased_index(*pools.b));
    }
    CHECK(order == std::vector<std::size_t>{0, 1, 2, 0, 1, 2});
}

TEST_CASE("share: one pacing budget per key across pools", "[keys][share]") {
    two_pools pools(1, 3);
    std::vector<acquire_status> statuses;
    for (int i = 0; i < 3; ++i) {
        statuses.push_back(pools.a->acquire().status);
        statuses.push_back(pools.b->acquire().status);
        pools.advance(1s);
    }
    // Each pool alone would grant 3; together they grant 3.
    CHECK(statuses == std::vector<acquire_status>{acquire_status::leased, acquire_status::leased, acquire_status::leased,
                                                  acquire_status::cooling, acquire_status::cooling,
                                                  acquire_status::cooling});

    SECTION("a refused pool waits until the shared window has room") {
        const auto over = pools.b->acquire();
        CHECK(over.status == acquire_status::cooling);
        CHECK(over.wait == 57s);  // the first slot was taken at 0 s; it is 3 s now
        pools.advance(57s);
        CHECK(pools.b->acquire().status == acquire_status::leased);
        CHECK(pools.a->acquire().status == acquire_status::leased);
        CHECK(pools.a->acquire().status == acquire_status::cooling);
    }
}

TEST_CASE("share: when the share is unavailable each pool goes on alone", "[keys][share]") {
    two_pools pools(2, 1);
    pools.share->down = true;
    auto got = pools.a->acquire();
    REQUIRE(got.status == acquire_status::leased);
    got.lease.report(key_outcome::rate_limited, "30");
    got.lease.release();
    // b learned nothing: round robin from its own cursor, key 0 included.
    CHECK(leased_index(*pools.b) == 0);
    // Its local pacing window still holds: key 0 once, key 1 once.
    CHECK(leased_index(*pools.b) == 1);
    CHECK(pools.b->acquire().status == acquire_status::cooling);

    SECTION("and shares again once it is back") {
        pools.share->down = false;
        pools.advance(60s);
        auto again = pools.a->acquire();
        REQUIRE(again.status == acquire_status::leased);
        again.lease.report(key_outcome::rate_limited, "30");
        const std::size_t limited = again.lease.index();
        again.lease.release();
        (void)pools.b->acquire();
        CHECK(pools.b->stats()[limited].cooling_for == 30s);
    }
}
