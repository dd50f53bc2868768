// Counts heap allocations to prove the stream converter does not allocate
// per chunk once warmed up. The counting operator new (support/
// allocation_counter.hpp, included here and nowhere else in stream_tests)
// counts for the whole binary; it only counts, it changes nothing else.
#include <catch2/catch.hpp>
#include <msgbridge/stream.hpp>

#include <string>

#include "support/allocation_counter.hpp"
#include "support/stream_test_util.hpp"

using namespace msgbridge_test;

TEST_CASE("stream: no heap allocation per chunk in steady state", "[stream][allocations]") {
    msgbridge::stream_converter converter(test_context(), test_stream_options());
    std::string out;
    out.reserve(1 << 16);
    const std::string reasoning = chunk_with_delta(R"({"reasoning_content":"thinking about it, step by step "})");
    const std::string text = chunk_with_delta(R"({"content":"Here is a fairly typical piece of text — with ünïcode."})");
    const std::string tool_start =
        chunk_with_delta(R"({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"Write","arguments":"{\"content\": \""}}]})");
    const std::string tool_fragment = chunk_with_delta(R"({"tool_calls":[{"index":0,"function":{"arguments":"more \\\"file\\\" text\\n"}}]})");

    // Warm-up: every buffer reaches its working size, every block kind opens once.
    for (const std::string* chunk : {&reasoning, &text, &tool_start, &tool_fragment}) {
        for (int i = 0; i < 4; ++i) {
            converter.feed(*chunk, out);
            out.clear();
        }
    }
    const auto steady = [&](const std::string& chunk, std::size_t piece) {
        std::size_t before = 0;
        for (int i = 0; i < 504; ++i) {
            if (i == 4) before = allocations_so_far();  // after this path's own warm-up
            for (std::size_t at = 0; at < chunk.size(); at += piece) converter.feed(std::string_view(chunk).substr(at, piece), out);
            out.clear();
        }
        return allocations_so_far() - before;
    };
    CHECK(steady(tool_fragment, std::size_t{1} << 20) == 0);
    CHECK(steady(tool_fragment, 17) == 0);  // split chunks go through the partial-line buffer
    REQUIRE_FALSE(converter.done());
    SECTION("text and reasoning deltas") {
        msgbridge::stream_converter text_converter(test_context(), test_stream_options());
        for (int i = 0; i < 4; ++i) {
            text_converter.feed(reasoning, out);
            text_converter.feed(text, out);
            out.clear();
        }
        const std::size_t before = allocations_so_far();
        for (int i = 0; i < 500; ++i) {
            text_converter.feed(text, out);
            out.clear();
        }
        CHECK(allocations_so_far() - before == 0);
    }
}
