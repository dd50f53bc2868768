#include <catch2/catch.hpp>
#include <msgbridge/response.hpp>

#include <string>

#include "support/response_json_compare.hpp"
#include "support/response_test_util.hpp"

using namespace msgbridge;
using msgbridge_test::fixed_ids;
using msgbridge_test::read_test_file;
using msgbridge_test::response_context_for_tests;

namespace {

std::string convert_ok(const std::string& body, const response_context& context = response_context_for_tests()) {
    auto converted = convert_response(body, context, fixed_ids());
    if (!converted) FAIL("conversion failed: " << converted.error().message);
    return *converted;
}

std::string completion(const std::string& message_json, const std::string& finish = "stop",
                       const std::string& usage = R"({"prompt_tokens":10,"completion_tokens":5})") {
    return R"({"id":"c","object":"chat.completion","model":"up","choices":[{"index":0,"message":)" + message_json +
           R"(,"finish_reason":")" + finish + R"("}],"usage":)" + usage + "}";
}

}  // namespace

TEST_CASE("response: golden completions become the expected Anthropic messages", "[response][golden]") {
    response_context context = response_context_for_tests();
    for (const char* name : {"kimi_tools", "vllm_stop_sequence"}) {
        SECTION(name) {
            CHECK_JSON_EQ(convert_ok(read_test_file(std::string("response/") + name + ".openai.json"), context),
                          read_test_file(std::string("response/") + name + ".anthropic.json"));
        }
    }
    SECTION("think_tags") {
        context.think_tags_in_content = true;
        CHECK_JSON_EQ(convert_ok(read_test_file("response/think_tags.openai.json"), context),
                      read_test_file("response/think_tags.anthropic.json"));
    }
}

TEST_CASE("response: the message skeleton has id, type, role and the client's model", "[response]") {
    const std::string out = convert_ok(completion(R"({"role":"assistant","content":"Hi"})"));
    CHECK(out == R"({"id":"msg_test","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":5}})");
    SECTION("a generated id starts msg_ and differs per call") {
        auto first = convert_response(completion(R"({"content":"Hi"})"), response_context_for_tests());
        auto second = convert_response(completion(R"({"content":"Hi"})"), response_context_for_tests());
        REQUIRE(first.has_value());
        REQUIRE(second.has_value());
        CHECK(first->substr(0, 11) == R"({"id":"msg_)");
        CHECK(*first != *second);
    }
    SECTION("without a client model the upstream's is echoed") {
        response_context context;
        auto converted = convert_response(completion(R"({"content":"Hi"})"), context, fixed_ids());
        REQUIRE(converted.has_value());
        CHECK(converted->find(R"("model":"up")") != std::string::npos);
    }
}

TEST_CASE("response: finish_reason maps to stop_reason", "[response]") {
    const auto stop_of = [](const std::string& finish, const std::string& message = R"({"content":"x"})") {
        const std::string out = convert_ok(completion(message, finish));
        const auto at = out.find(R"("stop_reason":")");
        return out.substr(at + 15, out.find('"', at + 15) - at - 15);
    };
    CHECK(stop_of("stop") == "end_turn");
    CHECK(stop_of("length") == "max_tokens");
    CHECK(stop_of("tool_calls", R"({"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}}]})") == "tool_use");
    CHECK(stop_of("function_call", R"({"function_call":{"name":"f","arguments":"{}"}})") == "tool_use");
    CHECK(stop_of("content_filter") == "refusal");
    CHECK(stop_of("something_new") == "end_turn");
    SECTION("a stop answer that called tools is tool_use, so the client runs them") {
        CHECK(stop_of("stop", R"({"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}}]})") == "tool_use");
    }
    SECTION("vLLM's stop_reason is reported only when it is one of the client's stop sequences") {
        const std::string body = R"({"choices":[{"index":0,"message":{"content":"a"},"finish_reason":"stop","stop_reason":"nope"}]})";
        CHECK(convert_ok(body).find(R"("stop_reason":"end_turn","stop_sequence":null)") != std::string::npos);
        const std::string token_id = R"({"choices":[{"index":0,"message":{"content":"a"},"finish_reason":"stop","stop_reason":128001}]})";
        CHECK(convert_ok(token_id).find(R"("stop_reason":"end_turn","stop_sequence":null)") != std::string::npos);
    }
}

