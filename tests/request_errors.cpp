// SPDX-License-Identifier: MIT
#include "support/request_test_util.hpp"

using request_test::require_error;

namespace {
const std::string head = R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,)";
std::string with_messages(const std::string& messages) { return head + R"("messages":)" + messages + "}"; }
std::string with_field(const std::string& field) {
    return head + field + R"(,"messages":[{"role":"user","content":"hi"}]})";
}
std::string message_of(const std::string& content) {
    return with_messages(R"([{"role":"user","content":)" + content + "}]");
}
}  // namespace

TEST_CASE("request errors: the body", "[request][errors]") {
    SECTION("invalid JSON names the body") {
        for (const char* bad : {"", "not json", "{\"model\":", "{\"model\":\"x\",}", "\xff\xfe", "{\"a\":\"\x01\"}"}) {
            auto converted = msgbridge::convert_request(bad);
            INFO("input: " << bad);
            REQUIRE_FALSE(converted.has_value());
            CHECK(converted.error().type == msgbridge::error_type::invalid_request_error);
            CHECK(converted.error().message.rfind("body: invalid JSON", 0) == 0);
        }
    }
    SECTION("content after the object") {
        require_error(with_messages(R"([{"role":"user","content":"hi"}])") + " {}",
                      "body: invalid JSON (content after the top-level object)");
    }
    SECTION("not an object") { require_error("[1,2]", "body: must be a JSON object"); }
}

TEST_CASE("request errors: model, max_tokens, messages", "[request][errors]") {
    require_error(R"({"max_tokens":1,"messages":[]})", "model: required");
    require_error(R"({"model":5,"max_tokens":1,"messages":[]})", "model: must be a string");
    require_error(R"({"model":"","max_tokens":1,"messages":[]})", "model: must not be empty");
    require_error(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})", "max_tokens: required");
    for (const char* bad : {"\"10\"", "-1", "0", "1.5", "null", "true"}) {
        require_error(std::string(R"({"model":"m","max_tokens":)") + bad + R"(,"messages":[{"role":"user","content":"x"}]})",
                      "max_tokens: must be a positive integer");
    }
    require_error(R"({"model":"m","max_tokens":1})", "messages: required");
    require_error(R"({"model":"m","max_tokens":1,"messages":{}})", "messages: must be an array");
    require_error(R"({"model":"m","max_tokens":1,"messages":[]})", "messages: must not be empty");
    require_error(R"({"model":"m","max_tokens":1,"messages":[5]})", "messages.0: must be an object");
    require_error(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":""}]})",
                  "messages: must contain at least one message with content");
}

TEST_CASE("request errors: roles and content", "[request][errors]") {
    require_error(with_messages(R"([{"content":"x"}])"), "messages.0.role: required");
    require_error(with_messages(R"([{"role":"user","content":"x"},{"role":"bot","content":"x"}])"),
                  R"(messages.1.role: must be one of "user", "assistant", "system")");
    require_error(with_messages(R"([{"role":7,"content":"x"}])"),
                  R"(messages.0.role: must be one of "user", "assistant", "system")");
    require_error(with_messages(R"([{"role":"user","content":"x"},{"role":"assistant"}])"),
                  "messages.1.content: required");
    require_error(message_of("5"), "messages.0.content: must be a string or an array of content blocks");
    require_error(message_of("[1]"), "messages.0.content.0: must be an object");
    require_error(message_of(R"([{"text":"x"}])"), "messages.0.content.0.type: required");
    require_error(message_of(R"([{"type":"text"}])"), "messages.0.content.0.text: required");
    require_error(message_of(R"([{"type":"text","text":5}])"), "messages.0.content.0.text: must be a string");
    require_error(message_of(R"("bad \q escape")"), "messages.0.content: invalid escape sequence in string");
}

TEST_CASE("request errors: tool_use and tool_result", "[request][errors]") {
    require_error(with_messages(R"([{"role":"user","content":"x"},
        {"role":"assistant","content":[{"type":"tool_use","name":"X","input":{}}]}])"),
                  "messages.1.content.0.id: required");
    require_error(with_messages(R"([{"role":"user","content":"x"},
        {"role":"assistant","content":[{"type":"text","text":"t"},{"type":"tool_use","id":"a","input":{}}]}])"),
                  "messages.1.content.1.name: required");
    require_error(with_messages(R"([{"role":"user","content":"x"},
        {"role":"assistant","content":[{"type":"tool_use","id":"a","name":"X","input":"{}"}]}])"),
                  "messages.1.content.0.input: must be an object");
    require_error(with_messages(R"([{"role":"user","content":"x"},
        {"role":"assistant","content":[{"type":"tool_use","id":"a","name":"X","input":{}}]},
        {"role":"user","content":"y"},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":"r"},
                                  {"type":"tool_result","content":"r"}]}])"),
                  "messages.3.content.1.tool_use_id: required");
    require_error(message_of(R"([{"type":"tool_result","tool_use_id":"a","content":5}])"),
                  "messages.0.content.0.content: must be a string or an array of content blocks");
}

