// SPDX-License-Identifier: MIT
#include "support/request_test_util.hpp"

using request_test::require_converts_to;

namespace {
std::string body(const std::string& messages) {
    return std::string(R"({"model":"moonshotai/kimi-k2.5","max_tokens":100,"messages":)") + messages + "}";
}
std::string expected(const std::string& messages) {
    return std::string(R"({"model":"moonshotai/kimi-k2.5","max_tokens":100,"messages":)") + messages + "}";
}
}  // namespace

TEST_CASE("request: assistant text and tool_use become one message with tool_calls", "[request]") {
    SECTION("arguments are the input as compact JSON in a string") {
        require_converts_to(body(R"([{"role":"user","content":"list"},
            {"role":"assistant","content":[{"type":"text","text":"Looking."},
              {"type":"tool_use","id":"toolu_1","name":"Bash","input":{ "command" : "ls -la \"x\"",
                 "nested": {"a": [1, 2.5, true, null], "s": "q\\\"\\\\ \n"} }},
              {"type":"tool_use","id":"toolu_2","name":"Read","input":{}}]}])"),
            expected(R"([{"role":"user","content":"list"},
              {"role":"assistant","content":"Looking.","tool_calls":[
                {"id":"toolu_1","type":"function","function":{"name":"Bash",
                  "arguments":"{\"command\":\"ls -la \\\"x\\\"\",\"nested\":{\"a\":[1,2.5,true,null],\"s\":\"q\\\\\\\"\\\\\\\\ \\n\"}}"}},
                {"id":"toolu_2","type":"function","function":{"name":"Read","arguments":"{}"}}]}])"));
    }
    SECTION("a tool_use without input gets empty arguments; content is an empty string") {
        require_converts_to(body(R"([{"role":"user","content":"go"},
            {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"Run"}]}])"),
            expected(R"([{"role":"user","content":"go"},
              {"role":"assistant","content":"","tool_calls":[
                {"id":"t","type":"function","function":{"name":"Run","arguments":"{}"}}]}])"));
    }
    SECTION("long string inputs keep every byte") {
        std::string text(5000, 'x');
        text[17] = '"';
        text.insert(100, "\\\\");
        text.insert(300, "\\n");
        std::string input = R"({"t":")" + std::string(text).replace(17, 1, "\\\"") + R"("})";
        auto converted = request_test::convert_ok(body(R"([{"role":"user","content":"go"},
            {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"Run","input":)" + input + "}]}]"));
        rapidjson::Document doc;
        request_test::parse(doc, converted.body);
        REQUIRE_FALSE(doc.HasParseError());
        const std::string arguments = doc["messages"][1]["tool_calls"][0]["function"]["arguments"].GetString();
        rapidjson::Document args;
        request_test::parse(args, arguments);
        REQUIRE_FALSE(args.HasParseError());
        rapidjson::Document original;
        request_test::parse(original, input);
        CHECK(args == original);
    }
}

