#include <catch2/catch.hpp>
#include <msgbridge/stream.hpp>

#include <map>
#include <random>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "support/anthropic_stream_accumulator.hpp"
#include "support/response_json_compare.hpp"
#include "support/stream_test_util.hpp"

using namespace msgbridge_test;

namespace {

// tool_use id → the concatenation of its block's input_json_delta fragments.
std::map<std::string, std::string> streamed_arguments(const std::string& out) {
    std::map<std::string, std::string> by_id;
    std::map<std::uint64_t, std::string> id_of_index;
    std::size_t at = 0;
    while ((at = out.find("\ndata: ", at)) != std::string::npos) {
        at += 7;
        const std::string data = out.substr(at, out.find('\n', at) - at);
        rapidjson::Document event;
        parse_json(event, data);
        const std::string type = event["type"].GetString();
        if (type == "content_block_start" && std::string(event["content_block"]["type"].GetString()) == "tool_use") {
            const std::string id = event["content_block"]["id"].GetString();
            id_of_index[event["index"].GetUint64()] = id;
            by_id[id];
        } else if (type == "content_block_delta" && std::string(event["delta"]["type"].GetString()) == "input_json_delta") {
            by_id[id_of_index.at(event["index"].GetUint64())] += event["delta"]["partial_json"].GetString();
        }
    }
    return by_id;
}

std::string json_string(const std::string& text) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
    return buffer.GetString();
}

std::string tool_delta(int index, const std::string& id, const std::string& name, const std::string& arguments) {
    std::string call = R"({"index":)" + std::to_string(index);
    if (!id.empty()) call += R"(,"id":")" + id + R"(","type":"function")";
    call += R"(,"function":{)";
    if (!name.empty()) call += R"("name":")" + name + R"(",)";
    call += R"("arguments":)" + json_string(arguments) + "}}";
    return chunk_with_delta(R"({"tool_calls":[)" + call + "]}");
}

}  // namespace

TEST_CASE("stream: two tool calls close both blocks (Go original bug)", "[stream][tools]") {
    const std::string upstream = tool_delta(0, "call_a", "Read", R"({"path":"a"})") +
                                 tool_delta(1, "call_b", "Read", R"({"path":"b"})") +
                                 chunk_with_delta("{}", "tool_calls") + done_event();
    const std::string out = run_stream(upstream, test_context());
    const auto accumulated = accumulate_anthropic_stream(out);
    INFO(accumulated.violation);
    REQUIRE(accumulated.legal());
    CHECK_JSON_EQ(accumulated.message_json,
        R"({"id":"msg_test","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[
            {"type":"tool_use","id":"call_a","name":"Read","input":{"path":"a"}},
            {"type":"tool_use","id":"call_b","name":"Read","input":{"path":"b"}}],
           "stop_reason":"tool_use","stop_sequence":null,
           "usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":6}})");
}

TEST_CASE("stream: interleaved tool-call fragments become well-formed blocks whose deltas concatenate to each tool's arguments",
          "[stream][tools]") {
    SECTION("A starts, B starts, A continues, B continues") {
        const std::string upstream = tool_delta(0, "call_a", "f", R"({"a")") + tool_delta(1, "call_b", "g", R"({"b")") +
                                     tool_delta(0, "", "", R"(: 1})") + tool_delta(1, "", "", R"(: 2})") +
                                     chunk_with_delta("{}", "tool_calls") + done_event();
        const std::string out = run_stream(upstream, test_context());
        const auto accumulated = accumulate_anthropic_stream(out);
        INFO(accumulated.violation);
        REQUIRE(accumulated.legal());
        CHECK(streamed_arguments(out) == std::map<std::string, std::string>{{"call_a", R"({"a": 1})"}, {"call_b", R"({"b": 2})"}});
        CHECK(accumulated.message_json.find(R"({"type":"tool_use","id":"call_a","name":"f","input":{"a":1}},{"type":"tool_use","id":"call_b","name":"g","input":{"b":2}})") !=
              std::string::npos);
    }
    SECTION("random interleavings of three tools, random fragment sizes (fixed seed)") {
        std::mt19937 random(20261125);
        const std::vector<std::string> arguments = {
            R"({"command": "grep -rn \"TODO\" src/ | head", "timeout": 120000})",
            R"({"file_path": "/tmp/ü.txt", "content": "line 1\nline 2 {not json} [x]\n"})",
            R"({"todos": [{"content": "a", "status": "pending"}, {"content": "b}", "status": "done"}]})"};
        for (int round = 0; round < 200; ++round) {
            std::vector<std::size_t> sent(arguments.size(), 0);
            std::string upstream;
            // Each tool's first fragment names it; the order of starts and of
            // later fragments is random.
            std::vector<int> order;
            for (std::size_t tool = 0; tool < arguments.size(); ++tool) {
                for (std::size_t at = 0; at < arguments[tool].size();) {
                    order.push_back(static_cast<int>(tool));
                    at += 1 + random() % 9;
                }
            }
            std::shuffle(order.begin(), order.end(), random);
            std::vector<bool> started(arguments.size(), false);
            for (int tool : order) {
                const std::string& full = arguments[static_cast<std::size_t>(tool)];
                std::size_t& at = sent[static_cast<std::size_t>(tool)];
                std::size_t length = std::min<std::size_t>(1 + random() % 9, full.size() - at);
                // Upstream JSON is valid UTF-8: never split a character.
                while (at + length < full.size() && (static_cast<unsigned char>(full[at + length]) & 0xC0) == 0x80) ++length;
                const std::string id = "call_" + std::to_string(tool);
                upstream += started[static_cast<std::size_t>(tool)]
                                ? tool_delta(tool, "", "", full.substr(at, length))
                                : tool_delta(tool, id, "tool" + std::to_string(tool), full.substr(at, length));
                started[static_cast<std::size_t>(tool)] = true;
                at += length;
            }
            for (std::size_t tool = 0; tool < arguments.size(); ++tool) {
                if (sent[tool] < arguments[tool].size()) upstream += tool_delta(static_cast<int>(tool), "", "", arguments[tool].substr(sent[tool]));
            }
            upstream += chunk_with_delta("{}", "tool_calls") + done_event();
            const std::string out = run_stream(upstream, test_context());
            const auto accumulated = accumulate_anthropic_stream(out);
            INFO("round " << round << ": " << accumulated.violation);
            REQUIRE(accumulated.legal());
            const auto streamed = streamed_arguments(out);
            REQUIRE(streamed.size() == 3);
            for (std::size_t tool = 0; tool < arguments.size(); ++tool) {
                REQUIRE(streamed.at("call_" + std::to_string(tool)) == arguments[tool]);
            }
        }
    }
}

