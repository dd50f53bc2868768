// config.json `upstream_headers`: extra headers on every upstream request, for
// providers that want one more (an organisation, a project, a gateway route).
#include <catch2/catch.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "config.hpp"
#include "support/mock_upstream.hpp"

namespace {

std::string config_error_of(const std::string& json) {
    proxy::config cfg;
    try {
        proxy::apply_config_json(json, "config.json", cfg);
    } catch (const proxy::config_error& e) {
        return e.what();
    }
    return "no error";
}

std::string header_of(const mock::recorded& request, std::string_view name) {
    for (const auto& [key, value] : request.headers)
        if (key.size() == name.size() &&
            std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
            return value;
    return "<absent>";
}

}  // namespace

TEST_CASE("upstream headers: config.json upstream_headers is read and checked", "[server][config]") {
    SECTION("names and values as given, in order") {
        proxy::config cfg;
        proxy::apply_config_json(R"({"upstream_headers":{"OpenAI-Organization":"org-1","X-Route":"a b\tc"}})",
                                 "config.json", cfg);
        REQUIRE(cfg.upstream_headers.size() == 2);
        CHECK(cfg.upstream_headers[0] == std::pair<std::string, std::string>{"OpenAI-Organization", "org-1"});
        CHECK(cfg.upstream_headers[1] == std::pair<std::string, std::string>{"X-Route", "a b\tc"});
    }
    SECTION("a header the proxy writes itself is refused, in any case") {
        for (const char* name : {"Authorization", "content-type", "HOST", "Content-Length", "Transfer-Encoding",
                                 "Accept", "Accept-Encoding", "Connection"}) {
            const std::string message = config_error_of(std::string(R"({"upstream_headers":{")") + name + R"(":"x"}})");
            CHECK(message.find(std::string("upstream_headers.") + name) != std::string::npos);
            CHECK(message.find("set by the proxy") != std::string::npos);
        }
    }
    SECTION("a value that could add a header or end the request is refused, and never echoed") {
        const std::string message = config_error_of(R"({"upstream_headers":{"X-A":"secret-value\r\nX-Injected: 1"}})");
        CHECK(message.find("upstream_headers.X-A") != std::string::npos);
        CHECK(message.find("control character") != std::string::npos);
        CHECK(message.find("secret-value") == std::string::npos);
    }
    SECTION("malformed names, duplicates and wrong types are refused with the field's name") {
        CHECK(config_error_of(R"({"upstream_headers":{"X Bad":"v"}})").find("not a valid HTTP header name") != std::string::npos);
        CHECK(config_error_of(R"({"upstream_headers":{"":"v"}})").find("not a valid HTTP header name") != std::string::npos);
        CHECK(config_error_of(R"({"upstream_headers":{"X-A":"1","x-a":"2"}})").find("given twice") != std::string::npos);
        CHECK(config_error_of(R"({"upstream_headers":{"X-A":1}})").find("upstream_headers.X-A") != std::string::npos);
        CHECK(config_error_of(R"({"upstream_headers":["X-A: 1"]})").find("upstream_headers: expected an object") != std::string::npos);
    }
}

TEST_CASE("upstream headers: sent on every upstream request, streamed or not, next to the proxy's own",
          "[server][messages]") {
    mock::upstream up([](const mock::recorded& request, std::size_t) {
        return request.body.find("\"stream\":true") != std::string::npos ? mock::sse(mock::text_stream({"hi"}))
                                                                           : mock::json(200, mock::completion("hi"));
    });
    proxy::config cfg = mock::test_config(up.url(), {"nvapi-test-key-000000000001"});
    proxy::apply_config_json(R"({"upstream_headers":{"OpenAI-Organization":"org-123","OpenAI-Project":"proj-9"}})",
                             "config.json", cfg);
    mock::running_proxy proxy(cfg);

    auto plain = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(plain);
    CHECK(plain->status == 200);
    auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
    CHECK(streamed.status == 200);
    CHECK(streamed.raw.find("event: message_stop") != std::string::npos);

    const auto requests = up.requests();
    REQUIRE(requests.size() == 2);
    for (const auto& request : requests) {
        CHECK(header_of(request, "OpenAI-Organization") == "org-123");
        CHECK(header_of(request, "OpenAI-Project") == "proj-9");
        CHECK(request.authorization == "Bearer nvapi-test-key-000000000001");
        CHECK(header_of(request, "Content-Type") == "application/json");
    }
}
