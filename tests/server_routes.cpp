// Routes, inbound auth, limits and error shapes.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <simdjson.h>

#include "support/mock_upstream.hpp"

namespace {

struct error_body {
    std::string outer_type, type, message;
};

error_body parse_error(const std::string& body) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    error_body e;
    if (parser.parse(body).get(doc)) return {"<unparsable: " + body + ">", "", ""};
    std::string_view s;
    if (!doc["type"].get_string().get(s)) e.outer_type = s;
    if (!doc["error"]["type"].get_string().get(s)) e.type = s;
    if (!doc["error"]["message"].get_string().get(s)) e.message = s;
    return e;
}

mock::upstream ok_upstream() {
    return mock::upstream([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("hi")); });
}

}  // namespace

TEST_CASE("routes: GET / answers the original's status JSON", "[server][routes]") {
    auto up = ok_upstream();
    mock::running_proxy proxy(mock::test_config(up.url()));
    auto res = proxy.client().Get("/");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->get_header_value("Content-Type") == "application/json");
    CHECK(res->body.find(R"("status":"ok")") != std::string::npos);
    CHECK(res->has_header("request-id"));
}

TEST_CASE("routes: GET /health", "[server][routes]") {
    auto up = ok_upstream();
    mock::running_proxy proxy(mock::test_config(up.url(), {"nvapi-health-check-key-0001"}));
    auto res = proxy.client().Get("/health");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.find(R"("status":"ok")") != std::string::npos);
    CHECK(res->body.find(R"("keys":1)") != std::string::npos);
    CHECK(res->body.find("nvapi-health-check-key-0001") == std::string::npos);
}

TEST_CASE("routes: GET /v1/models lists the claude-* aliases with the upstream model as display_name", "[server][routes]") {
    auto up = ok_upstream();
    auto cfg = mock::test_config(up.url());
    cfg.request.model_map = {{"claude-sonnet-4-5", "z-ai/glm4.7"},
                             {"claude-*haiku*", "moonshotai/kimi-k2.5"},
                             {"claude-opus-4-1", "moonshotai/kimi-k2.5"}};
    mock::running_proxy proxy(cfg);
    // Claude Code's model discovery asks for a thousand.
    auto res = proxy.client().Get("/v1/models?limit=1000");
    REQUIRE(res);
    CHECK(res->status == 200);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE_FALSE(parser.parse(res->body).get(doc));
    simdjson::dom::array data;
    REQUIRE_FALSE(doc["data"].get_array().get(data));
    std::vector<std::pair<std::string, std::string>> listed;
    for (auto m : data) {
        std::string_view type, id, display;
        REQUIRE_FALSE(m["type"].get_string().get(type));
        CHECK(type == "model");
        REQUIRE_FALSE(m["id"].get_string().get(id));
        REQUIRE_FALSE(m["display_name"].get_string().get(display));
        std::string_view created;
        CHECK_FALSE(m["created_at"].get_string().get(created));
        listed.emplace_back(id, display);
    }
    REQUIRE(listed.size() >= 2);
    // Aliases first (globs cannot be listed), then the upstream models themselves.
    CHECK(listed[0] == std::make_pair(std::string("claude-sonnet-4-5"), std::string("z-ai/glm4.7")));
    CHECK(listed[1] == std::make_pair(std::string("claude-opus-4-1"), std::string("moonshotai/kimi-k2.5")));
    bool has_more = true;
    CHECK_FALSE(doc["has_more"].get_bool().get(has_more));
    CHECK_FALSE(has_more);

    SECTION("paging with limit") {
        auto page = proxy.client().Get("/v1/models?limit=1");
        REQUIRE(page);
        CHECK(page->body.find(R"("has_more":true)") != std::string::npos);
        CHECK(page->body.find(R"("first_id":"claude-sonnet-4-5")") != std::string::npos);
    }
    SECTION("one model by id, and an unknown one") {
        auto one = proxy.client().Get("/v1/models/claude-opus-4-1");
        REQUIRE(one);
        CHECK(one->status == 200);
        CHECK(one->body.find(R"("display_name":"moonshotai/kimi-k2.5")") != std::string::npos);
        auto none = proxy.client().Get("/v1/models/claude-unknown");
        REQUIRE(none);
        CHECK(none->status == 404);
        CHECK(parse_error(none->body).type == "not_found_error");
    }
    SECTION("a bad limit is a 400 naming it") {
        auto bad = proxy.client().Get("/v1/models?limit=abc");
        REQUIRE(bad);
        CHECK(bad->status == 400);
        CHECK(parse_error(bad->body).message.find("limit") != std::string::npos);
    }
}

