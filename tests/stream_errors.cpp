#include <catch2/catch.hpp>
#include <msgbridge/stream.hpp>

#include <string>

#include "support/anthropic_stream_accumulator.hpp"
#include "support/stream_test_util.hpp"

using namespace msgbridge_test;

namespace {

accumulated_stream accumulate(const std::string& out) {
    auto accumulated = accumulate_anthropic_stream(out);
    INFO(out);
    CHECK(accumulated.violation.empty());
    return accumulated;
}

}  // namespace

TEST_CASE("stream: an upstream that ends without finish_reason or [DONE] gets an error event, not a fake end_turn", "[stream][errors]") {
    msgbridge::stream_converter converter(test_context(), test_stream_options());
    std::string out;
    converter.feed(chunk_with_delta(R"({"content":"partial ans"})"), out);
    converter.finish(out);
    const auto accumulated = accumulate(out);
    CHECK(accumulated.errored);
    CHECK_FALSE(accumulated.complete);
    CHECK(accumulated.error_type == "api_error");
    CHECK(accumulated.error_message == "upstream stream ended before finish_reason or [DONE]");
    CHECK(out.find("end_turn") == std::string::npos);
    CHECK(out.find("message_delta") == std::string::npos);
    CHECK(accumulated.events == std::vector<std::string>{"message_start", "ping", "content_block_start", "content_block_delta",
                                                         "content_block_stop", "error"});
    CHECK(converter.done());
    CHECK(converter.failed());
    SECTION("a cut-off event at the end is not dispatched") {
        const auto cut = accumulate(run_stream(chunk_with_delta(R"({"content":"a"})") + "data: {\"choices\":[{\"index\":0,\"delta\":{}", test_context()));
        CHECK(cut.errored);
    }
    SECTION("nothing at all from the upstream") {
        const auto empty = accumulate(run_stream("", test_context()));
        CHECK(empty.errored);
        CHECK(empty.events == std::vector<std::string>{"message_start", "ping", "error"});
    }
}

TEST_CASE("stream: an open thinking block is signed and closed before the error", "[stream][errors]") {
    const auto accumulated = accumulate(run_stream(chunk_with_delta(R"({"reasoning_content":"hmm"})"), test_context()));
    CHECK(accumulated.errored);
    CHECK(accumulated.events == std::vector<std::string>{"message_start", "ping", "content_block_start", "content_block_delta",
                                                         "content_block_delta", "content_block_stop", "error"});
}

TEST_CASE("stream: finish_reason without [DONE], or [DONE] without finish_reason, is a normal end", "[stream][errors]") {
    const auto no_done = accumulate(run_stream(chunk_with_delta(R"({"content":"a"})") + chunk_with_delta("{}", "length"), test_context()));
    CHECK(no_done.complete);
    CHECK(no_done.message_json.find(R"("stop_reason":"max_tokens")") != std::string::npos);
    const auto no_finish = accumulate(run_stream(chunk_with_delta(R"({"content":"a"})") + done_event(), test_context()));
    CHECK(no_finish.complete);
    CHECK(no_finish.message_json.find(R"("stop_reason":"end_turn")") != std::string::npos);
}

TEST_CASE("stream: content after finish_reason is still closed before message_delta", "[stream][errors]") {
    const std::string upstream = chunk_with_delta(R"({"content":"a"})", "stop") + chunk_with_delta(R"({"content":"late"})") +
                                 chunk_with_delta(R"({"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{}"}}]})");
    const auto with_done = accumulate(run_stream(upstream + done_event(), test_context()));
    CHECK(with_done.complete);
    const auto without_done = accumulate(run_stream(upstream, test_context()));
    CHECK(without_done.complete);
    CHECK(without_done.message_json.find(R"({"type":"text","text":"late"},{"type":"tool_use","id":"t","name":"f","input":{}})") != std::string::npos);
}