TEST_CASE("request errors: images and documents", "[request][errors]") {
    require_error(message_of(R"([{"type":"image","source":{"type":"base64","media_type":"image/png"}}])"),
                  "messages.0.content.0.source.data: required");
    require_error(message_of(R"([{"type":"image","source":{"type":"base64","media_type":"image/png","data":""}}])"),
                  "messages.0.content.0.source.data: required");
    require_error(message_of(R"([{"type":"image","source":{"type":"base64","data":"AAAA"}}])"),
                  "messages.0.content.0.source.media_type: required");
    require_error(message_of(R"([{"type":"image"}])"), "messages.0.content.0.source: required");
    require_error(message_of(R"([{"type":"image","source":{"type":"url"}}])"), "messages.0.content.0.source.url: required");
    require_error(message_of(R"([{"type":"image","source":{"type":"ftp"}}])"),
                  R"(messages.0.content.0.source.type: must be one of "base64", "url", "file")");
    require_error(message_of(R"([{"type":"image","source":"x"}])"), "messages.0.content.0.source: must be an object");
    require_error(message_of(R"([{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"t"},
                                  {"type":"image","source":{"type":"base64","media_type":"image/png"}}]}])"),
                  "messages.0.content.0.content.1.source.data: required");
    require_error(message_of(R"([{"type":"document","source":{"type":"text"}}])"),
                  "messages.0.content.0.source.data: required");
    require_error(message_of(R"([{"type":"document","source":{"type":"base64","media_type":"application/pdf"}}])"),
                  "messages.0.content.0.source.data: required");
}

TEST_CASE("request errors: system, tools, tool_choice", "[request][errors]") {
    require_error(with_field(R"("system":5)"), "system: must be a string or an array of text blocks");
    require_error(with_field(R"("system":[{"type":"image"}])"), R"(system.0.type: must be "text")");
    require_error(with_field(R"("system":[{"type":"text","text":"a"},{"type":"text"}])"), "system.1.text: required");
    require_error(with_field(R"("tools":{})"), "tools: must be an array");
    require_error(with_field(R"("tools":[{"name":"a","input_schema":{}},{"input_schema":{}}])"), "tools.1.name: required");
    require_error(with_field(R"("tools":[{"name":"a"}])"), "tools.0.input_schema: required");
    require_error(with_field(R"("tools":[{"name":"a","input_schema":[]}])"), "tools.0.input_schema: must be an object");
    require_error(with_field(R"("tool_choice":"auto")"), "tool_choice: must be an object");
    require_error(with_field(R"("tool_choice":{})"), "tool_choice.type: required");
    require_error(with_field(R"("tool_choice":{"type":"some"})"),
                  R"(tool_choice.type: must be one of "auto", "any", "tool", "none")");
    require_error(with_field(R"("tool_choice":{"type":"tool"})"), "tool_choice.name: required");
    msgbridge::request_options strict;
    strict.server_tools = msgbridge::server_tool_policy::reject;
    require_error(with_field(R"("tools":[{"type":"web_search_20250305","name":"web_search"}])"),
                  R"(tools.0.type: server tool "web_search_20250305" has no upstream equivalent)", strict);
}

TEST_CASE("request errors: sampling, stop, stream, thinking, metadata", "[request][errors]") {
    require_error(with_field(R"("temperature":"hot")"), "temperature: must be a number");
    require_error(with_field(R"("top_p":[])"), "top_p: must be a number");
    require_error(with_field(R"("top_k":1.5)"), "top_k: must be an integer");
    require_error(with_field(R"("stop_sequences":"END")"), "stop_sequences: must be an array of strings");
    require_error(with_field(R"("stop_sequences":["a",5])"), "stop_sequences.1: must be a string");
    require_error(with_field(R"("stream":"yes")"), "stream: must be a boolean");
    require_error(with_field(R"("thinking":{})"), "thinking.type: required");
    require_error(with_field(R"("thinking":{"type":"enabled"})"), "thinking.budget_tokens: required");
    require_error(with_field(R"("thinking":{"type":"on"})"),
                  R"(thinking.type: must be one of "enabled", "adaptive", "disabled")");
    require_error(with_field(R"("thinking":{"type":"enabled","budget_tokens":-5})"),
                  "thinking.budget_tokens: must be a non-negative integer");
    require_error(with_field(R"("metadata":{"user_id":5})"), "metadata.user_id: must be a string");
    require_error(with_field(R"("output_config":{"effort":1})"), "output_config.effort: must be a string");
}

