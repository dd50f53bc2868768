#include <catch2/catch.hpp>
#include <msgbridge/response.hpp>
#include <msgbridge/stream.hpp>

#include <algorithm>
#include <string>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "support/anthropic_stream_accumulator.hpp"
#include "support/response_json_compare.hpp"
#include "support/stream_test_util.hpp"

using namespace msgbridge_test;

namespace {

std::string json_string(const std::string& text) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
    return buffer.GetString();
}

msgbridge::response_context think_context() {
    auto context = test_context();
    context.think_tags_in_content = true;
    return context;
}

// The content blocks of the streamed message when `content` arrives in
// chunks of `size` bytes.
std::string streamed_blocks(const std::string& content, std::size_t size, const std::string& tail = {}) {
    std::string upstream;
    for (std::size_t at = 0; at < content.size();) {
        // Upstream JSON is valid UTF-8: a chunk never splits a character.
        std::size_t length = std::min(size, content.size() - at);
        while (at + length < content.size() && (static_cast<unsigned char>(content[at + length]) & 0xC0) == 0x80) ++length;
        upstream += chunk_with_delta(R"({"content":)" + json_string(content.substr(at, length)) + "}");
        at += length;
    }
    upstream += tail + chunk_with_delta("{}", "stop") + usage_chunk(10, 5) + done_event();
    const auto accumulated = accumulate_anthropic_stream(run_stream(upstream, think_context()));
    INFO(accumulated.violation);
    REQUIRE(accumulated.legal());
    REQUIRE(accumulated.complete);
    const std::string& message = accumulated.message_json;
    const auto at = message.find(R"("content":)");
    return message.substr(at + 10, message.find(R"(,"stop_reason")") - at - 10);
}

std::string completion_blocks(const std::string& content) {
    msgbridge::response_options options;
    options.message_id = "msg_test";
    const auto converted = msgbridge::convert_response(
        R"({"choices":[{"index":0,"message":{"content":)" + json_string(content) +
            R"(},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5}})",
        think_context(), options);
    REQUIRE(converted.has_value());
    const auto at = converted->find(R"("content":)");
    return converted->substr(at + 10, converted->find(R"(,"stop_reason")") - at - 10);
}

}  // namespace

TEST_CASE("stream: inline <think> tags work when a tag is split across chunks", "[stream][think]") {
    const std::string thinking_then_text =
        R"([{"type":"thinking","thinking":"plan: a < b </ c","signature":"msgbridge.unsigned-thinking.v1"},{"type":"text","text":"Answer <b>."}])";
    for (const std::string& content : {std::string("<think>plan: a < b </ c</think>\n\nAnswer <b>."),
                                      std::string("\n<think>plan: a < b </ c</think>Answer <b>."),
                                      std::string("plan: a < b </ c</think>\nAnswer <b>.")}) {
        CHECK(completion_blocks(content) == thinking_then_text);
        for (std::size_t size = 1; size <= content.size(); ++size) {
            INFO("content " << content << " in chunks of " << size);
            REQUIRE(streamed_blocks(content, size) == thinking_then_text);
        }
    }
}

TEST_CASE("stream: think-tag edge cases classify as the non-streaming converter does", "[stream][think]") {
    for (const std::string& content : {std::string("no tags at all"), std::string("<think>cut off by max_tokens"),
                                      std::string("<thin"), std::string("  "), std::string("<think></think>only text"),
                                      std::string("text mentioning <think> later"), std::string("a</think>"),
                                      std::string("<think>x</think>y</think>z"), std::string("<think>\xC3\xA9\xE2\x82\xAC</think>\xF0\x9F\x98\x80")}) {
        const std::string expected = completion_blocks(content);
        for (std::size_t size = 1; size <= content.size(); ++size) {
            INFO("content " << content << " in chunks of " << size);
            REQUIRE(streamed_blocks(content, size) == expected);
        }
    }
    CHECK(completion_blocks("no tags at all") == R"([{"type":"text","text":"no tags at all"}])");
    CHECK(completion_blocks("<think>x</think>y</think>z") ==
          R"([{"type":"thinking","thinking":"x","signature":"msgbridge.unsigned-thinking.v1"},{"type":"text","text":"y</think>z"}])");
}

TEST_CASE("stream: text held while waiting for </think> is released before a tool call", "[stream][think]") {
    const std::string tool = chunk_with_delta(R"({"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]})");
    CHECK(streamed_blocks("Let me look.", 3, tool) ==
          R"([{"type":"text","text":"Let me look."},{"type":"tool_use","id":"c","name":"f","input":{}}])");
    CHECK(streamed_blocks("<think>need f</think>", 4, tool) ==
          R"([{"type":"thinking","thinking":"need f","signature":"msgbridge.unsigned-thinking.v1"},{"type":"tool_use","id":"c","name":"f","input":{}}])");
}

TEST_CASE("stream: with reasoning in its own field, tags in content are plain text", "[stream][think]") {
    const std::string upstream = chunk_with_delta(R"({"reasoning_content":"r"})") + chunk_with_delta(R"({"content":"<think>x</think>y"})") +
                                 chunk_with_delta("{}", "stop") + done_event();
    const auto accumulated = accumulate_anthropic_stream(run_stream(upstream, think_context()));
    REQUIRE(accumulated.legal());
    CHECK(accumulated.message_json.find(R"({"type":"text","text":"<think>x</think>y"})") != std::string::npos);
}