TEST_CASE("stream: data: {\"error\":…} mid-stream becomes an Anthropic error event", "[stream][errors]") {
    const auto type_of = [](const std::string& error_chunk) {
        const auto accumulated = accumulate(run_stream(chunk_with_delta(R"({"content":"a"})") + sse(error_chunk) +
                                                           chunk_with_delta(R"({"content":"never"})"),
                                                       test_context()));
        CHECK(accumulated.errored);
        return accumulated.error_type + ": " + accumulated.error_message;
    };
    CHECK(type_of(R"({"error":{"message":"Worker overloaded","type":"server_overloaded"}})") == "overloaded_error: Worker overloaded");
    CHECK(type_of(R"({"error":{"message":"slow down","code":429}})") == "rate_limit_error: slow down");
    CHECK(type_of(R"({"error":{"message":"boom","type":"internal_error"}})") == "api_error: boom");
    CHECK(type_of(R"({"error":"plain text"})") == "api_error: plain text");
    CHECK(type_of(R"({"object":"error","message":"vLLM failed","type":"InternalServerError","code":500})") == "api_error: vLLM failed");
    CHECK(type_of(R"({"error":{"message":"This model's maximum context length is 8192 tokens."}})") ==
          "invalid_request_error: prompt is too long: This model's maximum context length is 8192 tokens.");
    SECTION("event: error with a non-JSON payload") {
        const auto accumulated = accumulate(run_stream(chunk_with_delta(R"({"content":"a"})") + "event: error\ndata: upstream exploded\n\n", test_context()));
        CHECK(accumulated.errored);
        CHECK(accumulated.error_message == "upstream exploded");
    }
}

TEST_CASE("stream: a chunk that is not valid JSON ends the stream with an api_error, never skipped silently", "[stream][errors]") {
    for (const std::string& bad : {std::string("{\"choices\":[{\"delta\":{\"content\":\"x\"}"), std::string("not json"),
                                  std::string("{\"choices\":[{\"delta\":{\"content\":\"\xff\"}}]}")}) {
        const auto accumulated = accumulate(run_stream(chunk_with_delta(R"({"content":"a"})") + sse(bad) + done_event(), test_context()));
        CHECK(accumulated.errored);
        CHECK(accumulated.error_type == "api_error");
        CHECK(accumulated.error_message.rfind("upstream sent a chunk that is not valid JSON", 0) == 0);
    }
}

TEST_CASE("stream: an SSE event over the size cap becomes an error event", "[stream][errors]") {
    auto options = test_stream_options();
    options.max_event_bytes = 4096;
    const std::string huge = chunk_with_delta(R"({"content":")" + std::string(5000, 'x') + R"("})");
    const auto accumulated = accumulate(run_stream(chunk_with_delta(R"({"content":"a"})") + huge + done_event(), test_context(), 100, options));
    CHECK(accumulated.errored);
    CHECK(accumulated.error_message == "upstream sent an SSE event larger than 4096 bytes");
}

TEST_CASE("stream: after done(), feed, finish and fail write nothing", "[stream][errors]") {
    msgbridge::stream_converter converter(test_context(), test_stream_options());
    std::string out;
    converter.feed(chunk_with_delta(R"({"content":"a"})") + chunk_with_delta("{}", "stop") + done_event(), out);
    REQUIRE(converter.done());
    const std::string before = out;
    converter.feed(chunk_with_delta(R"({"content":"more"})"), out);
    converter.finish(out);
    converter.fail(msgbridge::make_error(msgbridge::error_type::api_error, "late"), out);
    CHECK(out == before);
    CHECK_FALSE(converter.failed());
    SECTION("bytes after [DONE] in the same piece are ignored too") {
        const std::string same_piece = run_stream(chunk_with_delta(R"({"content":"a"})") + done_event() + chunk_with_delta(R"({"content":"b"})"), test_context());
        CHECK(accumulate(same_piece).complete);
        CHECK(same_piece.find(R"("text":"b")") == std::string::npos);
    }
}

TEST_CASE("stream: fail() closes the open block and ends with the given error", "[stream][errors]") {
    msgbridge::stream_converter converter(test_context(), test_stream_options());
    std::string out;
    converter.feed(chunk_with_delta(R"({"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\"a\""}}]})"), out);
    converter.fail(msgbridge::make_error(msgbridge::error_type::overloaded_error, "upstream timed out"), out);
    const auto accumulated = accumulate(out);
    CHECK(accumulated.errored);
    CHECK(accumulated.error_type == "overloaded_error");
    CHECK(accumulated.error_message == "upstream timed out");
    SECTION("before anything was written: the error alone") {
        msgbridge::stream_converter fresh(test_context(), test_stream_options());
        std::string alone;
        fresh.fail(msgbridge::make_error(msgbridge::error_type::api_error, "connect failed"), alone);
        CHECK(alone == "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"connect failed\"}}\n\n");
    }
}

TEST_CASE("stream: append_error_event and append_ping_event frame events as Anthropic does", "[stream]") {
    std::string out;
    msgbridge::append_ping_event(out);
    msgbridge::append_error_event(msgbridge::make_error(msgbridge::error_type::overloaded_error, "Overloaded"), out);
    CHECK(out == "event: ping\ndata: {\"type\":\"ping\"}\n\n"
                 "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
}

TEST_CASE("stream: has_content and empty_answer say what the answer held so far", "[stream][errors]") {
    struct step {
        const char* delta;
        bool has_content;
        bool empty_answer;
    };
    // After message_start alone: neither. Reasoning is content but no answer,
    // blank text is neither, text and a tool call are answers.
    const step steps[] = {
        {R"({"role":"assistant","content":""})", false, true},
        {R"({"content":"  \n"})", false, true},
        {R"({"reasoning_content":"hmm"})", true, true},
        {R"({"content":"hi"})", true, false},
    };
    msgbridge::stream_converter converter(test_context(), test_stream_options());
    std::string out;
    for (const step& s : steps) {
        INFO(s.delta);
        converter.feed(chunk_with_delta(s.delta), out);
        CHECK(converter.has_content() == s.has_content);
        CHECK(converter.empty_answer() == s.empty_answer);
    }
    msgbridge::stream_converter tool_caller(test_context(), test_stream_options());
    tool_caller.feed(chunk_with_delta(
                         R"({"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]})"),
                     out);
    CHECK(tool_caller.has_content());
    CHECK_FALSE(tool_caller.empty_answer());
}
