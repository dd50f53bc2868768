#include <catch2/catch.hpp>
#include <msgbridge/stream.hpp>

#include <cstdlib>
#include <fstream>
#include <string>

#include "support/anthropic_stream_accumulator.hpp"
#include "support/response_json_compare.hpp"
#include "support/stream_test_util.hpp"

using namespace msgbridge_test;

namespace {

// Golden event files are exact bytes. MSGBRIDGE_UPDATE_GOLDEN=1 rewrites
// them (review the diff before committing).
void check_golden(const std::string& name, const msgbridge::response_context& context) {
    const std::string upstream = read_test_file("stream/" + name + ".sse");
    const std::string out = run_stream(upstream, context);
    if (std::getenv("MSGBRIDGE_UPDATE_GOLDEN") != nullptr) {
        std::ofstream(std::string(MSGBRIDGE_TEST_DATA_DIR) + "/stream/" + name + ".events", std::ios::binary) << out;
    }
    CHECK(out == read_test_file("stream/" + name + ".events"));
    const auto accumulated = accumulate_anthropic_stream(out);
    INFO(accumulated.violation);
    CHECK(accumulated.legal());
}

}  // namespace

TEST_CASE("stream: golden streams produce exactly the expected events", "[stream][golden]") {
    SECTION("Kimi: reasoning, text, two tool calls, usage after finish_reason") {
        auto context = test_context();
        check_golden("kimi_reasoning_tools", context);
    }
    SECTION("text over CRLF framing with a comment, no usage") {
        check_golden("text_crlf_no_usage", test_context());
    }
    SECTION("cut off inside a tool call's arguments: blocks closed, then an error") {
        check_golden("truncated_mid_tool", test_context());
    }
}

TEST_CASE("stream: a text answer is message_start, ping, one text block, message_delta, message_stop", "[stream]") {
    const std::string upstream = chunk_with_delta(R"({"role":"assistant","content":"Hi"})") +
                                 chunk_with_delta(R"({"content":" there"})") + chunk_with_delta("{}", "stop") +
                                 usage_chunk(30, 2) + done_event();
    const std::string out = run_stream(upstream, test_context());
    CHECK(out ==
          "event: message_start\n"
          R"(data: {"type":"message_start","message":{"id":"msg_test","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}})"
          "\n\n"
          "event: ping\ndata: {\"type\":\"ping\"}\n\n"
          "event: content_block_start\n"
          R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
          "\n\n"
          "event: content_block_delta\n"
          R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})"
          "\n\n"
          "event: content_block_delta\n"
          R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}})"
          "\n\n"
          "event: content_block_stop\n"
          R"(data: {"type":"content_block_stop","index":0})"
          "\n\n"
          "event: message_delta\n"
          R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":30,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}})"
          "\n\n"
          "event: message_stop\n"
          R"(data: {"type":"message_stop"})"
          "\n\n");
}

TEST_CASE("stream: the first feed writes message_start even before upstream data", "[stream]") {
    msgbridge::stream_converter converter(test_context(), test_stream_options());
    std::string out;
    converter.feed({}, out);
    CHECK(out.rfind("event: message_start\n", 0) == 0);
    CHECK(out.find("event: ping\n") != std::string::npos);
    CHECK_FALSE(converter.done());
    SECTION("without ping when asked") {
        auto options = test_stream_options();
        options.ping_after_start = false;
        msgbridge::stream_converter quiet(test_context(), options);
        std::string quiet_out;
        quiet.feed({}, quiet_out);
        CHECK(quiet_out.find("ping") == std::string::npos);
    }
}