TEST_CASE("response: usage subtracts cached tokens and reports them as cache reads", "[response]") {
    const std::string out = convert_ok(completion(R"({"content":"x"})", "stop",
        R"({"prompt_tokens":100,"completion_tokens":40,"prompt_tokens_details":{"cached_tokens":64},"completion_tokens_details":{"reasoning_tokens":30}})"));
    CHECK(out.find(R"("usage":{"input_tokens":36,"cache_creation_input_tokens":0,"cache_read_input_tokens":64,"output_tokens":40})") != std::string::npos);
    SECTION("DeepSeek's prompt_cache_hit_tokens counts as cached") {
        const std::string deepseek = convert_ok(completion(R"({"content":"x"})", "stop",
            R"({"prompt_tokens":100,"completion_tokens":4,"prompt_cache_hit_tokens":80,"prompt_cache_miss_tokens":20})"));
        CHECK(deepseek.find(R"("input_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":80)") != std::string::npos);
    }
    SECTION("no usage from the upstream: estimates, never 0") {
        const std::string body = R"({"choices":[{"index":0,"message":{"content":"12345678"},"finish_reason":"stop"}]})";
        CHECK(convert_ok(body).find(R"("usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2})") != std::string::npos);
        response_context no_estimate = response_context_for_tests();
        no_estimate.estimated_input_tokens = 0;
        const std::string empty = R"({"choices":[{"index":0,"message":{"content":null},"finish_reason":"stop"}]})";
        CHECK(convert_ok(empty, no_estimate).find(R"("input_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1)") != std::string::npos);
    }
}

TEST_CASE("response: reasoning becomes a signed thinking block before the text", "[response]") {
    SECTION("reasoning_content") {
        CHECK_JSON_EQ(convert_ok(completion(R"({"content":"4","reasoning_content":"2+2"})")),
            R"({"id":"msg_test","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"thinking","thinking":"2+2","signature":"msgbridge.unsigned-thinking.v1"},{"type":"text","text":"4"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":5}})");
    }
    SECTION("reasoning (OpenRouter, newer vLLM)") {
        const std::string out = convert_ok(completion(R"({"reasoning":"hmm","content":"ok"})"));
        CHECK(out.find(R"({"type":"thinking","thinking":"hmm","signature":"msgbridge.unsigned-thinking.v1"},{"type":"text","text":"ok"})") != std::string::npos);
    }
    SECTION("both fields mirrored: one thinking block") {
        const std::string out = convert_ok(completion(R"({"reasoning":"same","reasoning_content":"same","content":"ok"})"));
        CHECK(out.find(R"("thinking":"same")") != std::string::npos);
        CHECK(out.find("same", out.find("same") + 5) == std::string::npos);
    }
}

TEST_CASE("response: never an empty or blank text block", "[response]") {
    CHECK(convert_ok(completion(R"({"content":""})")).find(R"("content":[])") != std::string::npos);
    CHECK(convert_ok(completion(R"({"content":null})")).find(R"("content":[])") != std::string::npos);
    CHECK(convert_ok(completion(R"({"content":"\n\n  "})")).find(R"("content":[])") != std::string::npos);
    const std::string with_tool = convert_ok(completion(
        R"({"content":"\n","tool_calls":[{"id":"t1","function":{"name":"f","arguments":"{}"}}]})", "tool_calls"));
    CHECK(with_tool.find(R"("content":[{"type":"tool_use","id":"t1","name":"f","input":{}}])") != std::string::npos);
    SECTION("content given as parts is joined") {
        CHECK(convert_ok(completion(R"({"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]})"))
                  .find(R"({"type":"text","text":"ab"})") != std::string::npos);
    }
    SECTION("a refusal is the text when there is no content") {
        CHECK(convert_ok(completion(R"({"content":null,"refusal":"I can't help with that."})", "content_filter"))
                  .find(R"({"type":"text","text":"I can't help with that."}],"stop_reason":"refusal")") != std::string::npos);
    }
}

TEST_CASE("response: tool calls keep upstream ids, get names mapped back, and parse arguments", "[response]") {
    SECTION("a missing id gets a generated toolu_ id") {
        const std::string out = convert_ok(completion(R"({"tool_calls":[{"type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]})", "tool_calls"));
        const auto at = out.find(R"("id":"toolu_)");
        REQUIRE(at != std::string::npos);
        CHECK(out.find('"', at + 6) - (at + 6) == 30);  // toolu_ + 24 characters
    }
    SECTION("arguments policy") {
        const auto input_of = [](const std::string& arguments_json) {
            const std::string out = convert_ok(completion(
                R"({"tool_calls":[{"id":"t","function":{"name":"f","arguments":)" + arguments_json + "}}]}", "tool_calls"));
            const auto at = out.find(R"("input":)");
            return out.substr(at + 8, out.find(R"(}],"stop_reason")") - at - 8);
        };
        CHECK(input_of(R"("")") == "{}");
        CHECK(input_of(R"("  ")") == "{}");
        CHECK(input_of(R"(null)") == "{}");
        CHECK(input_of(R"("{\"path\": \"/a\", \"n\": [1, 2]}")") == R"({"path": "/a", "n": [1, 2]})");
        CHECK(input_of(R"("\"{\\\"a\\\":1}\"")") == R"({"a":1})");                      // double-encoded
        CHECK(input_of(R"({"a":1})") == R"({"a":1})");                                  // an object, not a string
        CHECK(input_of(R"("{\"path\": \"/a")") == R"({"_raw_arguments":"{\"path\": \"/a"})");  // truncated
        CHECK(input_of(R"("[1,2]")") == R"({"_raw_arguments":"[1,2]"})");
        CHECK(input_of(R"("ls -la")") == R"({"_raw_arguments":"ls -la"})");
    }
}

TEST_CASE("response: inline think tags become thinking when the model profile says so", "[response][think]") {
    response_context context = response_context_for_tests();
    context.think_tags_in_content = true;
    const auto blocks = [&](const std::string& content_json) {
        const std::string out = convert_ok(completion(R"({"content":)" + content_json + "}"), context);
        const auto at = out.find(R"("content":)");
        return out.substr(at + 10, out.find(R"(,"stop_reason")") - at - 10);
    };
    CHECK(blocks(R"("<think>a</think>b")") ==
          R"([{"type":"thinking","thinking":"a","signature":"msgbridge.unsigned-thinking.v1"},{"type":"text","text":"b"}])");
    SECTION("opening tag left out (it was in the prompt template)") {
        CHECK(blocks(R"("a</think>\n\nb")") ==
              R"([{"type":"thinking","thinking":"a","signature":"msgbridge.unsigned-thinking.v1"},{"type":"text","text":"b"}])");
    }
    SECTION("no tags: an ordinary answer") {
        CHECK(blocks(R"("just text")") == R"([{"type":"text","text":"just text"}])");
    }
    SECTION("a thought cut off by max_tokens stays thinking") {
        CHECK(blocks(R"("<think>still thinking")") ==
              R"([{"type":"thinking","thinking":"still thinking","signature":"msgbridge.unsigned-thinking.v1"}])");
    }
    SECTION("a tag later in the answer is text") {
        CHECK(blocks(R"("use <think> tags")") == R"([{"type":"text","text":"use <think> tags"}])");
    }
    SECTION("empty thought: no thinking block") {
        CHECK(blocks(R"("<think>\n\n</think>\n\nhi")") == R"([{"type":"text","text":"hi"}])");
    }
    SECTION("off by default") {
        const std::string out = convert_ok(completion(R"({"content":"<think>a</think>b"})"));
        CHECK(out.find(R"({"type":"text","text":"<think>a</think>b"})") != std::string::npos);
    }
}

TEST_CASE("response: errors in the body and malformed completions", "[response][errors]") {
    SECTION("an error body becomes the Anthropic error") {
        auto converted = convert_response(R"({"error":{"message":"busy","type":"server_overloaded","code":503}})", response_context_for_tests());
        REQUIRE_FALSE(converted.has_value());
        CHECK(converted.error().type == error_type::overloaded_error);
        CHECK(converted.error().message == "busy");
    }
    SECTION("not JSON") {
        auto converted = convert_response("<html>", response_context_for_tests());
        REQUIRE_FALSE(converted.has_value());
        CHECK(converted.error().type == error_type::api_error);
        CHECK(converted.error().message.find("not valid JSON") != std::string::npos);
    }
    SECTION("no choices") {
        auto converted = convert_response(R"({"id":"x","choices":[]})", response_context_for_tests());
        REQUIRE_FALSE(converted.has_value());
        CHECK(converted.error().message == "upstream response: choices.0: required");
    }
}

TEST_CASE("response: upstream error answers map to Anthropic errors", "[response][errors]") {
    const auto check = [](int status, const std::string& body, error_type type, const std::string& message) {
        const error converted = convert_upstream_error(status, body);
        INFO(status << " " << body);
        CHECK(converted.type == type);
        CHECK(converted.http_status == http_status_of(type));
        CHECK(converted.message == message);
    };
    check(400, R"({"error":{"message":"bad field","type":"invalid_request_error"}})", error_type::invalid_request_error, "bad field");
    check(401, R"({"error":"Unauthorized"})", error_type::authentication_error, "Unauthorized");
    check(403, R"({"status":403,"title":"Forbidden","detail":"no access"})", error_type::permission_error, "Forbidden: no access");
    check(404, R"({"detail":"Function not found"})", error_type::not_found_error, "Function not found");
    check(413, "too big", error_type::request_too_large, "too big");
    check(429, R"({"error":{"message":"Rate limit"}})", error_type::rate_limit_error, "Rate limit");
    check(500, "", error_type::api_error, "upstream returned HTTP 500");
    check(502, "<html><body>Bad Gateway</body></html>", error_type::api_error, "<html><body>Bad Gateway</body></html>");
    check(503, R"({"error":{"message":"overloaded"}})", error_type::overloaded_error, "overloaded");
    check(529, "{}", error_type::overloaded_error, "upstream returned HTTP 529");
    SECTION("context overflow becomes 'prompt is too long' so Claude Code compacts") {
        check(400, R"({"object":"error","message":"This model's maximum context length is 131072 tokens. However, you requested 140000 tokens.","type":"BadRequestError","param":null,"code":400})",
              error_type::invalid_request_error,
              "prompt is too long: This model's maximum context length is 131072 tokens. However, you requested 140000 tokens.");
        check(400, R"({"error":{"message":"too long","code":"context_length_exceeded"}})", error_type::invalid_request_error,
              "prompt is too long: too long");
        check(413, R"({"error":{"message":"Input length exceeds the context window"}})", error_type::invalid_request_error,
              "prompt is too long: Input length exceeds the context window");
    }
    SECTION("API keys echoed by the upstream are redacted") {
        const error converted = convert_upstream_error(401, R"({"error":{"message":"Invalid key nvapi-AbCdEf0123456789xyz for Bearer sk-proj-abcdefghijklmnop"}})");
        CHECK(converted.message == "Invalid key nvapi-*** for Bearer ***");
        CHECK(converted.message.find("AbCdEf") == std::string::npos);
    }
    SECTION("invalid UTF-8 in the body is replaced, so the error JSON stays valid") {
        const error converted = convert_upstream_error(500, "bad \xff byte");
        CHECK(converted.message == "bad \xEF\xBF\xBD byte");
    }
}