TEST_CASE("routes: POST /v1/messages/count_tokens estimates input tokens", "[server][routes]") {
    auto up = ok_upstream();
    mock::running_proxy proxy(mock::test_config(up.url()));
    auto res = proxy.client().Post("/v1/messages/count_tokens",
                                   mock::messages_body(false, "z-ai/glm4.7", 256, "hello there, how are you today?"),
                                   "application/json");
    REQUIRE(res);
    CHECK(res->status == 200);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE_FALSE(parser.parse(res->body).get(doc));
    std::uint64_t n = 0;
    REQUIRE_FALSE(doc["input_tokens"].get_uint64().get(n));
    CHECK(n > 0);
    CHECK(up.requests().empty());  // the upstream has no such route

    auto bad = proxy.client().Post("/v1/messages/count_tokens", "{oops", "application/json");
    REQUIRE(bad);
    CHECK(bad->status == 400);
    CHECK(parse_error(bad->body).type == "invalid_request_error");
}

TEST_CASE("routes: unknown paths are 404 and wrong methods 405, in Anthropic's shape", "[server][routes]") {
    auto up = ok_upstream();
    mock::running_proxy proxy(mock::test_config(up.url()));
    auto missing = proxy.client().Get("/v1/complete");
    REQUIRE(missing);
    CHECK(missing->status == 404);
    auto e = parse_error(missing->body);
    CHECK(e.outer_type == "error");
    CHECK(e.type == "not_found_error");
    CHECK(e.message.find("/v1/complete") != std::string::npos);
    CHECK(missing->has_header("request-id"));

    // Every request gets its summary line, routes without a model too.
    CHECK(proxy.wait_for_log("GET /v1/complete status=404"));

    auto wrong = proxy.client().Get("/v1/messages");
    REQUIRE(wrong);
    CHECK(wrong->status == 405);
    CHECK(wrong->get_header_value("Allow") == "POST");
    CHECK(parse_error(wrong->body).outer_type == "error");

    auto wrong_post = proxy.client().Post("/health", "{}", "application/json");
    REQUIRE(wrong_post);
    CHECK(wrong_post->status == 405);
}

TEST_CASE("routes: HEAD is answered on every GET route, without a body", "[server][routes]") {
    auto up = ok_upstream();
    mock::running_proxy proxy(mock::test_config(up.url()));
    for (const char* path : {"/", "/health", "/v1/models"}) {
        INFO(path);
        auto get = proxy.client().Get(path);
        auto head = proxy.client().Head(path);
        REQUIRE(get);
        REQUIRE(head);
        CHECK(head->status == 200);
        CHECK(head->body.empty());
        CHECK(head->get_header_value("Content-Type") == get->get_header_value("Content-Type"));
    }
    auto head_messages = proxy.client().Head("/v1/messages");
    REQUIRE(head_messages);
    CHECK(head_messages->status == 405);
    CHECK(head_messages->get_header_value("Allow") == "POST");
    auto post_health = proxy.client().Post("/health", "{}", "application/json");
    REQUIRE(post_health);
    CHECK(post_health->get_header_value("Allow") == "GET, HEAD");
}

TEST_CASE("routes: the 404 answer names the routes GET / lists", "[server][routes]") {
    auto up = ok_upstream();
    mock::running_proxy proxy(mock::test_config(up.url()));
    auto root = proxy.client().Get("/");
    auto missing = proxy.client().Post("/v1/complete", "{}", "application/json");
    REQUIRE(root);
    REQUIRE(missing);
    const std::string message = parse_error(missing->body).message;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE_FALSE(parser.parse(root->body).get(doc));
    simdjson::dom::array endpoints;
    REQUIRE_FALSE(doc["endpoints"].get_array().get(endpoints));
    CHECK(endpoints.size() == 6);  // messages, count_tokens, models, health, metrics, status
    for (auto endpoint : endpoints) {
        std::string_view name;
        REQUIRE_FALSE(endpoint.get_string().get(name));
        CHECK(message.find(std::string(name)) != std::string::npos);
    }
}

