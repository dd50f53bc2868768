// Retries before the first byte: 429 and 401/403 rotate keys, 5xx and
// connection failures are retried once, and the client sees one answer.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include "support/mock_upstream.hpp"

namespace {

std::string key(int i) { return "nvapi-retrytest-00000000000" + std::to_string(i); }
std::string bearer(int i) { return "Bearer " + key(i); }

std::string error_type_of(const std::string& body) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view type;
    if (parser.parse(body).get(doc) || doc["error"]["type"].get_string().get(type)) return "<unparsable>";
    return std::string(type);
}

}  // namespace

TEST_CASE("retries: 429 on the first keys, then success on another", "[server][retries]") {
    for (bool stream : {false, true}) {
        DYNAMIC_SECTION((stream ? "streamed" : "not streamed")) {
            mock::upstream up([&](const mock::recorded& r, std::size_t) {
                if (r.authorization == bearer(3))
                    return stream ? mock::sse(mock::text_stream({"ok"})) : mock::json(200, mock::completion("ok"));
                return mock::json(429, R"({"error":{"message":"rate limited"}})", {{"Retry-After", "30"}});
            });
            mock::running_proxy proxy(mock::test_config(up.url(), {key(1), key(2), key(3)}));
            auto res = proxy.client().Post("/v1/messages", mock::messages_body(stream), "application/json");
            REQUIRE(res);
            CHECK(res->status == 200);
            // The exact Authorization sequence the upstream saw: round robin, skipping limited keys.
            CHECK(up.authorizations() == std::vector<std::string>{bearer(1), bearer(2), bearer(3)});

            SECTION("limited keys cool down for Retry-After: the next request goes straight to key 3") {
                auto again = proxy.client().Post("/v1/messages", mock::messages_body(stream), "application/json");
                REQUIRE(again);
                CHECK(again->status == 200);
                CHECK(up.authorizations().back() == bearer(3));
                CHECK(up.authorizations().size() == 4);
            }
            SECTION("the log names the attempts by redacted key, never the key") {
                auto log = proxy.log_text();
                CHECK(log.find(":429") != std::string::npos);
                CHECK(log.find(key(1)) == std::string::npos);
                CHECK(log.find(msgbridge::redact_key(key(1), 0) + ":429") != std::string::npos);
            }
        }
    }
}

TEST_CASE("retries: every key limited gives 429 rate_limit_error with retry-after", "[server][retries]") {
    mock::upstream up([](const mock::recorded&, std::size_t) {
        return mock::json(429, R"({"error":{"message":"slow down"}})", {{"Retry-After", "20"}});
    });
    mock::running_proxy proxy(mock::test_config(up.url(), {key(1), key(2)}));
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(res);
    CHECK(res->status == 429);
    CHECK(error_type_of(res->body) == "rate_limit_error");
    REQUIRE(res->has_header("retry-after"));
    auto retry_after = std::stol(res->get_header_value("retry-after"));
    CHECK(retry_after >= 1);
    CHECK(retry_after <= 20);
    CHECK(up.authorizations() == std::vector<std::string>{bearer(1), bearer(2)});

    SECTION("while they cool down, nothing is sent upstream") {
        auto again = proxy.client().Post("/v1/messages", mock::messages_body(true), "application/json");
        REQUIRE(again);
        CHECK(again->status == 429);
        CHECK(error_type_of(again->body) == "rate_limit_error");
        CHECK(again->has_header("retry-after"));
        CHECK(up.requests().size() == 2);
    }
}

TEST_CASE("retries: at most five attempts, as the original", "[server][retries]") {
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(429, R"({"error":{"message":"no"}})"); });
    std::vector<std::string> keys;
    for (int i = 1; i <= 8; ++i) keys.push_back(key(i));
    mock::running_proxy proxy(mock::test_config(up.url(), keys));
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(res);
    CHECK(res->status == 429);
    CHECK(up.requests().size() == 5);
}

