// LOG_FORMAT=json and LOG_LEVEL: one JSON object per line with the fields
// an operator filters on, and the level deciding what is written at all.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <string>
#include <vector>

#include "config.hpp"
#include "log.hpp"
#include "support/config_test_support.hpp"
#include "support/mock_upstream.hpp"
#include "support/raw_client.hpp"

namespace {

const std::string upstream_key = "nvapi-log-format-key-S3CR3T-000001";

struct parsed_line {
    std::string level, request_id, msg, client, route, model, upstream_model, error;
    std::int64_t status = 0;
    std::uint64_t tokens_in = 0, tokens_out = 0;
    bool has_ttfb = false, has_total = false, has_time = false;
    std::vector<std::string> attempts;
};

parsed_line parse_line(const std::string& line) {
    INFO(line);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(line).get(doc) == simdjson::SUCCESS);
    REQUIRE(doc.is_object());
    parsed_line out;
    auto text = [&](const char* key, std::string& into) {
        std::string_view value;
        if (doc[key].get_string().get(value) == simdjson::SUCCESS) into = std::string(value);
    };
    text("level", out.level);
    text("request_id", out.request_id);
    text("msg", out.msg);
    text("client", out.client);
    text("route", out.route);
    text("model", out.model);
    text("upstream_model", out.upstream_model);
    text("error", out.error);
    std::string_view time;
    out.has_time = doc["time"].get_string().get(time) == simdjson::SUCCESS && time.size() == 24 && time.back() == 'Z';
    // Absent in lines that do not carry them: the defaults stay.
    if (doc["status"].get_int64().get(out.status) != simdjson::SUCCESS) out.status = 0;
    if (doc["tokens_in"].get_uint64().get(out.tokens_in) != simdjson::SUCCESS) out.tokens_in = 0;
    if (doc["tokens_out"].get_uint64().get(out.tokens_out) != simdjson::SUCCESS) out.tokens_out = 0;
    out.has_ttfb = doc["ttfb_ms"].error() == simdjson::SUCCESS;
    out.has_total = doc["total_ms"].is_int64();
    simdjson::dom::array attempts;
    if (doc["attempts"].get_array().get(attempts) == simdjson::SUCCESS) {
        for (auto attempt : attempts) out.attempts.emplace_back(std::string_view(attempt.get_string().value()));
    }
    return out;
}

std::vector<parsed_line> parse_all(const std::vector<std::string>& lines) {
    std::vector<parsed_line> out;
    for (const auto& line : lines) {
        INFO(line);
        REQUIRE(line.find('\n') == line.size() - 1);
        out.push_back(parse_line(line));
    }
    return out;
}

