// POST /v1/messages end to end: the proxy in-process, the mock as upstream.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <simdjson.h>

#include "http_types.hpp"
#include "support/mock_upstream.hpp"
#include "support/raw_client.hpp"

namespace {

simdjson::dom::element parse(simdjson::dom::parser& parser, const std::string& json) {
    simdjson::dom::element doc;
    REQUIRE_FALSE(parser.parse(json).get(doc));
    return doc;
}

std::string str(simdjson::dom::element e) {
    std::string_view s;
    if (e.get_string().get(s)) return "<not a string>";
    return std::string(s);
}

const char* tool_request = R"({"model":"z-ai/glm4.7","max_tokens":256,"messages":[{"role":"user","content":"weather in Paris?"}],
  "tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]})";

}  // namespace

TEST_CASE("messages: a text answer, not streamed", "[server][messages]") {
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("Hello there")); });
    mock::running_proxy proxy(mock::test_config(up.url(), {"nvapi-test-key-000000000001"}));

    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->get_header_value("Content-Type") == "application/json");
    CHECK(res->get_header_value("request-id").rfind("req_", 0) == 0);

    simdjson::dom::parser parser;
    auto doc = parse(parser, res->body);
    CHECK(str(doc["type"]) == "message");
    CHECK(str(doc["role"]) == "assistant");
    CHECK(str(doc["model"]) == "z-ai/glm4.7");
    CHECK(str(doc["content"].at(0)["type"]) == "text");
    CHECK(str(doc["content"].at(0)["text"]) == "Hello there");
    CHECK(str(doc["stop_reason"]) == "end_turn");
    CHECK(doc["usage"]["input_tokens"].get_uint64().value() == 11);
    CHECK(doc["usage"]["output_tokens"].get_uint64().value() == 7);

    SECTION("the upstream got an OpenAI request with the key as a Bearer token") {
        auto seen = up.requests();
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].path == "/v1/chat/completions");
        CHECK(seen[0].authorization == "Bearer nvapi-test-key-000000000001");
        auto body = parse(parser, seen[0].body);
        CHECK(str(body["model"]) == "z-ai/glm4.7");
        CHECK(str(body["messages"].at(0)["role"]) == "user");
    }
    SECTION("one summary line, no key in the log") {
        auto log = proxy.log_text();
        CHECK(log.find("stream=false status=200") != std::string::npos);
        CHECK(log.find("tokens_in=11 tokens_out=7") != std::string::npos);
        CHECK(log.find("nvapi-test-key-000000000001") == std::string::npos);
    }
}

TEST_CASE("messages: a text answer, streamed", "[server][messages][stream]") {
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::sse(mock::text_stream({"Hel", "lo"})); });
    mock::running_proxy proxy(mock::test_config(up.url()));

    // As the Anthropic SDK sends it: a compressed event stream would arrive in bursts.
    auto result = mock::post_stream(proxy.port(), "/v1/messages?beta=true", mock::messages_body(true), nullptr,
                                    {{"anthropic-version", "2023-06-01"}, {"anthropic-beta", "x"},
                                     {"Accept-Encoding", "gzip, deflate, br"}});
    CHECK(result.headers.count("Content-Encoding") == 0);
    CHECK(result.status == 200);
    CHECK(result.content_type.rfind("text/event-stream", 0) == 0);
    CHECK(result.headers.find("Cache-Control")->second == "no-cache");
    CHECK(result.headers.find("X-Accel-Buffering")->second == "no");
    CHECK(result.headers.count("request-id") == 1);

    auto names = mock::event_names(result.events);
    REQUIRE(names.size() >= 6);
    CHECK(names.front() == "message_start");
    CHECK(names.back() == "message_stop");
    std::string text;
    simdjson::dom::parser parser;
    for (const auto& e : result.events) {
        if (e.event != "content_block_delta") continue;
        auto doc = parse(parser, e.data);
        if (str(doc["delta"]["type"]) == "text_delta") text += str(doc["delta"]["text"]);
    }
    CHECK(text == "Hello");
    // The stream asked for SSE upstream, and no key means no Authorization header.
    auto seen = up.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].authorization.empty());
    CHECK(seen[0].accept == "text/event-stream");
    CHECK(proxy.log_text().find("text: Hello") != std::string::npos);
}

