// GET /status (the operator's page), the auth rules of /status, /metrics and
// /health, and /health's "degraded": the pieces in isolation, then through
// the running proxy. The page in a real browser: tests/browser/status_page.cpp.
#include <catch2/catch.hpp>

#include <string>

#include "http_types.hpp"
#include "log.hpp"
#include "status_board.hpp"
#include "status_page.hpp"
#include "support/mock_upstream.hpp"
#include "support/status_test_support.hpp"
#include "upstream_health.hpp"

namespace {

using namespace status_test;

std::string key(int i) { return "nvapi-status-test-key-0000000000000000000000" + std::to_string(i); }

proxy::attempt_result failed_with(int status, std::size_t attempts = 1) {
    proxy::attempt_result r;
    r.last.status = status;
    r.last.got_headers = true;
    for (std::size_t i = 0; i < attempts; ++i) r.attempts.push_back("k:" + std::to_string(status));
    return r;
}

proxy::attempt_result answered() {
    proxy::attempt_result r = failed_with(200);
    r.committed = true;
    return r;
}

proxy::exchange_summary summary_for(const std::string& model, int status, std::uint64_t tokens_in = 0) {
    proxy::exchange_summary s;
    s.request_id = "req_test";
    s.client_model = model;
    s.upstream_model = model;
    s.status = status;
    s.tokens_in = tokens_in;
    s.started = std::chrono::steady_clock::time_point{};
    s.finished = s.started + std::chrono::milliseconds(1500);
    return s;
}

}  // namespace

TEST_CASE("status: upstream_health counts failed attempts, forgets old ones, and ends at a success", "[server][status]") {
    auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    proxy::upstream_health::options options;
    options.clock_now = [&] { return now; };
    proxy::upstream_health health(options);
    proxy::degraded_rule rule{5, std::chrono::seconds(300)};
    CHECK_FALSE(health.degraded(rule));

    SECTION("five failed attempts degrade; one success ends it") {
        for (int i = 0; i < 4; ++i) health.observe(failed_with(502));
        CHECK_FALSE(health.degraded(rule));
        health.observe(failed_with(503));
        CHECK(health.degraded(rule));
        CHECK(health.read(rule).failures_in_a_row == 5);
        health.observe(answered());
        CHECK_FALSE(health.degraded(rule));
        CHECK(health.read(rule).failures_in_a_row == 0);
    }
    SECTION("every attempt of an unanswered request counts: five keys refused at once") {
        health.observe(failed_with(429, 5));
        CHECK(health.degraded(rule));
    }
    SECTION("failures older than `recent` no longer degrade") {
        for (int i = 0; i < 5; ++i) health.observe(failed_with(401));
        CHECK(health.degraded(rule));
        now += std::chrono::seconds(301);
        CHECK_FALSE(health.degraded(rule));
        health.observe(failed_with(401));  // the streak goes on, and is recent again
        CHECK(health.degraded(rule));
    }
    SECTION("an answer the upstream judged (400, 404) shows it working; a client that left says nothing") {
        for (int i = 0; i < 5; ++i) health.observe(failed_with(500));
        proxy::attempt_result left = failed_with(0);
        left.last.what = proxy::upstream_outcome::kind::cancelled;
        health.observe(left);
        CHECK(health.degraded(rule));
        health.observe(failed_with(400));
        CHECK_FALSE(health.degraded(rule));
    }
    SECTION("connection failures and timeouts fail; the pool having no key to give fails") {
        proxy::attempt_result unreachable = failed_with(0, 2);
        unreachable.last.what = proxy::upstream_outcome::kind::connect_failed;
        proxy::attempt_result timed_out = failed_with(0, 1);
        timed_out.last.what = proxy::upstream_outcome::kind::timed_out;
        health.observe(unreachable);
        health.observe(timed_out);
        health.observe(proxy::attempt_result{});  // every key cooling down: no attempt made
        CHECK(health.read(rule).failures_in_a_row == 4);
        health.observe(proxy::attempt_result{});
        CHECK(health.degraded(rule));
    }
    SECTION("the rule is the caller's: two failures under {2, 60 s}; never under {0, …}") {
        health.observe(failed_with(502, 2));
        CHECK_FALSE(health.degraded(rule));
        CHECK(health.degraded({2, std::chrono::seconds(60)}));
        CHECK_FALSE(health.degraded({0, std::chrono::seconds(60)}));
        now += std::chrono::seconds(61);
        CHECK_FALSE(health.degraded({2, std::chrono::seconds(60)}));
    }
}

