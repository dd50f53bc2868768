// GET /metrics: every metric family after a scripted series of requests —
// answered, streamed, rate limited, malformed, unrouted — read back from the
// exposition text, plus the auth rule and the redaction of key labels.
#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <string>

#include "metrics.hpp"
#include "support/mock_upstream.hpp"

namespace {

std::string key(int i) { return "nvapi-metrics-test-key-00000000000000000000" + std::to_string(i); }

// `name{labels} value` lines of an exposition, keyed by everything before the value.
std::map<std::string, double> samples_of(const std::string& exposition) {
    std::map<std::string, double> samples;
    std::istringstream lines(exposition);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto space = line.rfind(' ');
        samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return samples;
}

double sample(const std::map<std::string, double>& samples, const std::string& series) {
    auto it = samples.find(series);
    INFO("series " << series);
    REQUIRE(it != samples.end());
    return it->second;
}

const std::string cached_completion =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"z-ai/glm4.7","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"served"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":30,"completion_tokens":7,"total_tokens":37,"prompt_tokens_details":{"cached_tokens":20}}})";

}  // namespace

TEST_CASE("metrics: every family after a scripted series of requests", "[server][metrics]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        if (r.authorization == "Bearer " + key(0))
            return mock::json(429, R"({"error":{"message":"rate limited"}})", {{"Retry-After", "30"}});
        if (r.body.find(R"("stream":true)") != std::string::npos) return mock::sse(mock::text_stream({"ser", "ved"}));
        return mock::json(200, cached_completion);
    });
    mock::running_proxy proxy(mock::test_config(up.url(), {key(0), key(1)}));
    auto client = proxy.client();

    // Key 0 answers 429 and cools down for 30 s; key 1 serves both exchanges.
    REQUIRE(client.Post("/v1/messages", mock::messages_body(false), "application/json")->status == 200);
    auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
    REQUIRE(streamed.status == 200);
    REQUIRE(client.Post("/v1/messages", "{not json", "application/json")->status == 400);
    REQUIRE(client.Get("/health")->status == 200);
    REQUIRE(client.Get("/no/such/path/42")->status == 404);
    // The stream's summary is written when it ends, after the client has its last byte.
    REQUIRE(proxy.wait_for_log("stream=true status=200"));

    auto res = client.Get("/metrics");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
    const auto samples = samples_of(res->body);
    const std::string p = "claude_nvidia_proxy_";

    CHECK(sample(samples, p + R"(requests_total{model="z-ai/glm4.7",route="/v1/messages",status="200"})") == 2);
    CHECK(sample(samples, p + R"(requests_total{model="",route="/v1/messages",status="400"})") == 1);
    CHECK(sample(samples, p + R"(requests_total{model="",route="/health",status="200"})") == 1);
    // A path no route serves is one label, whatever the path: no label per client-chosen path.
    CHECK(sample(samples, p + R"(requests_total{model="",route="unmatched",status="404"})") == 1);
    CHECK(res->body.find("/no/such/path") == std::string::npos);

    CHECK(sample(samples, p + R"(request_duration_seconds_count{route="/v1/messages"})") == 3);
    CHECK(sample(samples, p + R"(request_duration_seconds_bucket{route="/v1/messages",le="+Inf"})") == 3);
    CHECK(sample(samples, p + R"(request_duration_seconds_bucket{route="/v1/messages",le="0.001"})") <= 3);
    CHECK(sample(samples, p + R"(time_to_first_byte_seconds_count{route="/v1/messages"})") == 2);

    // Non-streamed: 30 prompt tokens of which 20 cached → 10 input, 20 cache_read; streamed: 11 + 7.
    CHECK(sample(samples, p + R"(tokens_total{direction="input",model="z-ai/glm4.7"})") == 10 + 11);
    CHECK(sample(samples, p + R"(tokens_total{direction="output",model="z-ai/glm4.7"})") == 7 + 7);
    CHECK(sample(samples, p + R"(tokens_total{direction="cache_read",model="z-ai/glm4.7"})") == 20);

    const std::string id0 = msgbridge::redact_key(key(0), 0);
    const std::string id1 = msgbridge::redact_key(key(1), 1);
    CHECK(sample(samples, p + R"(upstream_attempts_total{key=")" + id0 + R"(",outcome="rate_limited"})") == 1);
    CHECK(sample(samples, p + R"(upstream_attempts_total{key=")" + id1 + R"(",outcome="ok"})") == 2);
    CHECK(sample(samples, p + R"(upstream_attempts_total{key=")" + id1 + R"(",outcome="rate_limited"})") == 0);
    CHECK(sample(samples, p + R"(key_cooling_down_seconds{key=")" + id0 + R"("})") > 0);
    CHECK(sample(samples, p + R"(key_cooling_down_seconds{key=")" + id1 + R"("})") == 0);
    CHECK(sample(samples, p + R"(key_quarantined{key=")" + id0 + R"("})") == 0);
    CHECK(sample(samples, p + R"(key_in_flight{key=")" + id1 + R"("})") == 0);
    CHECK(sample(samples, p + "active_streams") == 0);
    // Without REDIS_URL there is no shared state to report on.
    CHECK(res->body.find("shared_state") == std::string::npos);
    CHECK(res->body.find(key(0)) == std::string::npos);
    CHECK(res->body.find(key(1)) == std::string::npos);
}

TEST_CASE("metrics: /metrics needs SERVER_API_KEY when one is set", "[server][metrics]") {
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("ok")); });
    auto cfg = mock::test_config(up.url(), {key(0)});
    cfg.server_api_key = "metrics-inbound-secret";
    mock::running_proxy proxy(cfg);
    auto client = proxy.client();
    auto refused = client.Get("/metrics");
    REQUIRE(refused);
    CHECK(refused->status == 401);
    auto allowed = client.Get("/metrics", {{"Authorization", "Bearer metrics-inbound-secret"}});
    REQUIRE(allowed);
    CHECK(allowed->status == 200);
    // The refusal, answered from the request's head before any body, is counted too.
    CHECK(sample(samples_of(allowed->body),
                 R"(claude_nvidia_proxy_requests_total{model="",route="/metrics",status="401"})") == 1);
    CHECK(allowed->body.find("metrics-inbound-secret") == std::string::npos);
}

TEST_CASE("metrics: the shared key state's families, when REDIS_URL is set", "[server][metrics]") {
    const proxy::metrics counters;
    const std::string p = "claude_nvidia_proxy_";
    const auto up = samples_of(counters.scrape(0, {}, proxy::shared_state_reading{true, 0}));
    CHECK(sample(up, p + "shared_state_up") == 1);
    CHECK(sample(up, p + "shared_state_unavailable_total") == 0);
    const auto down = samples_of(counters.scrape(0, {}, proxy::shared_state_reading{false, 42}));
    CHECK(sample(down, p + "shared_state_up") == 0);
    CHECK(sample(down, p + "shared_state_unavailable_total") == 42);
}