TEST_CASE("stream: sequential tool calls stream live, each block opening when the previous one's JSON is complete",
          "[stream][tools]") {
    msgbridge::stream_converter converter(test_context(), test_stream_options());
    std::string out;
    converter.feed(tool_delta(0, "call_a", "f", R"({"x":)"), out);
    CHECK(out.find(R"("partial_json":"{\"x\":")") != std::string::npos);
    out.clear();
    converter.feed(tool_delta(0, "", "", "1}"), out);
    CHECK(out.find(R"("partial_json":"1}")") != std::string::npos);
    out.clear();
    converter.feed(tool_delta(1, "call_b", "g", "{"), out);
    CHECK(out.find("content_block_stop") != std::string::npos);  // A closed
    CHECK(out.find(R"("id":"call_b")") != std::string::npos);     // B opened at once
    CHECK(out.find(R"("partial_json":"{")") != std::string::npos);
}

TEST_CASE("stream: tool-call quirks", "[stream][tools]") {
    SECTION("every call numbered 0, told apart by id") {
        const std::string upstream = tool_delta(0, "c1", "f", R"({"n":1})") + tool_delta(0, "c2", "f", R"({"n":2})") +
                                     chunk_with_delta("{}", "tool_calls") + done_event();
        const std::string out = run_stream(upstream, test_context());
        REQUIRE(accumulate_anthropic_stream(out).legal());
        CHECK(streamed_arguments(out) == std::map<std::string, std::string>{{"c1", R"({"n":1})"}, {"c2", R"({"n":2})"}});
    }
    SECTION("a tool with no arguments at all gets input {}") {
        const auto accumulated = accumulate_anthropic_stream(
            run_stream(tool_delta(0, "c1", "now", "") + chunk_with_delta("{}", "tool_calls") + done_event(), test_context()));
        REQUIRE(accumulated.legal());
        CHECK(accumulated.message_json.find(R"({"type":"tool_use","id":"c1","name":"now","input":{}})") != std::string::npos);
    }
    SECTION("the name arriving after the first fragment: the block waits for it") {
        const std::string upstream = tool_delta(0, "c1", "", R"({"a":)") + tool_delta(0, "", "late_name", "1}") +
                                     chunk_with_delta("{}", "tool_calls") + done_event();
        const auto accumulated = accumulate_anthropic_stream(run_stream(upstream, test_context()));
        INFO(accumulated.violation);
        REQUIRE(accumulated.legal());
        CHECK(accumulated.message_json.find(R"({"type":"tool_use","id":"c1","name":"late_name","input":{"a":1}})") != std::string::npos);
    }
    SECTION("two complete calls in one chunk") {
        const std::string upstream = chunk_with_delta(
            R"({"tool_calls":[{"index":0,"id":"c1","function":{"name":"f","arguments":"{\"a\":1}"}},{"index":1,"id":"c2","function":{"name":"g","arguments":"{}"}}]})",
            "tool_calls") + done_event();
        const std::string out = run_stream(upstream, test_context());
        REQUIRE(accumulate_anthropic_stream(out).legal());
        CHECK(streamed_arguments(out) == std::map<std::string, std::string>{{"c1", R"({"a":1})"}, {"c2", "{}"}});
    }
    SECTION("the legacy function_call delta") {
        const std::string upstream = chunk_with_delta(R"({"function_call":{"name":"f","arguments":"{\"q\""}})") +
                                     chunk_with_delta(R"({"function_call":{"arguments":":1}"}})") +
                                     chunk_with_delta("{}", "function_call") + done_event();
        const auto accumulated = accumulate_anthropic_stream(run_stream(upstream, test_context()));
        INFO(accumulated.violation);
        REQUIRE(accumulated.legal());
        CHECK(accumulated.message_json.find(R"("name":"f","input":{"q":1}})") != std::string::npos);
    }
}
