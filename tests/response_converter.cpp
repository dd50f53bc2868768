#include <catch2/catch.hpp>
#include <msgbridge/response.hpp>

#include <string>

#include "support/response_json_compare.hpp"
#include "support/response_test_util.hpp"

using namespace msgbridge;
using msgbridge_test::fixed_ids;
using msgbridge_test::read_test_file;

namespace {

response_context golden_context(bool think_tags) {
    response_context context = msgbridge_test::response_context_for_tests();
    context.think_tags_in_content = think_tags;
    return context;
}

std::string completion(const std::string& message_json, const std::string& finish, const std::string& usage) {
    std::string body = R"({"id":"c","object":"chat.completion","model":"up","choices":[{"index":0,"message":)" +
                       message_json + R"(,"finish_reason":")" + finish + R"("}])";
    if (!usage.empty()) body += R"(,"usage":)" + usage;
    return body + "}";
}

converted_response convert_ok(response_converter& converter, const std::string& body,
                              const response_context& context = golden_context(false)) {
    auto converted = converter.convert(body, context);
    if (!converted) FAIL("conversion failed: " << converted.error().message);
    return std::move(converted).value();
}

}  // namespace

TEST_CASE("response: a reused converter writes what convert_response writes", "[response][converter]") {
    response_converter converter(fixed_ids());
    // Twice over every golden pair, so each conversion follows a different one.
    for (int round = 0; round < 2; ++round) {
        for (const char* name : {"kimi_tools", "think_tags", "vllm_stop_sequence"}) {
            INFO(name << ", round " << round);
            const std::string body = read_test_file(std::string("response/") + name + ".openai.json");
            const response_context context = golden_context(std::string(name) == "think_tags");
            auto expected = convert_response(body, context, fixed_ids());
            REQUIRE(expected.has_value());
            CHECK(convert_ok(converter, body, context).body == *expected);
        }
    }
    SECTION("parsed in place when the caller's buffer has room past the end") {
        std::string body = read_test_file("response/kimi_tools.openai.json");
        body.reserve(body.size() + 64);
        auto in_place = converter.convert(body, golden_context(false), body.capacity());
        REQUIRE(in_place.has_value());
        CHECK(in_place->body == *convert_response(body, golden_context(false), fixed_ids()));
    }
    SECTION("double-encoded arguments of several tool calls each become their own object") {
        const std::string body = completion(
            R"({"tool_calls":[{"id":"a","function":{"name":"f","arguments":"\"{\\\"n\\\":1}\""}},)"
            R"({"id":"b","function":{"name":"g","arguments":"\"{\\\"n\\\":22}\""}}]})",
            "tool_calls", "");
        const std::string out = convert_ok(converter, body).body;
        CHECK(out.find(R"("id":"a","name":"f","input":{"n":1})") != std::string::npos);
        CHECK(out.find(R"("id":"b","name":"g","input":{"n":22})") != std::string::npos);
    }
}

TEST_CASE("response: the converter reports the usage and stop_reason it wrote", "[response][converter]") {
    response_converter converter(fixed_ids());
    SECTION("the upstream's usage, cached tokens apart") {
        const auto out = convert_ok(converter, completion(R"({"content":"x"})", "stop",
            R"({"prompt_tokens":100,"completion_tokens":40,"prompt_tokens_details":{"cached_tokens":64}})"));
        CHECK(out.input_tokens == 36);
        CHECK(out.cache_read_input_tokens == 64);
        CHECK(out.output_tokens == 40);
        CHECK(out.stop_reason == "end_turn");
        CHECK(out.body.find(R"("usage":{"input_tokens":36,"cache_creation_input_tokens":0,"cache_read_input_tokens":64,"output_tokens":40})") != std::string::npos);
    }
    SECTION("no usage from the upstream: the estimates the body carries") {
        const auto out = convert_ok(converter, completion(R"({"content":"12345678"})", "length", ""));
        CHECK(out.input_tokens == 25);
        CHECK(out.cache_read_input_tokens == 0);
        CHECK(out.output_tokens == 2);
        CHECK(out.stop_reason == "max_tokens");
    }
    SECTION("tool calls and stop sequences") {
        CHECK(convert_ok(converter, completion(R"({"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}}]})",
                                               "tool_calls", "")).stop_reason == "tool_use");
        const std::string stopped =
            R"({"choices":[{"index":0,"message":{"content":"a"},"finish_reason":"stop","stop_reason":"END"}]})";
        CHECK(convert_ok(converter, stopped).stop_reason == "stop_sequence");
    }
    SECTION("the numbers do not carry over from the previous response") {
        (void)convert_ok(converter, completion(R"({"content":"x"})", "stop",
                                               R"({"prompt_tokens":9,"completion_tokens":9,"prompt_cache_hit_tokens":5})"));
        const auto out = convert_ok(converter, completion(R"({"content":"x"})", "stop", ""));
        CHECK(out.cache_read_input_tokens == 0);
        CHECK(out.input_tokens == 25);
    }
}

TEST_CASE("response: converter errors are values and leave it usable", "[response][converter][errors]") {
    response_converter converter(fixed_ids());
    SECTION("not JSON") {
        auto out = converter.convert("<html>bad gateway</html>", golden_context(false));
        REQUIRE_FALSE(out.has_value());
        CHECK(out.error().type == error_type::api_error);
        CHECK(out.error().message.rfind("upstream response is not valid JSON: ", 0) == 0);
    }
    SECTION("an error body becomes that error") {
        auto out = converter.convert(R"({"error":{"message":"slow down","type":"rate_limit_error"}})",
                                     golden_context(false));
        REQUIRE_FALSE(out.has_value());
        CHECK(out.error().type == error_type::rate_limit_error);
        CHECK(out.error().message.find("slow down") != std::string::npos);
    }
    SECTION("no choice") {
        auto out = converter.convert(R"({"id":"c","choices":[]})", golden_context(false));
        REQUIRE_FALSE(out.has_value());
        CHECK(out.error().message == "upstream response: choices.0: required");
    }
    const std::string body = completion(R"({"content":"after"})", "stop", R"({"prompt_tokens":3,"completion_tokens":1})");
    CHECK(convert_ok(converter, body).body == *convert_response(body, golden_context(false), fixed_ids()));
}