TEST_CASE("status: status_board keeps the last 50 exchanges, newest first, and bounds the models", "[server][status]") {
    proxy::status_board board;
    // Exchange i: model-(i % 3), i input tokens, and from the 30th on a 502.
    for (int i = 0; i < 60; ++i) board.observe_exchange(summary_for("model-" + std::to_string(i % 3), i < 30 ? 200 : 502, i));
    const auto recent = board.recent();
    REQUIRE(recent.size() == proxy::status_board::recent_capacity);
    CHECK(recent.front().tokens_in == 59);
    CHECK(recent.back().tokens_in == 10);
    CHECK(recent.front().took == std::chrono::milliseconds(1500));

    const auto models = board.models();
    REQUIRE(models.size() == 3);
    CHECK(models[0].model == "model-0");
    CHECK(models[0].requests == 20);
    CHECK(models[0].failed == 10);
    CHECK(models[0].tokens_in == (0 + 57) * 20 / 2);  // 0 + 3 + … + 57

    // Names a client chose without end land in one bucket past max_models.
    for (std::size_t i = 0; i < 2 * proxy::status_board::max_models; ++i)
        board.observe_exchange(summary_for("made-up-" + std::to_string(i), 404));
    const auto bounded = board.models();
    CHECK(bounded.size() == proxy::status_board::max_models + 1);
    bool other_seen = false;
    for (const auto& m : bounded) other_seen |= m.model == proxy::status_board::other_models;
    CHECK(other_seen);
}