TEST_CASE("messages: tool calls come back as tool_use blocks", "[server][messages]") {
    SECTION("not streamed") {
        mock::upstream up([](const mock::recorded&, std::size_t) {
            return mock::json(200, R"({"id":"c","object":"chat.completion","created":1,"model":"z-ai/glm4.7","choices":[{"index":0,
              "message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
              "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],
              "usage":{"prompt_tokens":20,"completion_tokens":5,"total_tokens":25}})");
        });
        mock::running_proxy proxy(mock::test_config(up.url()));
        auto res = proxy.client().Post("/v1/messages", tool_request, "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
        simdjson::dom::parser parser;
        auto doc = parse(parser, res->body);
        CHECK(str(doc["stop_reason"]) == "tool_use");
        auto block = doc["content"].at(0);
        CHECK(str(block["type"]) == "tool_use");
        CHECK(str(block["name"]) == "get_weather");
        CHECK(str(block["input"]["city"]) == "Paris");
        // The tools went upstream in OpenAI's shape.
        auto sent = parse(parser, up.requests().at(0).body);
        CHECK(str(sent["tools"].at(0)["type"]) == "function");
        CHECK(str(sent["tools"].at(0)["function"]["name"]) == "get_weather");
    }
    SECTION("streamed") {
        mock::upstream up([](const mock::recorded&, std::size_t) {
            return mock::sse({mock::chunk(R"({"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]})"),
                              mock::chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]})"),
                              mock::chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]})"),
                              mock::chunk("{}", R"("tool_calls")"), mock::usage_chunk(), "data: [DONE]\n\n"});
        });
        mock::running_proxy proxy(mock::test_config(up.url()));
        std::string body = tool_request;
        body.insert(1, R"("stream":true,)");
        auto result = mock::post_stream(proxy.port(), "/v1/messages", body);
        CHECK(result.status == 200);
        simdjson::dom::parser parser;
        std::string args;
        bool saw_tool_start = false;
        std::string stop_reason;
        for (const auto& e : result.events) {
            auto doc = parse(parser, e.data);
            if (e.event == "content_block_start" && str(doc["content_block"]["type"]) == "tool_use") {
                saw_tool_start = true;
                CHECK(str(doc["content_block"]["name"]) == "get_weather");
            }
            if (e.event == "content_block_delta" && str(doc["delta"]["type"]) == "input_json_delta")
                args += str(doc["delta"]["partial_json"]);
            if (e.event == "message_delta") stop_reason = str(doc["delta"]["stop_reason"]);
        }
        CHECK(saw_tool_start);
        CHECK(args == R"({"city":"Paris"})");
        CHECK(stop_reason == "tool_use");
        CHECK(mock::event_names(result.events).back() == "message_stop");
    }
}

TEST_CASE("messages: reasoning comes back as thinking blocks", "[server][messages]") {
    mock::upstream up([](const mock::recorded&, std::size_t) {
        return mock::sse({mock::chunk(R"({"role":"assistant","reasoning_content":"Let me think."})"),
                          mock::chunk(R"({"content":"42"})"), mock::chunk("{}", R"("stop")"), mock::usage_chunk(),
                          "data: [DONE]\n\n"});
    });
    mock::running_proxy proxy(mock::test_config(up.url()));
    auto result = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
    CHECK(result.status == 200);
    simdjson::dom::parser parser;
    std::vector<std::string> block_types;
    std::string thinking, text;
    for (const auto& e : result.events) {
        auto doc = parse(parser, e.data);
        if (e.event == "content_block_start") block_types.push_back(str(doc["content_block"]["type"]));
        if (e.event == "content_block_delta") {
            auto type = str(doc["delta"]["type"]);
            if (type == "thinking_delta") thinking += str(doc["delta"]["thinking"]);
            if (type == "text_delta") text += str(doc["delta"]["text"]);
        }
    }
    REQUIRE(block_types.size() == 2);
    CHECK(block_types[0] == "thinking");
    CHECK(block_types[1] == "text");
    CHECK(thinking == "Let me think.");
    CHECK(text == "42");
}

