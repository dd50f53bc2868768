// redis_key_share against a real redis-server on loopback: what it stores
// (never a key in clear, nothing without a lifetime), that two instances never
// both take the last pacing slot, that a flushed script cache is survived, and
// that it reconnects in the background — with no call to prompt it — after
// Redis went away or was never there.
#include <catch2/catch.hpp>

#include <hiredis/hiredis.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <msgbridge/keys.hpp>

#include "redis_key_share.hpp"
#include "support/redis_test_support.hpp"

namespace {

using namespace redis_test;
using namespace std::chrono_literals;

// Where the deadline is not what a test is about, a generous one: a loaded
// CI machine (sanitizers, two cores) must not turn into an "outage".
constexpr auto patient = 2000ms;

const std::string full_key = "nvapi-share-test-S3CR3T-0000000000000001";

// The lines the share logged, kept for the assertions.
struct log_capture {
    std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
    std::shared_ptr<std::vector<std::string>> lines = std::make_shared<std::vector<std::string>>();
    proxy::logger logger() const {
        return proxy::logger([m = mutex, l = lines](std::string_view line) {
            std::lock_guard<std::mutex> lock(*m);
            l->emplace_back(line);
        });
    }
    std::size_t count(const std::string& text) const {
        std::lock_guard<std::mutex> lock(*mutex);
        std::size_t n = 0;
        for (const auto& line : *lines) n += line.find(text) != std::string::npos ? 1 : 0;
        return n;
    }
};

proxy::redis_endpoint endpoint_at(int port, const std::string& password = "") {
    return proxy::parse_redis_url("redis://" + (password.empty() ? "" : ":" + password + "@") + "127.0.0.1:" +
                                  std::to_string(port) + "/0");
}

// Polls `condition` a bounded number of times (no call to the share in between).
template <class Condition>
bool becomes_true(Condition condition) {
    for (int i = 0; i < 200; ++i) {
        if (condition()) return true;
        std::this_thread::sleep_for(25ms);
    }
    return false;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

TEST_CASE("redis share: what Redis holds names no key in clear, and all of it expires", "[scaleout]") {
    if (!installed(redis_binary, "redis-server")) return;
    redis_server redis;
    const int port = redis.port;
    log_capture log;
    proxy::redis_key_share share(endpoint_at(port), log.logger(), patient);
    REQUIRE(share.connected());
    const std::string id = msgbridge::key_share_id(full_key);
    CHECK(id.find("S3CR3T") == std::string::npos);

    REQUIRE(share.view({id}));
    CHECK(share.raise(id, {now_ms() + 30'000, 0}));
    auto slot = share.take_pacing_slot(id, 5, now_ms());
    REQUIRE(slot);
    CHECK(slot->granted);

    redis_probe probe(port);
    const std::string names = probe.reply("KEYS", {"*"});
    CHECK(names.find("S3CR3T") == std::string::npos);
    std::size_t count = 0;
    for (std::size_t start = 0, end; (end = names.find('\n', start)) != std::string::npos; start = end + 1) {
        const std::string name = names.substr(start, end - start);
        INFO(name);
        CHECK(name.rfind("claude-nvidia-proxy:", 0) == 0);
        CHECK(std::stoll(probe.reply("PTTL", {name})) > 0);  // -1 would be "forever"
        ++count;
    }
    CHECK(count == 3);  // the cursor, the key's state, its pacing window
}

TEST_CASE("redis share: two instances never both take the last slot of a window", "[scaleout]") {
    if (!installed(redis_binary, "redis-server")) return;
    redis_server redis;
    const int port = redis.port;
    log_capture log;
    // Two processes' worth of shares, with as many connections as threads:
    // all of them race for the same ten slots.
    proxy::redis_key_share a(endpoint_at(port), log.logger(), patient, 4);
    proxy::redis_key_share b(endpoint_at(port), log.logger(), patient, 4);
    const std::string id = msgbridge::key_share_id(full_key);
    const std::int64_t now = now_ms();
    // Counted here and checked after the join: Catch2's assertions are not thread-safe.
    std::atomic<int> granted{0}, refused{0}, unanswered{0}, refused_with_wrong_time{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            proxy::redis_key_share& share = t % 2 == 0 ? a : b;
            for (int i = 0; i < 10; ++i) {
                auto slot = share.take_pacing_slot(id, 10, now);
                if (!slot) ++unanswered;
                else if (slot->granted) ++granted;
                else {
                    ++refused;
                    if (slot->free_at_ms != now + 60'000) ++refused_with_wrong_time;
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    CHECK(unanswered == 0);
    CHECK(granted == 10);
    CHECK(refused == 70);
    CHECK(refused_with_wrong_time == 0);  // all refused until the first grant leaves the window
    redis_probe probe(port);
    CHECK(probe.reply("ZCARD", {"claude-nvidia-proxy:window:" + id}) == "10");  // ten distinct grants recorded
}

TEST_CASE("redis share: scripts run by digest, and a flushed script cache is survived", "[scaleout]") {
    if (!installed(redis_binary, "redis-server")) return;
    redis_server redis;
    const int port = redis.port;
    log_capture log;
    proxy::redis_key_share share(endpoint_at(port), log.logger(), patient, 1);
    const std::string id = msgbridge::key_share_id(full_key);
    redis_probe probe(port);
    const auto evals = [&] {
        const std::string info = probe.reply("INFO", {"commandstats"});
        const auto at = info.find("cmdstat_eval:calls=");
        return at == std::string::npos ? 0 : std::stoi(info.substr(at + 19));
    };

    CHECK(share.raise(id, {now_ms() + 10'000, 0}));
    CHECK(evals() == 0);  // EVALSHA only
    CHECK(probe.reply("SCRIPT", {"FLUSH"}) == "OK");
    CHECK(share.raise(id, {now_ms() + 20'000, 0}));
    CHECK(evals() == 1);  // NOSCRIPT, then the text once
    CHECK(share.raise(id, {now_ms() + 30'000, 0}));
    CHECK(evals() == 1);  // and the digest again
    CHECK(share.connected());
    CHECK(log.count("failed") == 0);
    const auto view = share.view({id});
    REQUIRE(view);
    CHECK(view->keys.at(0).cooling_until_ms > now_ms() + 20'000);
}

TEST_CASE("redis share: reconnects in the background, with no call to prompt it", "[scaleout]") {
    if (!installed(redis_binary, "redis-server")) return;
    redis_server redis;
    const int port = redis.port;
    log_capture log;
    const std::string id = msgbridge::key_share_id(full_key);

    SECTION("Redis down at start: degraded, then shared once it is up") {
        redis.stop();
        proxy::redis_key_share share(endpoint_at(port), log.logger(), patient, 4, 50ms);
        CHECK_FALSE(share.connected());
        CHECK(log.count("failed (") == 1);
        CHECK_FALSE(share.view({id}));  // answered at once: the pool goes on alone
        CHECK(share.reading().unavailable == 1);
        redis.start();
        CHECK(becomes_true([&] { return share.connected(); }));
        CHECK(log.count("connected; key state is shared") == 1);
        CHECK(share.view({id}));
    }
    SECTION("Redis killed and started again: one line each way, and the old links are replaced") {
        proxy::redis_key_share share(endpoint_at(port), log.logger(), patient, 4, 50ms);
        REQUIRE(share.connected());
        for (int i = 0; i < 8; ++i) CHECK(share.view({id}));  // several connections in use
        redis.stop();
        CHECK_FALSE(share.view({id}));
        CHECK_FALSE(share.connected());
        for (int i = 0; i < 8; ++i) CHECK_FALSE(share.view({id}));
        redis.start();
        CHECK(becomes_true([&] { return share.connected(); }));
        for (int i = 0; i < 8; ++i) CHECK(share.view({id}));  // every stale link replaced without a failure
        CHECK(log.count("failed (") == 1);
        CHECK(log.count("connected; key state is shared") == 2);  // at start and after the outage
    }
}

TEST_CASE("redis share: a password is used and never logged", "[scaleout]") {
    if (!installed(redis_binary, "redis-server")) return;
    const std::string password = "redis-S3CR3T-password";
    redis_server redis({"--requirepass", password});
    const int port = redis.port;
    log_capture log;
    const std::string id = msgbridge::key_share_id(full_key);

    proxy::redis_key_share right(endpoint_at(port, password), log.logger(), patient);
    CHECK(right.connected());
    CHECK(right.view({id}));
    proxy::redis_key_share wrong(endpoint_at(port, "not-the-S3CR3T"), log.logger(), patient, 1, 10'000ms);
    CHECK_FALSE(wrong.connected());
    CHECK(log.count("failed (") == 1);
    CHECK(log.count("S3CR3T") == 0);
}