TEST_CASE("routes: inbound auth with SERVER_API_KEY", "[server][routes][auth]") {
    auto up = ok_upstream();
    auto cfg = mock::test_config(up.url());
    cfg.server_api_key = "local-proxy-secret-1234";
    mock::running_proxy proxy(cfg);
    const auto body = mock::messages_body(false);

    SECTION("Authorization: Bearer") {
        auto res = proxy.client().Post("/v1/messages", {{"Authorization", "Bearer local-proxy-secret-1234"}}, body,
                                       "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
    }
    SECTION("x-api-key") {
        auto res = proxy.client().Post("/v1/messages", {{"x-api-key", "local-proxy-secret-1234"}}, body, "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
    }
    SECTION("without a key") {
        auto res = proxy.client().Post("/v1/messages", body, "application/json");
        REQUIRE(res);
        CHECK(res->status == 401);
        CHECK(parse_error(res->body).type == "authentication_error");
        CHECK(up.requests().empty());
    }
    SECTION("with a wrong key") {
        auto res = proxy.client().Post("/v1/messages", {{"x-api-key", "local-proxy-secret-1235"}}, body, "application/json");
        REQUIRE(res);
        CHECK(res->status == 401);
        auto bearer = proxy.client().Post("/v1/messages", {{"Authorization", "Bearer local-proxy-secret"}}, body,
                                          "application/json");
        REQUIRE(bearer);
        CHECK(bearer->status == 401);
        CHECK(up.requests().empty());
        CHECK(proxy.log_text().find("local-proxy-secret-1234") == std::string::npos);
    }
    SECTION("the other /v1 routes need it too; /health and / do not") {
        auto models = proxy.client().Get("/v1/models");
        REQUIRE(models);
        CHECK(models->status == 401);
        auto count = proxy.client().Post("/v1/messages/count_tokens", body, "application/json");
        REQUIRE(count);
        CHECK(count->status == 401);
        auto health = proxy.client().Get("/health");
        REQUIRE(health);
        CHECK(health->status == 200);
    }
}

TEST_CASE("routes: a body over the limit is a 413 request_too_large", "[server][routes][limits]") {
    auto up = ok_upstream();
    auto cfg = mock::test_config(up.url());
    cfg.max_body_bytes = 64 * 1024;
    mock::running_proxy proxy(cfg);
    std::string big = mock::messages_body(false, "z-ai/glm4.7", 256, std::string(100 * 1024, 'a'));
    auto res = proxy.client().Post("/v1/messages", big, "application/json");
    REQUIRE(res);
    CHECK(res->status == 413);
    auto e = parse_error(res->body);
    CHECK(e.type == "request_too_large");
    CHECK(e.message.find("MAX_BODY_BYTES") != std::string::npos);
    CHECK(res->has_header("request-id"));
    CHECK(up.requests().empty());
    CHECK(proxy.wait_for_log("POST /v1/messages status=413"));

    // Just under the limit goes through.
    std::string fits = mock::messages_body(false, "z-ai/glm4.7", 256, std::string(60 * 1024, 'a'));
    auto ok = proxy.client().Post("/v1/messages", fits, "application/json");
    REQUIRE(ok);
    CHECK(ok->status == 200);
}

TEST_CASE("routes: images are not logged, keys never are", "[server][routes][logging]") {
    auto up = ok_upstream();
    auto cfg = mock::test_config(up.url(), {"nvapi-logging-test-key-0009"});
    cfg.log_body_max_chars = 100000;
    mock::running_proxy proxy(cfg);
    std::string image(5000, 'Q');
    std::string body = R"({"model":"z-ai/glm4.7","max_tokens":50,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":")" +
                       image + R"("}},{"type":"text","text":"what is this? nvapi-logging-test-key-0009"}]}]})";
    auto res = proxy.client().Post("/v1/messages", body, "application/json");
    REQUIRE(res);
    auto log = proxy.log_text();
    CHECK(log.find("<5000 base64 chars>") != std::string::npos);
    CHECK(log.find(image) == std::string::npos);
    CHECK(log.find("nvapi-logging-test-key-0009") == std::string::npos);
    CHECK(log.find("what is this?") != std::string::npos);
}

TEST_CASE("routes: a malformed HTTP request gets a 400 in Anthropic's shape", "[server][routes]") {
    auto up = ok_upstream();
    mock::running_proxy proxy(mock::test_config(up.url()));
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(proxy.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const std::string garbage = "THIS IS NOT HTTP\r\n\r\n";
    REQUIRE(::send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(garbage.size()));
    std::string answer;
    char buffer[4096];
    ssize_t n;
    while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) answer.append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
    CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(answer.find("request-id: req_") != std::string::npos);
    CHECK(answer.find(R"({"type":"error","error":{"type":"invalid_request_error")") != std::string::npos);
}
