// SPDX-License-Identifier: MIT
#include "support/request_test_util.hpp"

using request_test::has_warning;
using request_test::require_converts_to;

namespace {
const std::string kimi = R"("model":"moonshotai/kimi-k2.5","max_tokens":10)";
const std::string hi = R"("messages":[{"role":"user","content":"hi"}])";
const std::string hi_out = R"("messages":[{"role":"user","content":"hi"}])";
const std::string read_tool = R"({"name":"Read","description":"Reads a file","input_schema":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"path":{"type":"string"}},"required":["path"],"additionalProperties":false},"cache_control":{"type":"ephemeral"}})";
const std::string read_fn = R"({"type":"function","function":{"name":"Read","description":"Reads a file","parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"path":{"type":"string"}},"required":["path"],"additionalProperties":false}}})";
std::string req(const std::string& fields) { return "{" + kimi + "," + hi + "," + fields + "}"; }
std::string out(const std::string& fields) { return "{" + kimi + "," + hi_out + (fields.empty() ? "" : ",") + fields + "}"; }
}  // namespace

TEST_CASE("request: tools become type:function tools with the schema byte for byte", "[request]") {
    auto converted = request_test::convert_ok(req(R"("tools":[)" + read_tool + "]"));
    request_test::require_same_json(converted.body, out(R"("tools":[)" + read_fn + "]"));
    CHECK(converted.body.find(R"("parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object")") !=
          std::string::npos);
    CHECK(converted.context.tool_names.empty());
}

TEST_CASE("request: tool_choice maps to OpenAI's forms", "[request]") {
    const std::string tools = R"("tools":[)" + read_tool + "]";
    const std::string fns = R"("tools":[)" + read_fn + "]";
    SECTION("auto") { require_converts_to(req(tools + R"(,"tool_choice":{"type":"auto"})"), out(fns + R"(,"tool_choice":"auto")")); }
    SECTION("any") { require_converts_to(req(tools + R"(,"tool_choice":{"type":"any"})"), out(fns + R"(,"tool_choice":"required")")); }
    SECTION("none") { require_converts_to(req(tools + R"(,"tool_choice":{"type":"none"})"), out(fns + R"(,"tool_choice":"none")")); }
    SECTION("tool") {
        require_converts_to(req(tools + R"(,"tool_choice":{"type":"tool","name":"Read"})"),
                            out(fns + R"(,"tool_choice":{"type":"function","function":{"name":"Read"}})"));
    }
    SECTION("disable_parallel_tool_use becomes parallel_tool_calls:false") {
        require_converts_to(req(tools + R"(,"tool_choice":{"type":"auto","disable_parallel_tool_use":true})"),
                            out(fns + R"(,"tool_choice":"auto","parallel_tool_calls":false)"));
    }
    SECTION("no tool_choice is sent without tools") {
        auto converted = require_converts_to(req(R"("tool_choice":{"type":"any"})"), out(""));
        CHECK(has_warning(converted, "tool_choice: left out (no tools are sent upstream)"));
    }
    SECTION("a profile that rejects tool_choice auto gets none; one without required gets auto") {
        msgbridge::request_options options;
        options.profiles = msgbridge::default_profiles();
        options.profiles[0].tool_choice_auto = false;
        require_converts_to(req(tools + R"(,"tool_choice":{"type":"auto"})"), out(fns), options);
        auto minimax = request_test::convert_ok(R"({"model":"minimaxai/minimax-m2.1","max_tokens":10,)" + hi + "," + tools +
                                                R"(,"tool_choice":{"type":"any"}})");
        CHECK(minimax.body.find(R"("tool_choice":"auto")") != std::string::npos);
        CHECK(has_warning(minimax, "sent as \"auto\""));
    }
}