TEST_CASE("stream: a chunk carrying reasoning, text, a tool call and finish_reason is taken apart in Anthropic order", "[stream]") {
    const std::string upstream =
        chunk_with_delta(R"({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"ls","arguments":"{}"}}],"content":"Listing.","reasoning_content":"Need ls."})",
                         "tool_calls") +
        done_event();
    const auto accumulated = accumulate_anthropic_stream(run_stream(upstream, test_context()));
    INFO(accumulated.violation);
    REQUIRE(accumulated.legal());
    CHECK(accumulated.events == std::vector<std::string>{
        "message_start", "ping",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",  // thinking + signature
        "content_block_start", "content_block_delta", "content_block_stop",                         // text
        "content_block_start", "content_block_delta", "content_block_stop",                         // tool_use
        "message_delta", "message_stop"});
    CHECK_JSON_EQ(accumulated.message_json,
        R"({"id":"msg_test","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[
            {"type":"thinking","thinking":"Need ls.","signature":"msgbridge.unsigned-thinking.v1"},
            {"type":"text","text":"Listing."},
            {"type":"tool_use","id":"call_1","name":"ls","input":{}}],
           "stop_reason":"tool_use","stop_sequence":null,
           "usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":5}})");
}

TEST_CASE("stream: text or reasoning after a tool call gets its own new block", "[stream]") {
    const std::string upstream =
        chunk_with_delta(R"({"content":"a"})") +
        chunk_with_delta(R"({"tool_calls":[{"index":0,"id":"t0","function":{"name":"f","arguments":"{\"x\":1}"}}]})") +
        chunk_with_delta(R"({"content":"b"})") + chunk_with_delta(R"({"reasoning_content":"c"})") +
        chunk_with_delta(R"({"content":"d"})") + chunk_with_delta("{}", "stop") + done_event();
    const auto accumulated = accumulate_anthropic_stream(run_stream(upstream, test_context()));
    INFO(accumulated.violation);
    REQUIRE(accumulated.legal());
    CHECK_JSON_EQ(accumulated.message_json,
        R"({"id":"msg_test","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[
            {"type":"text","text":"a"},
            {"type":"tool_use","id":"t0","name":"f","input":{"x":1}},
            {"type":"text","text":"b"},
            {"type":"thinking","thinking":"c","signature":"msgbridge.unsigned-thinking.v1"},
            {"type":"text","text":"d"}],
           "stop_reason":"tool_use","stop_sequence":null,
           "usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}})");
}

TEST_CASE("stream: usage comes from the final usage chunk, cached tokens reported as cache reads", "[stream]") {
    msgbridge::stream_converter converter(test_context(), test_stream_options());
    std::string out;
    converter.feed(chunk_with_delta(R"({"content":"x"})") + chunk_with_delta("{}", "stop"), out);
    CHECK(out.find("message_delta") == std::string::npos);  // waits for the usage chunk
    CHECK(out.find("content_block_stop") != std::string::npos);
    converter.feed(usage_chunk(1000, 12, 800), out);
    CHECK(converter.input_tokens() == 200);
    CHECK(converter.output_tokens() == 12);
    converter.feed(done_event(), out);
    CHECK(converter.done());
    CHECK(out.find(R"("usage":{"input_tokens":200,"cache_creation_input_tokens":0,"cache_read_input_tokens":800,"output_tokens":12})") !=
          std::string::npos);
    CHECK(converter.stop_reason() == "end_turn");
    CHECK(converter.text_preview() == "x");
}

TEST_CASE("stream: without upstream usage, message_delta still carries estimates, never 0", "[stream]") {
    auto context = test_context();
    context.estimated_input_tokens = 0;
    const std::string out =
        run_stream(chunk_with_delta(R"({"content":"0123456789"})") + chunk_with_delta("{}", "stop") + done_event(), context);
    CHECK(out.find(R"("input_tokens":1,)") != std::string::npos);
    CHECK(out.find(R"("usage":{"input_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}})") !=
          std::string::npos);
}

