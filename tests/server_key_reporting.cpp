// What the server says about its keys: the quarantine log line, retry-after
// from the pool's own wait, and the per-key counters on /health.
#include <catch2/catch.hpp>

#include <msgbridge/keys.hpp>

#include <string>

#include "support/mock_upstream.hpp"

namespace {

const std::string key_bad = "nvapi-report-test-bad-key-0000000001";
const std::string key_good = "nvapi-report-test-good-key-000000002";

std::string bearer_key(const mock::recorded& r) {
    return r.authorization.rfind("Bearer ", 0) == 0 ? r.authorization.substr(7) : std::string();
}

std::size_t count_lines_with(const std::vector<std::string>& lines, const std::string& text) {
    std::size_t n = 0;
    for (const auto& l : lines) n += l.find(text) != std::string::npos ? 1 : 0;
    return n;
}

}  // namespace

TEST_CASE("keys: a key newly quarantined by a 401 is logged once by its redacted id, never by value",
          "[server][keys]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        if (bearer_key(r) == key_bad) return mock::json(401, R"({"error":{"message":"bad key"}})");
        return mock::json(200, mock::completion("fine"));
    });
    auto cfg = mock::test_config(up.url(), {key_bad, key_good});
    mock::running_proxy proxy(cfg);
    msgbridge::key_pool reference({key_bad, key_good});
    const std::string bad_id(reference.redacted_id(0));
    REQUIRE(!bad_id.empty());

    // Round robin starts at the bad key: the first request meets the 401, then succeeds on the good key.
    for (int i = 0; i < 3; ++i) {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
    }
    auto lines = proxy.log();
    CHECK(count_lines_with(lines, "key " + bad_id + " quarantined") == 1);
    CHECK(count_lines_with(lines, "quarantined") == 1);
    CHECK(proxy.log_text().find(key_bad) == std::string::npos);
    CHECK(proxy.log_text().find(key_good) == std::string::npos);
}

TEST_CASE("keys: a stream's 403 quarantine is logged the same way", "[server][keys]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        if (bearer_key(r) == key_bad) return mock::json(403, R"({"error":{"message":"forbidden"}})");
        return mock::sse(mock::text_stream({"ok"}));
    });
    mock::running_proxy proxy(mock::test_config(up.url(), {key_bad, key_good}));
    msgbridge::key_pool reference({key_bad, key_good});
    auto result = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
    CHECK(result.status == 200);
    REQUIRE(!result.events.empty());
    CHECK(result.events.back().event == "message_stop");
    CHECK(count_lines_with(proxy.log(), "key " + std::string(reference.redacted_id(0)) + " quarantined") == 1);
    CHECK(proxy.log_text().find(key_bad) == std::string::npos);
}

TEST_CASE("keys: retry-after comes from the pool's wait, not the last upstream header", "[server][keys]") {
    // The first key is asked to rest 7 s, the second 40 s: the client may retry when the first is back.
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        std::string wait = bearer_key(r) == key_bad ? "7" : "40";
        return mock::json(429, R"({"error":{"message":"slow down"}})", {{"Retry-After", wait}});
    });
    mock::running_proxy proxy(mock::test_config(up.url(), {key_bad, key_good}));

    SECTION("every key tried (exhausted), non-streaming") {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 429);
        CHECK(res->body.find(R"("type":"rate_limit_error")") != std::string::npos);
        REQUIRE(res->has_header("retry-after"));
        long seconds = std::stol(res->get_header_value("retry-after"));
        CHECK(seconds >= 1);
        CHECK(seconds <= 7);
        CHECK(up.requests().size() == 2);

        SECTION("then every key cooling: refused without an upstream call, same bound") {
            auto again = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
            REQUIRE(again);
            CHECK(again->status == 429);
            REQUIRE(again->has_header("retry-after"));
            long s2 = std::stol(again->get_header_value("retry-after"));
            CHECK(s2 >= 1);
            CHECK(s2 <= 7);
            CHECK(up.requests().size() == 2);
        }
    }
    SECTION("streaming: the same header on the JSON error") {
        auto result = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
        CHECK(result.status == 429);
        auto it = result.headers.find("retry-after");
        REQUIRE(it != result.headers.end());
        long seconds = std::stol(it->second);
        CHECK(seconds >= 1);
        CHECK(seconds <= 7);
    }
}

TEST_CASE("keys: GET /health carries the pool's per-key counters, without keys", "[server][keys]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        if (bearer_key(r) == key_bad) return mock::json(401, R"({"error":{"message":"bad key"}})");
        return mock::json(200, mock::completion("fine"));
    });
    mock::running_proxy proxy(mock::test_config(up.url(), {key_bad, key_good}));
    msgbridge::key_pool reference({key_bad, key_good});
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(res);
    REQUIRE(res->status == 200);

    auto health = proxy.client().Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
    const std::string& body = health->body;
    CHECK(body.find(R"("key_stats":[)") != std::string::npos);
    CHECK(body.find(std::string(reference.redacted_id(0))) != std::string::npos);
    CHECK(body.find(std::string(reference.redacted_id(1))) != std::string::npos);
    CHECK(body.find(R"("auth_failures":1)") != std::string::npos);
    CHECK(body.find(R"("successes":1)") != std::string::npos);
    CHECK(body.find(R"("quarantined":true)") != std::string::npos);
    CHECK(body.find(key_bad) == std::string::npos);
    CHECK(body.find(key_good) == std::string::npos);
}