TEST_CASE("request: Anthropic server tools are left out with a warning", "[request]") {
    const std::string tools = R"("tools":[)" + read_tool +
                              R"(,{"type":"web_search_20250305","name":"web_search","max_uses":5},{"type":"bash_20250124","name":"bash"}])";
    SECTION("the client tools stay") {
        auto converted = require_converts_to(req(tools), out(R"("tools":[)" + read_fn + "]"));
        CHECK(has_warning(converted, "server tools left out (no upstream equivalent): web_search, bash"));
    }
    SECTION("a tool_choice forcing a removed tool goes too") {
        auto converted = require_converts_to(req(tools + R"(,"tool_choice":{"type":"tool","name":"web_search"})"),
                                             out(R"("tools":[)" + read_fn + "]"));
        CHECK(has_warning(converted, "tool_choice: left out (it forces \"web_search\""));
    }
    SECTION("with only server tools, neither tools nor tool_choice is sent") {
        require_converts_to(req(R"("tools":[{"type":"web_search_20250305","name":"web_search"}],"tool_choice":{"type":"auto"})"), out(""));
    }
    SECTION("a custom-typed tool is a client tool") {
        require_converts_to(req(R"("tools":[{"type":"custom","name":"X","input_schema":{"type":"object"}}])"),
                            out(R"("tools":[{"type":"function","function":{"name":"X","parameters":{"type":"object"}}}])"));
    }
}

TEST_CASE("request: deferred tools are forwarded unless the options say otherwise", "[request]") {
    const std::string tools = R"("tools":[{"name":"Later","description":"d","input_schema":{},"defer_loading":true}])";
    SECTION("forwarded, the empty schema made an object schema") {
        require_converts_to(req(tools), out(R"("tools":[{"type":"function","function":{"name":"Later","description":"d",
                                                "parameters":{"type":"object","properties":{}}}}])"));
    }
    SECTION("left out when asked") {
        msgbridge::request_options options;
        options.forward_deferred_tools = false;
        auto converted = require_converts_to(req(tools), out(""), options);
        CHECK(has_warning(converted, "tools.0: left out (defer_loading"));
    }
}

TEST_CASE("request: long tool names are shortened the same way everywhere", "[request]") {
    const std::string long_name = "mcp__some_really_long_server_name__and_an_even_longer_tool_name_that_overflows";
    REQUIRE(long_name.size() > 64);
    const std::string body = "{" + kimi + R"(,"tools":[{"name":")" + long_name + R"(","input_schema":{"type":"object"}}],
        "tool_choice":{"type":"tool","name":")" + long_name + R"("},
        "messages":[{"role":"user","content":"go"},
          {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":")" + long_name + R"(","input":{}}]},
          {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]})";
    auto converted = request_test::convert_ok(body);
    REQUIRE(converted.context.tool_names.size() == 1);
    const std::string short_name = converted.context.tool_names[0].first;
    CHECK(converted.context.tool_names[0].second == long_name);
    CHECK(short_name.size() == 64);
    CHECK(short_name.rfind("mcp__some_really_long_server_name__and_an_even_long_", 0) == 0);
    CHECK(short_name == msgbridge::detail::shorten_tool_name(long_name));
    request_test::require_same_json(converted.body, "{" + kimi + R"(,
        "tools":[{"type":"function","function":{"name":")" + short_name + R"(","parameters":{"type":"object"}}}],
        "tool_choice":{"type":"function","function":{"name":")" + short_name + R"("}},
        "messages":[{"role":"user","content":"go"},
          {"role":"assistant","content":"","tool_calls":[{"id":"t1","type":"function","function":{"name":")" + short_name + R"(","arguments":"{}"}}]},
          {"role":"tool","tool_call_id":"t1","content":"ok"}]})");
    SECTION("names with characters OpenAI refuses are shortened too; distinct names stay distinct") {
        auto a = request_test::convert_ok(req(R"("tools":[{"name":"get.weather","input_schema":{}},{"name":"get_weather","input_schema":{}}])"));
        REQUIRE(a.context.tool_names.size() == 1);
        CHECK(a.context.tool_names[0].second == "get.weather");
        CHECK(a.context.tool_names[0].first != "get_weather");
        CHECK(a.context.tool_names[0].first.rfind("get_weather_", 0) == 0);
    }
}