TEST_CASE("stream: finish_reason maps to stop_reason, stop sequences included", "[stream]") {
    auto context = test_context();
    context.stop_sequences = {"STOP"};
    const auto stop_of = [&](const std::string& choice_tail) {
        const std::string upstream =
            chunk_with_delta(R"({"content":"x"})") +
            sse(R"({"choices":[{"index":0,"delta":{},)" + choice_tail + "}]}") + done_event();
        const auto accumulated = accumulate_anthropic_stream(run_stream(upstream, context));
        INFO(accumulated.violation);
        REQUIRE(accumulated.legal());
        rapidjson::Document message;
        parse_json(message, accumulated.message_json);
        std::string stop = message["stop_reason"].GetString();
        if (message["stop_sequence"].IsString()) stop += std::string("/") + message["stop_sequence"].GetString();
        return stop;
    };
    CHECK(stop_of(R"("finish_reason":"stop")") == "end_turn");
    CHECK(stop_of(R"("finish_reason":"length")") == "max_tokens");
    CHECK(stop_of(R"("finish_reason":"content_filter")") == "refusal");
    CHECK(stop_of(R"("finish_reason":"stop","stop_reason":"STOP")") == "stop_sequence/STOP");
    CHECK(stop_of(R"("finish_reason":"stop","stop_reason":"other")") == "end_turn");
    CHECK(stop_of(R"("finish_reason":"stop","stop_reason":128009)") == "end_turn");
}

TEST_CASE("stream: tool names shortened upstream are mapped back, missing ids generated", "[stream]") {
    auto context = test_context();
    context.tool_names = {{"mcp_short_1", "mcp__a_very_long_server_name__a_very_long_tool_name"}};
    const std::string upstream =
        chunk_with_delta(R"({"tool_calls":[{"index":0,"type":"function","function":{"name":"mcp_short_1","arguments":"{}"}}]})", "tool_calls") +
        done_event();
    const auto accumulated = accumulate_anthropic_stream(run_stream(upstream, context));
    INFO(accumulated.violation);
    REQUIRE(accumulated.legal());
    CHECK(accumulated.message_json.find(R"("name":"mcp__a_very_long_server_name__a_very_long_tool_name")") != std::string::npos);
    CHECK(accumulated.message_json.find(R"("id":"toolu_)") != std::string::npos);
}

TEST_CASE("stream: never a blank text block; leading whitespace waits for real text", "[stream]") {
    const std::string upstream = chunk_with_delta(R"({"content":"\n\n"})") + chunk_with_delta(R"({"content":""})") +
                                 chunk_with_delta(R"({"content":"Hi"})") + chunk_with_delta(R"({"content":"\n"})") +
                                 chunk_with_delta("{}", "stop") + done_event();
    const auto accumulated = accumulate_anthropic_stream(run_stream(upstream, test_context()));
    INFO(accumulated.violation);
    REQUIRE(accumulated.legal());
    CHECK(accumulated.message_json.find(R"("content":[{"type":"text","text":"\n\nHi\n"}])") != std::string::npos);
    SECTION("whitespace only: no block at all") {
        const auto blank = accumulate_anthropic_stream(
            run_stream(chunk_with_delta(R"({"content":"  \n"})") + chunk_with_delta("{}", "stop") + done_event(), test_context()));
        REQUIRE(blank.legal());
        CHECK(blank.message_json.find(R"("content":[])") != std::string::npos);
    }
}

TEST_CASE("stream: accessors for logs — message id, stop reason, text preview cut at a character boundary", "[stream]") {
    auto options = test_stream_options();
    options.text_preview_bytes = 6;
    msgbridge::stream_converter converter(test_context(), options);
    CHECK(converter.message_id() == "msg_test");
    CHECK(converter.stop_reason().empty());
    std::string out;
    converter.feed(chunk_with_delta(R"({"reasoning_content":"not in the preview"})") + chunk_with_delta(R"({"content":"abcd\u00e9\u00e9"})") +
                       chunk_with_delta("{}", "length") + done_event(),
                   out);
    CHECK(converter.text_preview() == "abcd\xC3\xA9");  // 7 bytes would split the second é
    CHECK(converter.stop_reason() == "max_tokens");
    CHECK(converter.output_tokens() == 7);  // no usage: (18 + 8) bytes / 4, rounded up
    SECTION("generated message ids differ per object") {
        msgbridge::stream_converter a(test_context());
        msgbridge::stream_converter b(test_context());
        CHECK(a.message_id().substr(0, 4) == "msg_");
        CHECK(a.message_id().size() == 28);
        CHECK(a.message_id() != b.message_id());
    }
}