TEST_CASE("messages: upstream errors become Anthropic errors with the right status", "[server][messages][errors]") {
    struct mapping {
        int upstream;
        int expected;
        const char* type;
    };
    for (auto m : {mapping{400, 400, "invalid_request_error"}, mapping{404, 404, "not_found_error"},
                   mapping{422, 400, "invalid_request_error"}, mapping{500, 500, "api_error"},
                   mapping{503, 529, "overloaded_error"}}) {
        DYNAMIC_SECTION("upstream " << m.upstream) {
            mock::upstream up([&](const mock::recorded&, std::size_t) {
                return mock::json(m.upstream, R"({"error":{"message":"upstream says no","type":"bad"}})");
            });
            mock::running_proxy proxy(mock::test_config(up.url()));
            for (bool stream : {false, true}) {
                auto res = proxy.client().Post("/v1/messages", mock::messages_body(stream), "application/json");
                REQUIRE(res);
                CHECK(res->status == m.expected);
                simdjson::dom::parser parser;
                auto doc = parse(parser, res->body);
                CHECK(str(doc["type"]) == "error");
                CHECK(str(doc["error"]["type"]) == m.type);
                CHECK(str(doc["error"]["message"]).find("upstream says no") != std::string::npos);
            }
            // 5xx is retried once; 4xx is not.
            CHECK(up.requests().size() == (m.upstream >= 500 ? 4u : 2u));
        }
    }
}

TEST_CASE("messages: invalid JSON is a 400 naming the problem, and nothing goes upstream", "[server][messages][errors]") {
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("x")); });
    mock::running_proxy proxy(mock::test_config(up.url()));
    for (const char* body : {"{not json", "", R"({"model":"m","max_tokens":10})", R"({"model":"m","messages":"hi","max_tokens":1})"}) {
        auto res = proxy.client().Post("/v1/messages", body, "application/json");
        REQUIRE(res);
        CHECK(res->status == 400);
        simdjson::dom::parser parser;
        auto doc = parse(parser, res->body);
        CHECK(str(doc["type"]) == "error");
        CHECK(str(doc["error"]["type"]) == "invalid_request_error");
        CHECK_FALSE(str(doc["error"]["message"]).empty());
    }
    CHECK(up.requests().empty());
}

TEST_CASE("messages: Claude Code's max_tokens:1 quota probe is answered locally", "[server][messages]") {
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("x")); });
    mock::running_proxy proxy(mock::test_config(up.url()));
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false, "claude-haiku-4-5", 1, "quota"),
                                   "application/json");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->get_header_value("x-proxy-local-answer") == "quota-probe");
    simdjson::dom::parser parser;
    auto doc = parse(parser, res->body);
    CHECK(str(doc["type"]) == "message");
    CHECK(str(doc["stop_reason"]) == "max_tokens");

    auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true, "claude-haiku-4-5", 1, "quota"));
    CHECK(streamed.status == 200);
    CHECK(mock::event_names(streamed.events).back() == "message_stop");
    CHECK(up.requests().empty());

    SECTION("max_tokens:1 with other content still goes upstream") {
        auto other = proxy.client().Post("/v1/messages", mock::messages_body(false, "z-ai/glm4.7", 1, "hello"),
                                         "application/json");
        REQUIRE(other);
        CHECK(other->status == 200);
        CHECK(up.requests().size() == 1);
    }
    SECTION("the option turns it off") {
        auto cfg = mock::test_config(up.url());
        cfg.answer_quota_probe = false;
        mock::running_proxy plain(cfg);
        auto sent = plain.client().Post("/v1/messages", mock::messages_body(false, "z-ai/glm4.7", 1, "quota"),
                                        "application/json");
        REQUIRE(sent);
        CHECK(up.requests().size() == 1);
    }
}

TEST_CASE("messages: an empty answer is asked for once more, then is an api_error", "[server][messages][empty]") {
    // NIM under load: reasoning, then no text and no tool call.
    const std::string thought_only = R"({"id":"c","object":"chat.completion","created":1,"model":"z-ai/glm4.7","choices":[{"index":0,
        "message":{"role":"assistant","content":null,"reasoning_content":"let me think"},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}})";
    simdjson::dom::parser parser;

    SECTION("empty once: the second answer goes to the client") {
        mock::upstream up([&](const mock::recorded&, std::size_t index) {
            return mock::json(200, index == 0 ? thought_only : mock::completion("Hello there"));
        });
        mock::running_proxy proxy(mock::test_config(up.url()));
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
        auto doc = parse(parser, res->body);
        CHECK(str(doc["content"].at(0)["text"]) == "Hello there");
        CHECK(up.requests().size() == 2);
        CHECK(proxy.log_text().find("the model returned an empty answer; asking once more") != std::string::npos);
    }
    SECTION("empty twice: an api_error that says so, and no third ask") {
        mock::upstream up([&](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("")); });
        mock::running_proxy proxy(mock::test_config(up.url()));
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 502);
        auto doc = parse(parser, res->body);
        CHECK(str(doc["error"]["type"]) == "api_error");
        CHECK(str(doc["error"]["message"]).find("empty answer") != std::string::npos);
        CHECK(up.requests().size() == 2);
    }
    SECTION("reasoning cut by max_tokens is an answer, not asked again") {
        std::string cut = thought_only;
        cut.replace(cut.find(R"("finish_reason":"stop")"), 22, R"("finish_reason":"length")");
        mock::upstream up([&](const mock::recorded&, std::size_t) { return mock::json(200, cut); });
        mock::running_proxy proxy(mock::test_config(up.url()));
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
        CHECK(str(parse(parser, res->body)["stop_reason"]) == "max_tokens");
        CHECK(up.requests().size() == 1);
    }
}