TEST_CASE("status: the page escapes whatever a client or the configuration put in a name", "[server][status]") {
    proxy::status_view view;
    view.version = "0.1.0";
    view.upstream_url = "https://example.test/v1/chat/completions";
    view.now = std::chrono::system_clock::now();
    proxy::status_board board;
    board.observe_exchange(summary_for(hostile_model, 200, 5));
    view.models = board.models();
    view.recent = board.recent();
    view.streams.push_back({"req_\"><img src=x onerror=alert(2)>", hostile_model, std::chrono::seconds(3)});
    const std::string page = proxy::render_status_page(view);
    CHECK_FALSE(contains(page, hostile_model));
    CHECK_FALSE(contains(page, "<img"));
    CHECK(contains(page, escaped_hostile_model));
    CHECK(contains(page, "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    // The page's own script is the only one.
    CHECK(page.find("<script") == page.rfind("<script"));
}

TEST_CASE("status: each exchange shows what its conversion left out or changed, escaped and bounded",
          "[server][status][warnings]") {
    proxy::status_board board;
    // The summaries hold views: the names they view outlive them.
    const std::string model_a = "model-a", model_c = "model-c";
    const std::vector<std::string> warnings = {"top_k: left out", "tools: server tools left out: <b>x</b>"};
    auto with_warnings = summary_for(model_a, 200);
    with_warnings.warnings = &warnings;
    board.observe_exchange(with_warnings);
    board.observe_exchange(summary_for("model-b", 200));  // none
    const std::vector<std::string> long_ones(40, "caf\xC3\xA9 " + std::string(30, 'w'));
    auto long_summary = summary_for(model_c, 200);
    long_summary.warnings = &long_ones;
    board.observe_exchange(long_summary);

    const auto recent = board.recent();
    REQUIRE(recent.size() == 3);
    CHECK(recent[2].notes == "top_k: left out; tools: server tools left out: <b>x</b>");
    CHECK(recent[1].notes.empty());
    CHECK(recent[0].notes.size() <= proxy::status_board::max_notes_chars);
    CHECK(recent[0].notes.substr(recent[0].notes.size() - 3) == "...");
    CHECK(recent[0].notes.find("\xC3...") == std::string::npos);  // never half a character

    proxy::status_view view;
    view.version = "0.1.0";
    view.now = std::chrono::system_clock::now();
    view.recent = recent;
    const std::string page = proxy::render_status_page(view);
    CHECK(contains(page, "Left out or changed"));
    CHECK(contains(page, "top_k: left out; tools: server tools left out: &lt;b&gt;x&lt;/b&gt;"));
    CHECK_FALSE(contains(page, "<b>x</b>"));
}

TEST_CASE("status: the page says whether key state is shared, and warns while Redis is away", "[server][status]") {
    proxy::status_view view;
    view.version = "0.1.0";
    view.now = std::chrono::system_clock::now();
    SECTION("without REDIS_URL: this instance only, no warning") {
        const std::string page = proxy::render_status_page(view);
        CHECK(contains(page, "this instance only"));
        CHECK_FALSE(contains(page, "cannot be reached"));
    }
    SECTION("shared and reachable") {
        view.shared = proxy::shared_state_view{"redis://***@10.0.0.5:6379/0", {true, 0}};
        const std::string page = proxy::render_status_page(view);
        CHECK(contains(page, ">shared<"));
        CHECK(contains(page, "redis://***@10.0.0.5:6379/0"));
        CHECK_FALSE(contains(page, "cannot be reached"));
    }
    SECTION("shared, Redis away: a banner with the count of calls answered locally") {
        view.shared = proxy::shared_state_view{"redis://<b>host</b>:6379/0", {false, 1234}};
        const std::string page = proxy::render_status_page(view);
        CHECK(contains(page, "not shared now"));
        CHECK(contains(page, "cannot be reached"));
        CHECK(contains(page, "1,234 calls answered locally"));
        CHECK_FALSE(contains(page, "<b>host"));
        CHECK(contains(page, "&lt;b&gt;host"));
    }
}

TEST_CASE("status: the upstream URL is shown without its query", "[server][status]") {
    CHECK(proxy::upstream_url_for_display("https://integrate.api.nvidia.com/v1/chat/completions?token=abc") ==
          "https://integrate.api.nvidia.com/v1/chat/completions");
    CHECK(proxy::upstream_url_for_display("http://[::1]:8080/v1/chat/completions") ==
          "http://[::1]:8080/v1/chat/completions");
}

TEST_CASE("status: HTTP Basic auth's password is read, anything else refused", "[server][status][auth]") {
    // base64("operator:s3cret:with:colons") and base64(":p"), RFC 7617's form.
    CHECK(proxy::basic_auth_password("Basic b3BlcmF0b3I6czNjcmV0OndpdGg6Y29sb25z") == "s3cret:with:colons");
    CHECK(proxy::basic_auth_password("basic  OnA=") == "p");
    CHECK_FALSE(proxy::basic_auth_password("Bearer b3BlcmF0b3I6czNjcmV0"));
    CHECK_FALSE(proxy::basic_auth_password("Basic bm8gY29sb24="));  // "no colon"
    CHECK_FALSE(proxy::basic_auth_password("Basic not*base64"));
    CHECK_FALSE(proxy::basic_auth_password("Basic "));
}

TEST_CASE("status: GET /status after a scripted series of requests", "[server][status]") {
    auto hold = std::make_shared<mock::gate>();
    mock::upstream up(scripted_upstream(hold));
    mock::running_proxy proxy(mock::test_config(up.url(), {key(0), key(1)}));
    auto client = proxy.client();
    REQUIRE(client.Post("/v1/messages", mock::messages_body(false), "application/json")->status == 200);
    REQUIRE(client.Post("/v1/messages", mock::messages_body(false, hostile_model), "application/json")->status == 200);
    REQUIRE(mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true)).status == 200);
    REQUIRE(proxy.wait_for_log("stream=true status=200"));
    // One stream stays open while the page is read.
    held_stream held(proxy.port(), hold, "z-ai/held-model");
    REQUIRE(held.open());
    // Both keys answer 429 and rest; the client gets the 429.
    REQUIRE(client.Post("/v1/messages", mock::messages_body(false, "z-ai/glm4.7", 256, rate_limit_me), "application/json")
                ->status == 429);

    auto res = client.Get("/status");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->get_header_value("Content-Type") == "text/html; charset=utf-8");
    CHECK(res->get_header_value("Cache-Control") == "no-store");
    const std::string policy = res->get_header_value("Content-Security-Policy");
    CHECK(contains(policy, "default-src 'none'"));
    CHECK(contains(policy, "script-src 'sha256-"));
    CHECK_FALSE(contains(policy, "unsafe-inline"));
    const std::string& page = res->body;
    CHECK(contains(page, msgbridge::version_string));
    CHECK(contains(page, up.url()));
    CHECK(contains(page, "z-ai/glm4.7"));
    CHECK(contains(page, "z-ai/held-model"));  // the open stream
    CHECK(contains(page, escaped_hostile_model));
    CHECK_FALSE(contains(page, hostile_model));
    CHECK(contains(page, msgbridge::redact_key(key(0), 0)));
    CHECK(contains(page, msgbridge::redact_key(key(1), 1)));
    CHECK(contains(page, "resting until"));  // after the 429s
    CHECK(contains(page, ">429<"));
    CHECK(contains(page, "upstream ok"));
    CHECK_FALSE(contains(page, key(0)));
    CHECK_FALSE(contains(page, key(1)));
    CHECK_FALSE(contains(page, keep_streaming));  // never a body
    CHECK(contains(page, "Left out or changed"));
}

