// SPDX-License-Identifier: MIT
// A Claude Code 2.1.330-shaped request (tests/data/request/claude_code.*):
// billing header, 12 tools with $schema/additionalProperties, one deferred
// tool with an empty schema, adaptive thinking, effort, context_management,
// a JSON-encoded metadata.user_id, a role:"system" turn, tool loops with
// cache_control, an MCP tool name over 64 characters.
#include <algorithm>
#include <string>
#include <vector>

#include "support/request_test_util.hpp"

using request_test::data_path;
using request_test::has_warning;
using request_test::read_file;

namespace {
msgbridge::request_options claude_code_options(const std::string& upstream) {
    msgbridge::request_options options;
    options.default_model = upstream;
    return options;
}
}  // namespace

TEST_CASE("request: a Claude Code request converts to the exact expected body", "[request][claude_code]") {
    const std::string body = read_file(data_path("claude_code.anthropic.json"));
    const std::string expected = read_file(data_path("claude_code.openai.json"));
    auto converted = request_test::convert_ok(body, claude_code_options("z-ai/glm5"));
    request_test::require_same_json(converted.body, expected);

    CHECK(converted.upstream_model == "z-ai/glm5");
    CHECK(converted.stream);
    CHECK(converted.max_tokens == 128000);
    CHECK(converted.context.client_model == "claude-opus-5-5");
    REQUIRE(converted.context.tool_names.size() == 1);
    CHECK(converted.context.tool_names[0].second ==
          "mcp__plugin_github_github__search_pull_requests_with_extended_filters_and_sorting");
    CHECK(converted.context.tool_names[0].first == "mcp__plugin_github_github__search_pull_requests_wit_59abc4bb6199");
    CHECK(converted.context.stop_sequences.empty());
    CHECK_FALSE(converted.context.think_tags_in_content);
    CHECK(has_warning(converted, "ignored (no upstream equivalent): context_management"));
    CHECK(has_warning(converted, "output_config.effort: no upstream equivalent"));
    CHECK(converted.warnings.size() == 2);

    msgbridge::request_converter counter;
    auto counted = counter.count_tokens(body);
    REQUIRE(counted.has_value());
    CHECK(*counted == converted.context.estimated_input_tokens);
    CHECK(*counted > 1000);
}

TEST_CASE("request: a Claude Code request against each NVIDIA model", "[request][claude_code]") {
    const std::string body = read_file(data_path("claude_code.anthropic.json"));
    SECTION("Kimi: reasoning_content, thinking kwarg, output capped") {
        auto converted = request_test::convert_ok(body, claude_code_options("moonshotai/kimi-k2.5"));
        CHECK(converted.max_tokens == 32768);
        CHECK(converted.body.find(R"("chat_template_kwargs":{"thinking":true})") != std::string::npos);
        CHECK(converted.body.find(R"("reasoning_content":"I should run the tests first to see the failure.")") != std::string::npos);
    }
    SECTION("GLM 4.7: same shape as GLM 5") {
        auto converted = request_test::convert_ok(body, claude_code_options("z-ai/glm4.7"));
        auto glm5 = request_test::convert_ok(body, claude_code_options("z-ai/glm5"));
        std::string expected = glm5.body;
        expected.replace(expected.find("z-ai/glm5"), 9, "z-ai/glm4.7");
        request_test::require_same_json(converted.body, expected);
    }
    SECTION("MiniMax: <think> replay, no reasoning control, response told to read think tags") {
        auto converted = request_test::convert_ok(body, claude_code_options("minimaxai/minimax-m2.1"));
        CHECK(converted.context.think_tags_in_content);
        CHECK(converted.max_tokens == 65536);
        CHECK(converted.body.find(R"("content":"<think>\nI should run the tests first to see the failure.\n</think>\n\nLet me run the tests.")") != std::string::npos);
        CHECK(converted.body.find("chat_template_kwargs") == std::string::npos);
        CHECK(converted.body.find("reasoning_content") == std::string::npos);
    }
    SECTION("an unknown upstream: what the client sent, output not capped") {
        auto converted = request_test::convert_ok(body, claude_code_options("acme/unknown-1"));
        CHECK(converted.max_tokens == 128000);
        CHECK(converted.body.find(R"("model":"acme/unknown-1")") != std::string::npos);
    }
}