TEST_CASE("messages: what the conversion left out is told in x-proxy-warning headers, streamed or not",
          "[server][messages][warnings]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        if (r.body.find(R"("stream":true)") != std::string::npos) return mock::sse(mock::text_stream({"fine"}));
        return mock::json(200, mock::completion("fine"));
    });
    mock::running_proxy proxy(mock::test_config(up.url(), {"nvapi-test-key-000000000001"}));
    // A server tool whose name is not ASCII, and a top-level field with no upstream equivalent.
    auto body = [](bool stream) {
        return std::string(R"({"model":"z-ai/glm4.7","max_tokens":64,"stream":)") + (stream ? "true" : "false") +
               R"(,"container":"c-1","messages":[{"role":"user","content":"hi"}],)"
               R"("tools":[{"type":"web_search_20250305","name":"w\u00e9b"}]})";
    };
    // As sent: cpp-httplib's client would percent-decode the values it reads.
    auto head_of = [&](const std::string& request_body) {
        mock::raw_client c(proxy.port());
        REQUIRE(c.send("POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       "Connection: close\r\nContent-Length: " + std::to_string(request_body.size()) + "\r\n\r\n" +
                       request_body));
        bool closed = false;
        const std::string answer = c.read_until_closed(closed);
        CHECK(closed);
        return answer.substr(0, answer.find("\r\n\r\n") + 2);
    };
    auto check_warnings = [](const std::string& head) {
        INFO(head);
        CHECK(head.rfind("HTTP/1.1 200 ", 0) == 0);
        CHECK(head.find("\r\nx-proxy-warning: ignored (no upstream equivalent): container\r\n") != std::string::npos);
        CHECK(head.find("\r\nx-proxy-warning: tools: server tools left out (no upstream equivalent): w%C3%A9b\r\n") !=
              std::string::npos);
    };
    // /status lists them with the exchange, once it has finished.
    auto check_status_page = [&](const char* logged) {
        REQUIRE(proxy.wait_for_log(logged));
        auto page = proxy.client().Get("/status");
        REQUIRE(page);
        CHECK(page->body.find("tools: server tools left out (no upstream equivalent): w\xC3\xA9" "b; ignored (no "
                              "upstream equivalent): container") != std::string::npos);
    };
    SECTION("not streamed") {
        check_warnings(head_of(body(false)));
        check_status_page("stream=false status=200");
    }
    SECTION("streamed") {
        const std::string head = head_of(body(true));
        CHECK(head.find("text/event-stream") != std::string::npos);
        check_warnings(head);
        check_status_page("stream=true status=200");
    }
    SECTION("a request that loses nothing has none") {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
        CHECK_FALSE(res->has_header("x-proxy-warning"));
    }
}

TEST_CASE("messages: x-proxy-warning values are printable ASCII, bounded in size and number", "[server][warnings]") {
    SECTION("control bytes, '%' and UTF-8 are percent-encoded") {
        const auto headers = proxy::warning_headers({"a\r\nb: 100% \xE2\x9C\x93"});
        REQUIRE(headers.size() == 1);
        CHECK(headers[0].first == "x-proxy-warning");
        CHECK(headers[0].second == "a%0D%0Ab: 100%25 %E2%9C%93");
    }
    SECTION("a long warning is cut with '...'") {
        const auto headers = proxy::warning_headers({std::string(5000, '\xFF')});
        REQUIRE(headers.size() == 1);
        CHECK(headers[0].second.size() <= proxy::max_warning_header_chars);
        CHECK(headers[0].second.substr(headers[0].second.size() - 3) == "...");
    }
    SECTION("past the limit, one header says how many more the log has") {
        const auto headers = proxy::warning_headers(std::vector<std::string>(proxy::max_warning_headers + 5, "w"));
        REQUIRE(headers.size() == proxy::max_warning_headers + 1);
        CHECK(headers.back().second == "5 more in the proxy's log");
    }
}
