#include <catch2/catch.hpp>
#include <msgbridge/response.hpp>
#include <msgbridge/stream.hpp>

#include <random>
#include <string>

#include "support/anthropic_stream_accumulator.hpp"
#include "support/response_json_compare.hpp"
#include "support/stream_test_util.hpp"
#include "support/text_tool_call_shapes.hpp"

using namespace msgbridge_test;

namespace {

std::string content_delta(std::string_view text, const char* field = "content") {
    std::string delta = "{\"";
    delta += field;
    delta += "\":";
    msgbridge::detail::append_json_string(delta, text);
    return chunk_with_delta(delta + "}");
}

// The upstream stream for `content` cut at `cuts` (byte offsets, ascending).
std::string upstream_with_cuts(const std::string& content, const std::vector<std::size_t>& cuts,
                               const char* field = "content") {
    std::string upstream;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        upstream += content_delta(std::string_view(content).substr(from, cut - from), field);
        from = cut;
    }
    upstream += content_delta(std::string_view(content).substr(from), field);
    return upstream + chunk_with_delta("{}", "stop") + done_event();
}

bool is_char_boundary(const std::string& text, std::size_t at) {
    return at == text.size() || (static_cast<unsigned char>(text[at]) & 0xC0) != 0x80;
}

accumulated_stream accumulate_legal(const std::string& events) {
    auto accumulated = accumulate_anthropic_stream(events);
    INFO(accumulated.violation);
    REQUIRE(accumulated.legal());
    REQUIRE(accumulated.complete);
    return accumulated;
}

std::string blocks_of(const std::string& message_json) {
    simdjson::dom::parser parser;
    return simdjson::minify(parser.parse(message_json)["content"]);
}

std::string stop_reason_of(const std::string& message_json) {
    simdjson::dom::parser parser;
    return std::string(std::string_view(parser.parse(message_json)["stop_reason"]));
}

// Every way of cutting the content into two deltas, every byte split of the
// SSE stream, and one character per delta give the message of the unsplit stream.
void check_split_invariance(const std::string& content, const msgbridge::response_context& context,
                            const std::string& reference) {
    for (std::size_t cut = 0; cut <= content.size(); ++cut) {
        if (!is_char_boundary(content, cut)) continue;
        INFO("content cut at byte " << cut);
        REQUIRE(accumulate_legal(run_stream(upstream_with_cuts(content, {cut}), context)).message_json == reference);
    }
    const std::string upstream = upstream_with_cuts(content, {});
    for (std::size_t split = 0; split <= upstream.size(); ++split) {
        msgbridge::stream_converter converter(context, test_stream_options());
        std::string out;
        converter.feed(std::string_view(upstream).substr(0, split), out);
        converter.feed(std::string_view(upstream).substr(split), out);
        converter.finish(out);
        INFO("SSE split at byte " << split);
        REQUIRE(accumulate_legal(out).message_json == reference);
    }
    std::vector<std::size_t> every_character;
    for (std::size_t at = 1; at < content.size(); ++at) {
        if (is_char_boundary(content, at)) every_character.push_back(at);
    }
    const std::string one_per_delta = upstream_with_cuts(content, every_character);
    REQUIRE(accumulate_legal(run_stream(one_per_delta, context)).message_json == reference);
    REQUIRE(accumulate_legal(run_stream(one_per_delta, context, 7)).message_json == reference);
}

}  // namespace

TEST_CASE("stream: tool calls written as text become tool_use blocks", "[stream][salvage]") {
    for (const auto& shape : text_tool_call_shapes()) {
        const std::string content = salvaged_prose_before + shape.markup + salvaged_prose_after;
        SECTION(std::string(shape.name) + ": text, both calls, text; stop_reason tool_use; the same as the completion") {
            const auto message = accumulate_legal(run_stream(upstream_with_cuts(content, {}), salvaging_context())).message_json;
            CHECK_JSON_EQ(blocks_of(message), salvaged_blocks());
            CHECK(stop_reason_of(message) == "tool_use");
        }
        SECTION(std::string(shape.name) + ": every split point gives the same blocks (property)") {
            const auto reference = accumulate_legal(run_stream(upstream_with_cuts(content, {}), salvaging_context()));
            check_split_invariance(content, salvaging_context(), reference.message_json);
        }
        SECTION(std::string(shape.name) + ": in reasoning, the calls come out between thinking blocks") {
            const auto message =
                accumulate_legal(run_stream(upstream_with_cuts(content, {5, 40}, "reasoning_content"), salvaging_context()))
                    .message_json;
            const std::string blocks = blocks_of(message);
            CHECK(blocks.find(R"("type":"thinking","thinking":"I will look.\n")") != std::string::npos);
            CHECK(blocks.find(R"("name":"Read","input":{"file_path":"/tmp/a.txt"})") != std::string::npos);
            CHECK(blocks.find(R"("type":"thinking","thinking":"\nThat is all.")") != std::string::npos);
        }
        SECTION(std::string(shape.name) + ": not offered, malformed, unfinished or switched off: the text is kept") {
            auto not_offered = salvaging_context();
            not_offered.offered_tools = {"Write"};
            auto switched_off = salvaging_context();
            switched_off.offered_tools.clear();
            const std::string malformed = salvaged_prose_before + shape.malformed + salvaged_prose_after;
            const std::string unfinished = salvaged_prose_before + shape.markup.substr(0, shape.markup.find("Read") + 2);
            const std::pair<std::string, msgbridge::response_context> cases[] = {
                {content, not_offered}, {content, switched_off}, {malformed, salvaging_context()},
                {unfinished, salvaging_context()}};
            for (const auto& [text, context] : cases) {
                const auto message = accumulate_legal(run_stream(upstream_with_cuts(text, {3, 20}), context)).message_json;
                std::string expected = R"([{"type":"text","text":)";
                msgbridge::detail::append_json_string(expected, text);
                CHECK_JSON_EQ(blocks_of(message), expected + "}]");
                CHECK(stop_reason_of(message) == "end_turn");
                check_split_invariance(text, context, message);
            }
        }
    }
}

TEST_CASE("stream: salvaging holds back only what could begin a marker", "[stream][salvage]") {
    msgbridge::stream_converter converter(salvaging_context(), test_stream_options());
    std::string out;
    converter.feed(content_delta("if a < b then <b>bold</b> <tool"), out);
    CHECK(out.find(R"("text":"if a < b then <b>bold</b> ")") != std::string::npos);
    CHECK(out.find("<tool") == std::string::npos);
    converter.feed(content_delta("kit> done"), out);
    CHECK(out.find(R"("text":"<toolkit> done")") != std::string::npos);
}

TEST_CASE("stream: a tool call written as text, then a real one, keep their order", "[stream][salvage]") {
    const std::string upstream =
        content_delta("<tool_call>Read\n<arg_key>file_path</arg_key>\n<arg_value>a</arg_value>\n</tool_call>") +
        chunk_with_delta(R"({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"Bash","arguments":"{\"command\":\"ls\"}"}}]})") +
        chunk_with_delta("{}", "tool_calls") + done_event();
    const auto message = accumulate_legal(run_stream(upstream, salvaging_context())).message_json;
    msgbridge::detail::id_generator ids(42);
    CHECK_JSON_EQ(blocks_of(message), R"([{"type":"tool_use","id":")" + ids.make("toolu_") +
                                          R"(","name":"Read","input":{"file_path":"a"}},)"
                                          R"({"type":"tool_use","id":"call_1","name":"Bash","input":{"command":"ls"}}])");
}