TEST_CASE("retries: 401/403 move to the next key", "[server][retries]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        if (r.authorization == bearer(1)) return mock::json(401, R"({"error":{"message":"bad key"}})");
        if (r.authorization == bearer(2)) return mock::json(403, R"({"error":{"message":"forbidden"}})");
        return mock::json(200, mock::completion("fine"));
    });
    mock::running_proxy proxy(mock::test_config(up.url(), {key(1), key(2), key(3)}));
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(up.authorizations() == std::vector<std::string>{bearer(1), bearer(2), bearer(3)});
}

TEST_CASE("retries: every key refused with 403 passes the refusal on and keeps the keys in service",
          "[server][retries][keys]") {
    // A WAF, or a model the account may not use: no key is at fault.
    mock::upstream up([](const mock::recorded&, std::size_t) {
        return mock::json(403, R"({"error":{"message":"model not allowed for this account"}})");
    });
    mock::running_proxy proxy(mock::test_config(up.url(), {key(1), key(2)}));
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(res);
    CHECK(res->status == 403);
    CHECK(error_type_of(res->body) == "permission_error");
    CHECK(res->body.find("model not allowed for this account") != std::string::npos);
    CHECK(up.requests().size() == 2);
    CHECK(proxy.log_text().find("quarantined") == std::string::npos);

    // The very next request goes upstream again instead of a 503 for every key being out of service.
    auto again = proxy.client().Post("/v1/messages", mock::messages_body(true), "application/json");
    REQUIRE(again);
    CHECK(again->status == 403);
    CHECK(up.requests().size() == 4);
}

TEST_CASE("retries: every key rejected with 401 is a 502 api_error naming the keys, never a 401",
          "[server][retries][keys]") {
    // A 401 would make Claude Code ask its user to log in again; the user's credentials are fine.
    mock::upstream up([](const mock::recorded&, std::size_t) {
        return mock::json(401, R"({"error":{"message":"invalid api key"}})");
    });
    SECTION("with keys") {
        mock::running_proxy proxy(mock::test_config(up.url(), {key(1), key(2)}));
        for (int request = 0; request < 2; ++request) {
            auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
            REQUIRE(res);
            CHECK(res->status == 502);
            CHECK(error_type_of(res->body) == "api_error");
            CHECK(res->body.find("rejected 2 of the proxy's upstream keys (401)") != std::string::npos);
            CHECK(res->body.find(msgbridge::redact_key(key(1), 0)) != std::string::npos);
            CHECK(res->body.find(key(1)) == std::string::npos);
            CHECK(res->body.find("invalid api key") != std::string::npos);
        }
        CHECK(up.requests().size() == 4);  // the keys stay in service: each request asks again
    }
    SECTION("without keys: the upstream wants one") {
        mock::running_proxy proxy(mock::test_config(up.url()));
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 502);
        CHECK(error_type_of(res->body) == "api_error");
        CHECK(res->body.find("asks for an API key (401) and the proxy has none configured") != std::string::npos);
    }
}

TEST_CASE("retries: a key rejected while another works is quarantined, for seconds at first",
          "[server][retries][keys]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        if (r.authorization == bearer(1)) return mock::json(401, R"({"error":{"message":"revoked"}})");
        return mock::json(200, mock::completion("fine"));
    });
    mock::running_proxy proxy(mock::test_config(up.url(), {key(1), key(2)}));
    for (int request = 0; request < 3; ++request) {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
    }
    CHECK(up.authorizations() == std::vector<std::string>{bearer(1), bearer(2), bearer(2), bearer(2)});
    CHECK(proxy.log_text().find(msgbridge::redact_key(key(1), 0) + " quarantined: the upstream answered 401; it is "
                                                                   "skipped for 5 s") != std::string::npos);
}