namespace {

// Everything in `doc` (recursively) that an OpenAI-compatible upstream must
// not see from a Claude Code request, as "path: what".
void find_hostile(const rapidjson::Value& value, const std::string& path, std::vector<std::string>& found) {
    static constexpr std::string_view anthropic_only[] = {"cache_control", "defer_loading", "signature", "metadata",
                                                          "context_management", "output_config", "thinking", "user"};
    if (value.IsObject()) {
        for (auto it = value.MemberBegin(); it != value.MemberEnd(); ++it) {
            const std::string_view name(it->name.GetString(), it->name.GetStringLength());
            const std::string here = path + "." + std::string(name);
            // Tool schemas are the client's own JSON, and template kwargs the
            // template's own words (Kimi's is `thinking`): any name goes there.
            if (name == "parameters" || name == "chat_template_kwargs") continue;
            for (auto hostile : anthropic_only) {
                if (name == hostile) found.push_back(here + ": Anthropic-only member");
            }
            find_hostile(it->value, here, found);
        }
    } else if (value.IsArray()) {
        for (rapidjson::SizeType i = 0; i < value.Size(); ++i)
            find_hostile(value[i], path + "[" + std::to_string(i) + "]", found);
    } else if (value.IsString()) {
        const std::string_view text(value.GetString(), value.GetStringLength());
        for (std::string_view leak : {"a3f1c2e4b5d6978812ab", "7b1e2d3c-4a5b", "x-anthropic-billing-header",
                                      "EqQBCkYIBxgCKk", "EmwKAhgBEgy3va3p"}) {
            if (text.find(leak) != std::string_view::npos) found.push_back(path + ": carries " + std::string(leak));
        }
    }
}

// The message-sequence rules every chat template we know enforces.
void check_messages(const rapidjson::Value& messages, bool system_only_first) {
    std::vector<std::string> open_calls;  // tool_calls of the last assistant message not yet answered
    for (rapidjson::SizeType i = 0; i < messages.Size(); ++i) {
        INFO("messages[" << i << "]: " << request_test::pretty(messages[i]));
        const std::string role = messages[i]["role"].GetString();
        if (system_only_first && role == "system") CHECK(i == 0);
        if (role == "tool") {
            const std::string content = messages[i]["content"].GetString();
            CHECK_FALSE(content.empty());
            const std::string id = messages[i]["tool_call_id"].GetString();
            auto open = std::find(open_calls.begin(), open_calls.end(), id);
            CHECK(open != open_calls.end());
            if (open != open_calls.end()) open_calls.erase(open);
            continue;
        }
        CHECK(open_calls.empty());  // every tool call answered before anything else
        open_calls.clear();
        if (role == "assistant" && messages[i].HasMember("tool_calls")) {
            for (const auto& call : messages[i]["tool_calls"].GetArray()) open_calls.emplace_back(call["id"].GetString());
        }
        if (role == "user") {
            const auto& content = messages[i]["content"];
            CHECK((content.IsArray() ? content.Size() > 0 : content.GetStringLength() > 0));
        }
    }
    CHECK(open_calls.empty());
}

std::string tool_content(const rapidjson::Value& messages, std::string_view id) {
    for (const auto& m : messages.GetArray()) {
        if (m.HasMember("tool_call_id") && m["tool_call_id"].GetString() == id) return m["content"].GetString();
    }
    return "<no tool message for " + std::string(id) + ">";
}

}  // namespace

TEST_CASE("request: a recorded Claude Code 2.1.332 request forwards nothing upstream-hostile", "[request][claude_code]") {
    // System blocks with cache_control and the billing header, deferred MCP
    // tools found by ToolSearch (tool_reference results), a server tool,
    // metadata.user_id with device and session ids, the environment block as
    // a mid-conversation system turn, signed and redacted thinking.
    const std::string body = read_file(data_path("claude_code_2_1_332.anthropic.json"));
    struct upstream_case {
        std::string model;
        bool system_only_first;
    };
    for (const auto& c : {upstream_case{"acme/local-model", true}, upstream_case{"z-ai/glm5", false},
                          upstream_case{"minimaxai/minimax-m2.1", false}, upstream_case{"moonshotai/kimi-k2.5", false}}) {
        INFO("upstream " << c.model);
        auto converted = request_test::convert_ok(body, claude_code_options(c.model));
        rapidjson::Document doc;
        request_test::parse(doc, converted.body);
        REQUIRE_FALSE(doc.HasParseError());
        CHECK(std::string(doc["model"].GetString()) == c.model);

        std::vector<std::string> hostile;
        find_hostile(doc, "", hostile);
        INFO("body: " << converted.body);
        CHECK(hostile.empty());
        for (const auto& h : hostile) UNSCOPED_INFO(h);

        const auto& messages = doc["messages"];
        check_messages(messages, c.system_only_first);
        CHECK(std::string(messages[0]["role"].GetString()) == "system");
        CHECK(tool_content(messages, "toolu_01Search") ==
              "Tools loaded: mcp__github__get_pull_request, mcp__github__list_pull_request_files");
        CHECK(tool_content(messages, "toolu_03Files") == "(no text content)");
        CHECK(has_warning(converted, "server tools left out (no upstream equivalent): WebSearch"));
        // The deferred tools ToolSearch loaded are in the tool list, with a schema strict servers take.
        CHECK(converted.body.find(R"("name":"mcp__github__get_pull_request","description":"Get a pull request.","parameters":{"type":"object","properties":{}})") !=
              std::string::npos);
    }
    SECTION("the catch-all profile carries the environment block as system guidance in a user turn") {
        auto converted = request_test::convert_ok(body, claude_code_options("acme/local-model"));
        CHECK(converted.body.find(R"("role":"user","content":"System guidance:\n\n<env>\nWorking directory: /home/dev/project)") !=
              std::string::npos);
    }
    SECTION("with leading_system the environment block joins the first system message") {
        auto options = claude_code_options("acme/local-model");
        options.profiles = {msgbridge::find_profile({}, "acme/local-model")};
        options.profiles[0].late_system = msgbridge::late_system_placement::leading_system;
        auto converted = request_test::convert_ok(body, options);
        rapidjson::Document doc;
        request_test::parse(doc, converted.body);
        REQUIRE_FALSE(doc.HasParseError());
        check_messages(doc["messages"], true);
        const std::string system = doc["messages"][0]["content"].GetString();
        CHECK(system.find("You are Claude Code") == 0);
        CHECK(system.find("\n\n<env>\nWorking directory: /home/dev/project") != std::string::npos);
        CHECK(converted.body.find("System guidance") == std::string::npos);
    }
}