TEST_CASE("status: /status and /metrics need SERVER_API_KEY; /health shows key details only with it",
          "[server][status][auth]") {
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("ok")); });
    auto cfg = mock::test_config(up.url(), {key(0)});
    cfg.server_api_key = "status-inbound-secret";
    mock::running_proxy proxy(cfg);
    auto client = proxy.client();

    auto status_of = [&](const std::string& path, const httplib::Headers& headers = {}) {
        auto res = client.Get(path.c_str(), headers);
        REQUIRE(res);
        return res->status;
    };
    // A browser asks its user for the key on this answer.
    CHECK(client.Get("/status")->get_header_value("WWW-Authenticate") ==
          R"(Basic realm="claude-nvidia-proxy", charset="UTF-8")");
    CHECK(status_of("/status") == 401);
    CHECK(status_of("/status", {{"Authorization", "Bearer status-inbound-secret"}}) == 200);
    CHECK(status_of("/status", {{"x-api-key", "status-inbound-secret"}}) == 200);
    // base64("operator:status-inbound-secret"), what a browser sends after asking.
    const httplib::Headers basic = {{"Authorization", "Basic b3BlcmF0b3I6c3RhdHVzLWluYm91bmQtc2VjcmV0"}};
    CHECK(status_of("/status", basic) == 200);
    CHECK(status_of("/status", {{"Authorization", "Basic b3BlcmF0b3I6d3Jvbmc="}}) == 401);  // operator:wrong
    CHECK(status_of("/status?key=status-inbound-secret") == 401);  // never in the URL
    // Basic is for the page only: the API routes keep their two headers.
    CHECK(status_of("/metrics", basic) == 401);
    CHECK_FALSE(client.Get("/metrics")->has_header("WWW-Authenticate"));
    CHECK(status_of("/metrics", {{"x-api-key", "status-inbound-secret"}}) == 200);

    auto open_health = client.Get("/health");
    REQUIRE(open_health);
    CHECK(open_health->status == 200);
    CHECK(contains(open_health->body, R"("status":"ok")"));
    CHECK_FALSE(contains(open_health->body, "key_stats"));
    auto full_health = client.Get("/health", {{"Authorization", "Bearer status-inbound-secret"}});
    REQUIRE(full_health);
    CHECK(contains(full_health->body, R"("key_stats":[)"));
    CHECK(contains(full_health->body, msgbridge::redact_key(key(0), 0)));
    CHECK_FALSE(contains(proxy.log_text(), "status-inbound-secret"));
}

TEST_CASE("status: /health says degraded (still 200) after failed upstream attempts, ok after a success",
          "[server][status][health]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        if (contains(r.body, "please fail")) return mock::json(502, R"({"error":{"message":"bad gateway"}})");
        return mock::json(200, mock::completion("fine"));
    });
    mock::running_proxy proxy(mock::test_config(up.url(), {key(0)}));
    auto client = proxy.client();
    const auto failing = mock::messages_body(false, "z-ai/glm4.7", 256, "please fail");
    auto health_status = [&] {
        auto res = client.Get("/health");
        REQUIRE(res);
        CHECK(res->status == 200);
        return contains(res->body, R"("status":"degraded")") ? "degraded" : "ok";
    };

    // A 5xx is retried once: two failed attempts per request; five make it degraded.
    REQUIRE(client.Post("/v1/messages", failing, "application/json")->status >= 500);
    REQUIRE(client.Post("/v1/messages", failing, "application/json")->status >= 500);
    CHECK(std::string(health_status()) == "ok");
    REQUIRE(client.Post("/v1/messages", failing, "application/json")->status >= 500);
    CHECK(std::string(health_status()) == "degraded");
    auto page = client.Get("/status");
    REQUIRE(page);
    CHECK(contains(page->body, "upstream degraded"));
    CHECK(contains(page->body, "The last 6 upstream attempts failed"));

    REQUIRE(client.Post("/v1/messages", mock::messages_body(false), "application/json")->status == 200);
    CHECK(std::string(health_status()) == "ok");
}

TEST_CASE("status: HEALTH_DEGRADED_AFTER_FAILURES sets when /health says degraded, and a reload changes it",
          "[server][status][health]") {
    mock::upstream up([](const mock::recorded&, std::size_t) {
        return mock::json(502, R"({"error":{"message":"bad gateway"}})");
    });
    auto cfg = mock::test_config(up.url(), {key(0)});
    cfg.health_degraded_after_failures = 1;
    mock::running_proxy proxy(cfg);
    auto client = proxy.client();
    const auto degraded = [&] {
        auto res = client.Get("/health");
        REQUIRE(res);
        return contains(res->body, R"("status":"degraded")");
    };
    CHECK_FALSE(degraded());
    REQUIRE(client.Post("/v1/messages", mock::messages_body(false), "application/json")->status >= 500);
    CHECK(degraded());  // two failed attempts (the 5xx is retried once); one was enough

    cfg.health_degraded_after_failures = 0;  // never
    proxy.service().reload(cfg, proxy::make_http_transport(proxy::upstream_settings_from(cfg)));
    CHECK_FALSE(degraded());
    auto page = client.Get("/status");
    REQUIRE(page);
    CHECK_FALSE(contains(page->body, "upstream degraded"));

    cfg.health_degraded_after_failures = 2;  // the streak was kept across the reloads: 2 failures
    proxy.service().reload(cfg, proxy::make_http_transport(proxy::upstream_settings_from(cfg)));
    CHECK(degraded());
}