TEST_CASE("request errors: a profile with a broken extra_body is an api_error", "[request][errors]") {
    msgbridge::request_options options;
    msgbridge::model_profile profile;
    profile.match = "*";
    profile.extra_body = "[1]";
    options.profiles.push_back(profile);
    auto converted = msgbridge::convert_request(message_of(R"("x")"), options);
    REQUIRE_FALSE(converted.has_value());
    CHECK(converted.error().type == msgbridge::error_type::api_error);
    CHECK(converted.error().message == R"(options: profile "*" extra_body: must be a JSON object)");
}

TEST_CASE("request errors: no input crashes the converter (every prefix, every flipped byte)", "[request][errors]") {
    const std::string valid = head + R"("system":[{"type":"text","text":"s"}],"tools":[{"name":"a","input_schema":{"type":"object"}}],
        "messages":[{"role":"user","content":[{"type":"text","text":"x\n"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA"}}]},
        {"role":"assistant","content":[{"type":"thinking","thinking":"t"},{"type":"tool_use","id":"i","name":"a","input":{"k":[1,{"z":"\""}]}}]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"i","content":[{"type":"text","text":"r"}]}]}],
        "tool_choice":{"type":"any"},"stop_sequences":["x"],"thinking":{"type":"enabled","budget_tokens":100}})";
    REQUIRE(msgbridge::convert_request(valid).has_value());
    msgbridge::request_converter converter;
    std::size_t failures = 0;
    for (std::size_t cut = 0; cut < valid.size(); ++cut) {
        auto converted = converter.convert(std::string_view(valid).substr(0, cut));
        if (!converted) ++failures;
    }
    CHECK(failures == valid.size());  // no prefix of an object is a complete request
    const char replacements[] = {'"', '{', '}', '[', ']', ',', ':', '\\', 'x', '\0', ' '};
    for (std::size_t at = 0; at < valid.size(); ++at) {
        for (char replacement : replacements) {
            std::string mutated = valid;
            mutated[at] = replacement;
            auto converted = converter.convert(mutated);
            if (converted) {
                rapidjson::Document doc;
                request_test::parse(doc, converted->body);
                INFO("mutated input: " << mutated);
                REQUIRE_FALSE(doc.HasParseError());
            }
        }
    }
}

TEST_CASE("request errors: a top-level field given twice is refused, not half-applied (fuzz finding)",
          "[request][errors]") {
    // Found by fuzz_request: a second "tools" array was written after the
    // first had been closed, corrupting the writer's state.
    const std::string tool = R"({"name":"t","input_schema":{"type":"object"}})";
    require_error(head + R"("tools":[)" + tool + R"(],"tools":[)" + tool +
                      R"(],"messages":[{"role":"user","content":"hi"}]})",
                  "tools: appears more than once");
    require_error(with_field(R"("model":"other")"), "model: appears more than once");
    require_error(with_field(R"("max_tokens":5)"), "max_tokens: appears more than once");
    require_error(head + R"("messages":[{"role":"user","content":"a"}],"messages":[{"role":"user","content":"b"}]})",
                  "messages: appears more than once");
    for (const char* field : {R"("system":"a","system":"b")", R"("stream":true,"stream":false)",
                              R"("temperature":1,"temperature":0.5)", R"("top_p":1,"top_p":0.5)",
                              R"("top_k":1,"top_k":2)", R"("stop_sequences":["a"],"stop_sequences":["b"])",
                              R"("metadata":{},"metadata":{})", R"("thinking":{"type":"disabled"},"thinking":{"type":"disabled"})",
                              R"("output_config":{},"output_config":{})", R"("tool_choice":{"type":"auto"},"tool_choice":{"type":"auto"})"}) {
        INFO(field);
        auto converted = msgbridge::convert_request(with_field(field));
        REQUIRE_FALSE(converted.has_value());
        CHECK(converted.error().message.find("appears more than once") != std::string::npos);
    }
    SECTION("an unknown field given twice is still only ignored") {
        auto converted = msgbridge::convert_request(with_field(R"("future":1,"future":2)"));
        CHECK(converted.has_value());
    }
}