const parsed_line* find_route_line(const std::vector<parsed_line>& lines, std::string_view route, int status) {
    for (const auto& l : lines) {
        if (l.route == route && l.status == status) return &l;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("log: LOG_FORMAT and LOG_LEVEL are read from the environment and config.json", "[server][log][config]") {
    using config_test::env_of;
    auto cfg = proxy::load_config(env_of({{"CONFIG_PATH", ""}, {"LOG_FORMAT", "json"}, {"LOG_LEVEL", "warn"}}));
    CHECK(cfg.log_format == proxy::log_format::json);
    CHECK(cfg.log_level == proxy::log_level::warn);
    auto defaults = proxy::load_config(env_of({{"CONFIG_PATH", ""}}));
    CHECK(defaults.log_format == proxy::log_format::text);
    CHECK(defaults.log_level == proxy::log_level::info);

    config_test::temp_file file(R"({"log_format":"json","log_level":"debug"})");
    auto from_file = proxy::load_config(env_of({{"CONFIG_PATH", file.path}}));
    CHECK(from_file.log_format == proxy::log_format::json);
    CHECK(from_file.log_level == proxy::log_level::debug);

    CHECK(config_test::error_of([] { (void)proxy::load_config(env_of({{"CONFIG_PATH", ""}, {"LOG_FORMAT", "xml"}})); }) ==
          "LOG_FORMAT: 'xml' is not a log format (text, json)");
    CHECK(config_test::error_of([] { (void)proxy::load_config(env_of({{"CONFIG_PATH", ""}, {"LOG_LEVEL", "loud"}})); }) ==
          "LOG_LEVEL: 'loud' is not a log level (debug, info, warn, error)");
}

TEST_CASE("log: a reload keeps LOG_FORMAT and names it", "[server][log][config]") {
    using config_test::env_of;
    auto running = proxy::load_config(env_of({{"CONFIG_PATH", ""}}));
    auto next = proxy::load_config(env_of({{"CONFIG_PATH", ""}, {"LOG_FORMAT", "json"}, {"LOG_LEVEL", "debug"}}));
    auto kept = proxy::keep_startup_settings(running, next);
    CHECK(std::find(kept.begin(), kept.end(), "LOG_FORMAT/log_format") != kept.end());
    CHECK(next.log_format == proxy::log_format::text);
    CHECK(next.log_level == proxy::log_level::debug);  // the level may change
}

TEST_CASE("log: json lines carry time, level, request id and message; the level filters", "[server][log]") {
    std::vector<std::string> lines;
    const proxy::logger log([&](std::string_view line) { lines.emplace_back(line); }, proxy::log_format::json,
                            proxy::log_level::info);
    log.line("req_0123456789abcdefghijKLMN warning: \"quoted\"\nand a forged line", proxy::log_level::warn);
    log.line("listening on 127.0.0.1:3001");
    log.line("never written", proxy::log_level::debug);
    REQUIRE(lines.size() == 2);
    auto parsed = parse_all(lines);
    CHECK(parsed[0].has_time);
    CHECK(parsed[0].level == "warn");
    CHECK(parsed[0].request_id == "req_0123456789abcdefghijKLMN");
    CHECK(parsed[0].msg == "warning: \"quoted\"\nand a forged line");
    CHECK(parsed[1].level == "info");
    CHECK(parsed[1].request_id.empty());
    CHECK(parsed[1].msg == "listening on 127.0.0.1:3001");

    // Copies share the level: a reload that changes it reaches every one.
    const proxy::logger copy = log;
    copy.set_level(proxy::log_level::debug);
    log.line("now written", proxy::log_level::debug);
    REQUIRE(lines.size() == 3);
    CHECK(parse_line(lines.back()).level == "debug");
    copy.set_level(proxy::log_level::error);
    log.line("a warning, not written", proxy::log_level::warn);
    CHECK(lines.size() == 3);
}

TEST_CASE("log: json summaries of exchanges and routes, with the client address and no key", "[server][log]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        if (r.body.find("rate-limit-me") != std::string::npos)
            return mock::json(429, R"({"error":{"message":"slow down"}})", {{"retry-after", "1"}});
        if (r.body.find("\"stream\":true") != std::string::npos) return mock::sse(mock::text_stream({"Hel", "lo"}));
        return mock::json(200, mock::completion("hi"));
    });
    proxy::config cfg = mock::test_config(up.url(), {upstream_key});
    cfg.log_format = proxy::log_format::json;
    cfg.log_body_max_chars = 0;
    cfg.log_stream_text_preview_chars = 0;
    mock::running_proxy proxy(cfg);
    auto client = proxy.client();

    auto plain = client.Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(plain);
    CHECK(plain->status == 200);
    auto streamed = client.Post("/v1/messages", mock::messages_body(true), "application/json");
    REQUIRE(streamed);
    CHECK(streamed->status == 200);
    auto limited = client.Post("/v1/messages", mock::messages_body(false, "z-ai/glm4.7", 256, "rate-limit-me"), "application/json");
    REQUIRE(limited);
    CHECK(limited->status == 429);
    auto models = client.Get("/v1/nothing-here");
    REQUIRE(models);
    CHECK(models->status == 404);
    {
        // Refused from its head alone, before httplib sees it: logged alike.
        mock::raw_client raw(proxy.port());
        REQUIRE(raw.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\n\r\n"));
        bool closed = false;
        CHECK(raw.read_until_closed(closed).rfind("HTTP/1.1 411", 0) == 0);
    }
    REQUIRE(proxy.wait_for_log("\"route\":\"unmatched\""));
    REQUIRE(proxy.wait_for_log("\"status\":411"));

    const auto lines = parse_all(proxy.log());
    std::vector<parsed_line> exchanges;
    for (const auto& l : lines) {
        if (l.route == "/v1/messages" && !l.upstream_model.empty()) exchanges.push_back(l);
    }
    REQUIRE(exchanges.size() == 3);
    for (const auto& e : exchanges) {
        CHECK(e.has_time);
        CHECK(e.request_id.rfind("req_", 0) == 0);
        CHECK(e.client == "127.0.0.1");
        CHECK(e.has_ttfb);
        CHECK(e.has_total);
        REQUIRE(!e.attempts.empty());
        CHECK(e.attempts.front().find(upstream_key) == std::string::npos);
    }
    CHECK(exchanges[0].level == "info");
    CHECK(exchanges[0].status == 200);
    CHECK(exchanges[0].model == "z-ai/glm4.7");
    CHECK(exchanges[0].upstream_model == "z-ai/glm4.7");
    CHECK(exchanges[0].tokens_in == 11);
    CHECK(exchanges[0].tokens_out == 7);
    CHECK(exchanges[1].status == 200);
    CHECK(exchanges[1].tokens_out == 7);
    CHECK(exchanges[2].level == "warn");
    CHECK(exchanges[2].status == 429);
    CHECK(exchanges[2].error.find("rate_limit_error") != std::string::npos);

    const parsed_line* refused = find_route_line(lines, "/v1/messages", 411);
    REQUIRE(refused != nullptr);
    CHECK(refused->client == "127.0.0.1");
    CHECK(refused->error.find("Content-Length") != std::string::npos);

    const parsed_line* unmatched = find_route_line(lines, "unmatched", 404);
    REQUIRE(unmatched != nullptr);
    CHECK(unmatched->level == "warn");
    CHECK(unmatched->client == "127.0.0.1");
    CHECK(proxy.log_text().find(upstream_key) == std::string::npos);
}

TEST_CASE("log: LOG_LEVEL=warn keeps only what failed; debug adds the upstream body", "[server][log]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        if (r.body.find("fail-me") != std::string::npos) return mock::json(503, R"({"error":{"message":"down"}})");
        return mock::json(200, mock::completion("hi"));
    });
    proxy::config cfg = mock::test_config(up.url(), {upstream_key});
    cfg.log_level = proxy::log_level::warn;
    mock::running_proxy proxy(cfg);
    auto client = proxy.client();

    auto ok = client.Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    auto failed = client.Post("/v1/messages", mock::messages_body(false, "z-ai/glm4.7", 256, "fail-me"), "application/json");
    REQUIRE(failed);
    CHECK(failed->status >= 500);
    REQUIRE(proxy.wait_for_log("status=" + std::to_string(failed->status)));
    for (const auto& line : proxy.log()) {
        INFO(line);
        CHECK(line.find("status=200") == std::string::npos);
        CHECK(line.find(" body: ") == std::string::npos);  // request bodies are info
    }

    // SIGHUP's path: the new level reaches the running service's logger.
    proxy::config debug = cfg;
    debug.log_level = proxy::log_level::debug;
    proxy.service().reload(debug, proxy::make_http_transport(proxy::upstream_settings_from(debug)));
    auto again = client.Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(again);
    REQUIRE(proxy.wait_for_log("status=200"));
    CHECK(proxy.wait_for_log(" body: "));
    REQUIRE(proxy.wait_for_log(" upstream body: "));
    const std::string text = proxy.log_text();
    const auto upstream_body = text.find(" upstream body: ");
    CHECK(text.find("\"messages\":[", upstream_body) != std::string::npos);  // the OpenAI form
    CHECK(text.find(upstream_key) == std::string::npos);
}
