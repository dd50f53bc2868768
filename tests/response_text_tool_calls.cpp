#include <catch2/catch.hpp>
#include <msgbridge/request.hpp>
#include <msgbridge/response.hpp>

#include <simdjson.h>

#include <string>

#include "support/response_json_compare.hpp"
#include "support/text_tool_call_shapes.hpp"

using namespace msgbridge_test;

namespace {

std::string completion_with_content(const std::string& content, const char* field = "content") {
    std::string body = R"({"id":"chatcmpl-1","object":"chat.completion","model":"up","choices":[{"index":0,"message":{"role":"assistant",")";
    body += field;
    body += "\":";
    msgbridge::detail::append_json_string(body, content);
    body += R"(},"finish_reason":"stop"}]})";
    return body;
}

struct converted_fields {
    std::string content;
    std::string stop_reason;
};

converted_fields convert(const std::string& content, const msgbridge::response_context& context,
                         const char* field = "content") {
    const auto converted = msgbridge::convert_response(completion_with_content(content, field), context,
                                                       msgbridge::response_options{"msg_test", 42});
    REQUIRE(converted.has_value());
    simdjson::dom::parser parser;
    const simdjson::dom::element message = parser.parse(*converted);
    return {simdjson::minify(message["content"]), std::string(std::string_view(message["stop_reason"]))};
}

std::string text_block(const std::string& text) {
    std::string block = R"([{"type":"text","text":)";
    msgbridge::detail::append_json_string(block, text);
    return block + "}]";
}

}  // namespace

TEST_CASE("response: tool calls written as text become tool_use blocks", "[response][salvage]") {
    for (const auto& shape : text_tool_call_shapes()) {
        const std::string content = salvaged_prose_before + shape.markup + salvaged_prose_after;
        SECTION(std::string(shape.name) + ": the text around the calls stays, in order; stop_reason is tool_use") {
            const auto converted = convert(content, salvaging_context());
            CHECK_JSON_EQ(converted.content, salvaged_blocks());
            CHECK(converted.stop_reason == "tool_use");
        }
        SECTION(std::string(shape.name) + ": a call to a tool the request did not offer leaves the text alone") {
            auto context = salvaging_context();
            context.offered_tools = {"Write"};
            const auto converted = convert(content, context);
            CHECK_JSON_EQ(converted.content, text_block(content));
            CHECK(converted.stop_reason == "end_turn");
        }
        SECTION(std::string(shape.name) + ": malformed markup leaves the text alone") {
            const std::string broken = salvaged_prose_before + shape.malformed + salvaged_prose_after;
            const auto converted = convert(broken, salvaging_context());
            CHECK_JSON_EQ(converted.content, text_block(broken));
        }
        SECTION(std::string(shape.name) + ": an unfinished section stays text") {
            const std::string cut = salvaged_prose_before + shape.markup.substr(0, shape.markup.find("Read") + 2);
            CHECK_JSON_EQ(convert(cut, salvaging_context()).content, text_block(cut));
        }
        SECTION(std::string(shape.name) + ": in reasoning, the calls come out between thinking blocks") {
            const auto ids = salvaged_tool_ids();
            const auto converted = convert(content, salvaging_context(), "reasoning_content");
            CHECK_JSON_EQ(converted.content,
                          R"([{"type":"thinking","thinking":"I will look.\n","signature":"msgbridge.unsigned-thinking.v1"},)"
                          R"({"type":"tool_use","id":")" + ids[0] + R"(","name":"Read","input":{"file_path":"/tmp/a.txt"}},)"
                          R"({"type":"tool_use","id":")" + ids[1] + R"(","name":"Bash","input":{"command":"ls"}},)"
                          R"({"type":"thinking","thinking":"\nThat is all.","signature":"msgbridge.unsigned-thinking.v1"}])");
            CHECK(converted.stop_reason == "tool_use");
        }
        SECTION(std::string(shape.name) + ": without offered tools (the profile's switch off) the text is kept") {
            auto context = salvaging_context();
            context.offered_tools.clear();
            CHECK_JSON_EQ(convert(content, context).content, text_block(content));
        }
    }
}

TEST_CASE("response: values written as markup are JSON when they parse, else strings", "[response][salvage]") {
    msgbridge::detail::id_generator ids(42);
    const std::string id = ids.make("toolu_");
    const std::string glm = "<tool_call>Write\n<arg_key>count</arg_key>\n<arg_value>3</arg_value>\n"
                            "<arg_key>content</arg_key>\n<arg_value>\nline one\nline two\n</arg_value>\n"
                            "<arg_key>options</arg_key>\n<arg_value>{\"force\": true}</arg_value>\n</tool_call>";
    CHECK_JSON_EQ(convert(glm, salvaging_context()).content,
                  R"([{"type":"tool_use","id":")" + id +
                      R"(","name":"Write","input":{"count":3,"content":"line one\nline two","options":{"force":true}}}])");
    const std::string minimax = "<minimax:tool_call><invoke name=\"Write\"><parameter name=\"path\">a b.txt</parameter>"
                                "<parameter name=\"quoted\">\"x\"</parameter></invoke></minimax:tool_call>";
    CHECK_JSON_EQ(convert(minimax, salvaging_context()).content,
                  R"([{"type":"tool_use","id":")" + id + R"(","name":"Write","input":{"path":"a b.txt","quoted":"x"}}])");
}

TEST_CASE("response: prose that mentions a marker is left alone", "[response][salvage]") {
    const std::string prose = "Models write <tool_call> and </tool_call> around calls; <b>bold</b> is HTML.";
    CHECK_JSON_EQ(convert(prose, salvaging_context()).content, text_block(prose));
}

TEST_CASE("request: the profile's salvage switch decides whether offered tool names reach the response context",
          "[request][salvage]") {
    const std::string body = R"({"model":"some-model","max_tokens":100,"messages":[{"role":"user","content":"hi"}],)"
                             R"("tools":[{"name":"Read","input_schema":{"type":"object"}},{"name":"Bash","input_schema":{"type":"object"}}]})";
    msgbridge::request_options options;
    options.profiles.emplace_back();
    SECTION("on by default: the names as sent upstream") {
        const auto converted = msgbridge::convert_request(body, options);
        REQUIRE(converted.has_value());
        CHECK(converted->context.offered_tools == std::vector<std::string>{"Read", "Bash"});
    }
    SECTION("off: none, so text is never taken for a tool call") {
        options.profiles.back().salvage_text_tool_calls = false;
        const auto converted = msgbridge::convert_request(body, options);
        REQUIRE(converted.has_value());
        CHECK(converted->context.offered_tools.empty());
    }
}
