#include <catch2/catch.hpp>
#include <msgbridge/stream.hpp>

#include <random>
#include <string>

#include "support/anthropic_stream_accumulator.hpp"
#include "support/response_json_compare.hpp"
#include "support/stream_test_util.hpp"

using namespace msgbridge_test;

namespace {

std::string run_split(const std::string& upstream, const msgbridge::response_context& context, std::size_t split) {
    msgbridge::stream_converter converter(context, test_stream_options());
    std::string out;
    converter.feed(std::string_view(upstream).substr(0, split), out);
    converter.feed(std::string_view(upstream).substr(split), out);
    converter.finish(out);
    return out;
}

void check_split_invariance(const std::string& upstream, const msgbridge::response_context& context) {
    const std::string reference = run_stream(upstream, context);
    const auto accumulated = accumulate_anthropic_stream(reference);
    INFO(accumulated.violation);
    REQUIRE(accumulated.legal());
    for (std::size_t split = 0; split <= upstream.size(); ++split) {
        INFO("split at byte " << split);
        REQUIRE(run_split(upstream, context, split) == reference);
    }
    for (std::size_t piece = 1; piece <= 64; ++piece) {
        INFO("pieces of " << piece << " bytes");
        REQUIRE(run_stream(upstream, context, piece) == reference);
    }
    std::mt19937 random(12345);
    for (int round = 0; round < 300; ++round) {
        msgbridge::stream_converter converter(context, test_stream_options());
        std::string out;
        for (std::size_t at = 0; at < upstream.size();) {
            const std::size_t length = random() % 3 == 0 ? random() % 4 : random() % 300;
            converter.feed(std::string_view(upstream).substr(at, length), out);
            at += length;
        }
        converter.finish(out);
        INFO("random round " << round);
        REQUIRE(out == reference);
    }
}

}  // namespace

TEST_CASE("stream: the same upstream bytes split at every position, or in random pieces, give byte-identical output",
          "[stream][property]") {
    SECTION("BOM, comments, CR/LF/CRLF, multi-line data, UTF-8, interleaved tools") {
        check_split_invariance(read_test_file("stream/torture.sse"), test_context());
    }
    SECTION("recorded Kimi shape") {
        check_split_invariance(read_test_file("stream/kimi_reasoning_tools.sse"), test_context());
    }
    SECTION("inline think tags") {
        auto context = test_context();
        context.think_tags_in_content = true;
        const std::string upstream = chunk_with_delta(R"({"content":"<thi"})") + chunk_with_delta(R"({"content":"nk>ré"})") +
                                     chunk_with_delta(R"({"content":"flexion</th"})") + chunk_with_delta(R"({"content":"ink>\n\nréponse"})") +
                                     chunk_with_delta("{}", "stop") + done_event();
        check_split_invariance(upstream, context);
    }
    SECTION("a stream that breaks off mid-event") {
        const std::string upstream = read_test_file("stream/kimi_reasoning_tools.sse");
        check_split_invariance(upstream.substr(0, upstream.size() / 2), test_context());
    }
}

TEST_CASE("stream: the torture stream converts to the expected message", "[stream][property]") {
    const auto accumulated = accumulate_anthropic_stream(run_stream(read_test_file("stream/torture.sse"), test_context()));
    INFO(accumulated.violation);
    REQUIRE(accumulated.complete);
    CHECK_JSON_EQ(accumulated.message_json, R"({"id":"msg_test","type":"message","role":"assistant","model":"claude-sonnet-4-5",
        "content":[
          {"type":"thinking","thinking":"Étape 1 — 中文推理 🤔","signature":"msgbridge.unsigned-thinking.v1"},
          {"type":"text","text":"Voilà: naïve \"quotes\" \\ and\nnewline"},
          {"type":"tool_use","id":"call_0","name":"Write","input":{"path":"/tmp/é","body":"x}"}},
          {"type":"tool_use","id":"call_1","name":"Bash","input":{"cmd":"ls"}}],
        "stop_reason":"tool_use","stop_sequence":null,
        "usage":{"input_tokens":21,"cache_creation_input_tokens":0,"cache_read_input_tokens":300,"output_tokens":45}})");
}
