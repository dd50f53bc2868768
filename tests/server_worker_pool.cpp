// The connection queue: every job starts at once up to the cap, beyond it refused.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>

#include "support/mock_upstream.hpp"
#include "worker_pool.hpp"

TEST_CASE("worker pool: every job starts at once up to the cap, then refuses", "[server][pool]") {
    proxy::worker_pool pool(8);
    auto release = std::make_shared<mock::gate>();
    std::atomic<int> ran{0};
    for (int i = 0; i < 8; ++i) {
        REQUIRE(pool.try_run([&, release] {
            ++ran;
            release->wait();
        }));
    }
    // All eight are running at the same time: none waits for another to finish.
    REQUIRE(release->wait_for_waiters(8));
    CHECK(pool.active() == 8);
    CHECK_FALSE(pool.try_run([] {}));  // the ninth is refused, not queued

    release->open();
    pool.shutdown();  // waits for every job and thread
    CHECK(ran == 8);
    CHECK(pool.active() == 0);
    CHECK(pool.threads() == 0);
    CHECK_FALSE(pool.try_run([] {}));  // nothing starts after shutdown
}

TEST_CASE("worker pool: idle threads are reused", "[server][pool]") {
    proxy::worker_pool pool(4);
    for (int round = 0; round < 20; ++round) {
        auto done = std::make_shared<mock::gate>();
        REQUIRE(pool.try_run([done] { done->open(); }));
        REQUIRE(done->wait());
    }
    // Twenty sequential jobs did not need twenty threads (a finished job's
    // thread waits for the next; at most the few still finishing are extra).
    CHECK(pool.threads() <= 4);
    pool.shutdown();
    CHECK(pool.threads() == 0);
}