TEST_CASE("request: tool_result blocks become role:tool messages", "[request]") {
    SECTION("string content, block content joined, is_error kept visible") {
        require_converts_to(body(R"([{"role":"user","content":"go"},
            {"role":"assistant","content":[{"type":"tool_use","id":"a","name":"X","input":{}},
                                           {"type":"tool_use","id":"b","name":"X","input":{}},
                                           {"type":"tool_use","id":"c","name":"X","input":{}}]},
            {"role":"user","content":[
               {"type":"tool_result","tool_use_id":"a","content":"plain","cache_control":{"type":"ephemeral"}},
               {"type":"tool_result","tool_use_id":"b","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]},
               {"type":"tool_result","tool_use_id":"c","is_error":true,"content":"boom"}]}])"),
            expected(R"([{"role":"user","content":"go"},
              {"role":"assistant","content":"","tool_calls":[
                {"id":"a","type":"function","function":{"name":"X","arguments":"{}"}},
                {"id":"b","type":"function","function":{"name":"X","arguments":"{}"}},
                {"id":"c","type":"function","function":{"name":"X","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"a","content":"plain"},
              {"role":"tool","tool_call_id":"b","content":"one\n\ntwo"},
              {"role":"tool","tool_call_id":"c","content":"Error: boom"}])"));
    }
    SECTION("no empty user message after a turn made only of tool results; no empty tool message either") {
        require_converts_to(body(R"([{"role":"user","content":"go"},
            {"role":"assistant","content":[{"type":"tool_use","id":"a","name":"X","input":{}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"a"}]},
            {"role":"assistant","content":"done"}])"),
            expected(R"json([{"role":"user","content":"go"},
              {"role":"assistant","content":"","tool_calls":[{"id":"a","type":"function","function":{"name":"X","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"a","content":"(no text content)"},
              {"role":"assistant","content":"done"}])json"));
    }
    SECTION("the rest of the user turn follows the tool messages") {
        require_converts_to(body(R"([{"role":"user","content":"go"},
            {"role":"assistant","content":[{"type":"tool_use","id":"a","name":"X","input":{}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":"r"},
                                      {"type":"text","text":"now summarize"}]}])"),
            expected(R"([{"role":"user","content":"go"},
              {"role":"assistant","content":"","tool_calls":[{"id":"a","type":"function","function":{"name":"X","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"a","content":"r"},
              {"role":"user","content":"now summarize"}])"));
    }
    SECTION("an image inside a tool result is carried in the following user message") {
        require_converts_to(body(R"([{"role":"user","content":"shot"},
            {"role":"assistant","content":[{"type":"tool_use","id":"a","name":"Screenshot","input":{}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[
                {"type":"text","text":"here"},
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}}]}]}])"),
            expected(R"([{"role":"user","content":"shot"},
              {"role":"assistant","content":"","tool_calls":[{"id":"a","type":"function","function":{"name":"Screenshot","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"a","content":"here"},
              {"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}}]}])"));
    }
}

TEST_CASE("request: ToolSearch's tool_reference blocks name the loaded tools", "[request]") {
    const std::string search_call = R"({"role":"user","content":"find the github tools"},
            {"role":"assistant","content":[{"type":"tool_use","id":"s","name":"ToolSearch","input":{"query":"github"}}]},)";
    const std::string call_expected = R"({"role":"user","content":"find the github tools"},
              {"role":"assistant","content":"","tool_calls":[{"id":"s","type":"function","function":{"name":"ToolSearch","arguments":"{\"query\":\"github\"}"}}]},)";
    SECTION("neighbouring references make one list") {
        require_converts_to(body("[" + search_call + R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"s","content":[
                {"type":"tool_reference","tool_name":"mcp__github__get_issue"},
                {"type":"tool_reference","tool_name":"mcp__github__list_prs","cache_control":{"type":"ephemeral"}}]}]}])"),
            expected("[" + call_expected + R"({"role":"tool","tool_call_id":"s","content":"Tools loaded: mcp__github__get_issue, mcp__github__list_prs"}])"));
    }
    SECTION("text around the references stays, in order") {
        require_converts_to(body("[" + search_call + R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"s","content":[
                {"type":"text","text":"2 matches"},
                {"type":"tool_reference","tool_name":"Read"},
                {"type":"text","text":"done"},
                {"type":"tool_reference","tool_name":"Grep"}]}]}])"),
            expected("[" + call_expected + R"({"role":"tool","tool_call_id":"s","content":"2 matches\n\nTools loaded: Read\n\ndone\n\nTools loaded: Grep"}])"));
    }
    SECTION("a name OpenAI would reject is named as the tool list sends it") {
        const std::string long_name = "mcp__plugin_github_github__search_pull_requests_with_extended_filters_and_sorting";
        auto converted = request_test::convert_ok(body("[" + search_call + R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"s","content":[
                {"type":"tool_reference","tool_name":")" + long_name + R"("}]}]}])"));
        const std::string short_name = msgbridge::detail::shorten_tool_name(long_name);
        CHECK(converted.body.find(R"("content":"Tools loaded: )" + short_name + R"(")") != std::string::npos);
        CHECK(converted.warnings.empty());
    }
    SECTION("a reference without tool_name is refused with its path") {
        request_test::require_error(body("[" + search_call + R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"s","content":[
                {"type":"tool_reference"}]}]}])"), "messages.2.content.0.content.0.tool_name: required");
    }
}
