// SPDX-License-Identifier: MIT
// A Claude Code 2.1.330-shaped request (tests/data/request/claude_code.*):
// billing header, 12 tools with $schema/additionalProperties, one deferred
// tool with an empty schema, adaptive thinking, effort, context_management,
// a JSON-encoded metadata.user_id, a role:"system" turn, tool loops with
// cache_control, an MCP tool name over 64 characters.
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
    SECTION("an unknown upstream: the conservative fallback") {
        auto converted = request_test::convert_ok(body, claude_code_options("acme/unknown-1"));
        CHECK(converted.max_tokens == 32768);
        CHECK(converted.body.find(R"("model":"acme/unknown-1")") != std::string::npos);
    }
}