TEST_CASE("retries: a Retry-After beyond max_retry_after_seconds is capped", "[server][retries][keys]") {
    mock::upstream up([](const mock::recorded&, std::size_t) {
        return mock::json(429, R"({"error":{"message":"come back tomorrow"}})", {{"Retry-After", "86400"}});
    });
    auto cfg = mock::test_config(up.url(), {key(1)});
    cfg.max_retry_after_seconds = 120;
    mock::running_proxy proxy(std::move(cfg));
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(res);
    CHECK(res->status == 429);
    REQUIRE(res->has_header("retry-after"));
    CHECK(std::stol(res->get_header_value("retry-after")) == 120);
    auto health = proxy.client().Get("/health");
    REQUIRE(health);
    // Capped at 120 s (not 86,400 s); a few ms have passed since, more under a sanitizer.
    const auto at = health->body.find(R"("cooling_for_ms":)");
    REQUIRE(at != std::string::npos);
    const long cooling_ms = std::stol(health->body.substr(at + 17));
    CHECK(cooling_ms <= 120000);
    CHECK(cooling_ms > 60000);
}

TEST_CASE("retries: a 5xx is retried once after a short pause", "[server][retries]") {
    SECTION("and the retry succeeds") {
        mock::upstream up([](const mock::recorded&, std::size_t i) {
            return i == 0 ? mock::json(502, "bad gateway") : mock::json(200, mock::completion("second time"));
        });
        mock::running_proxy proxy(mock::test_config(up.url(), {key(1)}));
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
        CHECK(res->body.find("second time") != std::string::npos);
        CHECK(up.requests().size() == 2);
    }
    SECTION("and a second 5xx is the answer") {
        mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(500, "boom"); });
        mock::running_proxy proxy(mock::test_config(up.url(), {key(1)}));
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 500);
        CHECK(error_type_of(res->body) == "api_error");
        CHECK(up.requests().size() == 2);
    }
}

TEST_CASE("retries: an unreachable upstream is retried once, then a 502 api_error", "[server][retries]") {
    int dead_port;
    {
        // A port that was just listening and is now closed: connections are refused.
        mock::upstream gone([](const mock::recorded&, std::size_t) { return mock::json(200, "{}"); });
        dead_port = gone.port();
    }
    auto cfg = mock::test_config("http://127.0.0.1:" + std::to_string(dead_port) + "/v1/chat/completions", {key(1)});
    mock::running_proxy proxy(cfg);
    for (bool stream : {false, true}) {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(stream), "application/json");
        REQUIRE(res);
        CHECK(res->status == 502);
        CHECK(error_type_of(res->body) == "api_error");
        CHECK(res->body.find("unreachable") != std::string::npos);
    }
    auto log = proxy.log_text();
    CHECK(log.find("connect-failed,") != std::string::npos);  // two attempts listed
}

TEST_CASE("retries: a failure after the first byte becomes an error event", "[server][retries][stream]") {
    mock::upstream up([](const mock::recorded&, std::size_t) {
        auto r = mock::sse({mock::chunk(R"({"role":"assistant","content":"partial"})")});
        r.cut_after_chunks = true;
        return r;
    });
    mock::running_proxy proxy(mock::test_config(up.url(), {key(1)}));
    auto result = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
    CHECK(result.status == 200);
    auto names = mock::event_names(result.events);
    REQUIRE_FALSE(names.empty());
    CHECK(names.front() == "message_start");
    CHECK(names.back() == "error");
    CHECK(up.requests().size() == 1);  // no retry once bytes reached the client
}

TEST_CASE("retries: a non-streaming answer slower than UPSTREAM_TIMEOUT_SECONDS is a 504", "[server][retries]") {
    auto hold = std::make_shared<mock::gate>();
    mock::upstream up([&](const mock::recorded&, std::size_t) {
        hold->wait();  // never answers until the test is done with it
        return mock::json(200, mock::completion("too late"));
    });
    auto cfg = mock::test_config(up.url(), {key(1)});
    cfg.upstream_timeout_seconds = 1;
    mock::running_proxy proxy(cfg);
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    hold->open();
    REQUIRE(res);
    CHECK(res->status == 504);
    CHECK(error_type_of(res->body) == "api_error");
    CHECK(res->body.find("timed out") != std::string::npos);
    CHECK(up.requests().size() == 1);  // a timeout is not retried
}
