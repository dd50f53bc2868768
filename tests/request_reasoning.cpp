// SPDX-License-Identifier: MIT
#include "support/request_test_util.hpp"

using request_test::has_warning;
using request_test::require_converts_to;

namespace {
const std::string history = R"("messages":[{"role":"user","content":"q"},
    {"role":"assistant","content":[{"type":"thinking","thinking":"let me think","signature":"sig"},
                                   {"type":"redacted_thinking","data":"opaque"},
                                   {"type":"text","text":"answer"},
                                   {"type":"tool_use","id":"t","name":"X","input":{}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"r"}]}])";
std::string expected_history(const std::string& assistant_fields) {
    return R"("messages":[{"role":"user","content":"q"},
        {"role":"assistant",)" + assistant_fields + R"(,"tool_calls":[{"id":"t","type":"function","function":{"name":"X","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"t","content":"r"}])";
}
}  // namespace

TEST_CASE("request: thinking blocks are replayed per the model's profile", "[request]") {
    SECTION("as reasoning_content (Kimi)") {
        auto converted = require_converts_to(R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,)" + history + "}",
            R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,)" +
                expected_history(R"("content":"answer","reasoning_content":"let me think")") + "}");
        CHECK(has_warning(converted, "redacted_thinking: 1 block(s) left out"));
        CHECK_FALSE(converted.context.think_tags_in_content);
    }
    SECTION("as <think> text (MiniMax), and the response side is told") {
        auto converted = require_converts_to(R"({"model":"minimaxai/minimax-m2.1","max_tokens":10,)" + history + "}",
            R"({"model":"minimaxai/minimax-m2.1","max_tokens":10,)" +
                expected_history(R"("content":"<think>\nlet me think\n</think>\n\nanswer")") + "}");
        CHECK(converted.context.think_tags_in_content);
    }
    SECTION("or dropped") {
        msgbridge::request_options options;
        options.profiles = msgbridge::default_profiles();
        options.profiles[0].replay = msgbridge::reasoning_replay::drop;
        require_converts_to(R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,)" + history + "}",
                            R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,)" + expected_history(R"("content":"answer")") + "}",
                            options);
    }
}

TEST_CASE("request: thinking and effort become the profile's reasoning controls", "[request]") {
    const std::string hi = R"("messages":[{"role":"user","content":"hi"}])";
    SECTION("GLM: chat_template_kwargs.enable_thinking, merged with the profile's own kwargs") {
        require_converts_to(R"({"model":"z-ai/glm4.7","max_tokens":10,"thinking":{"type":"adaptive","display":"omitted"},)" + hi + "}",
                            R"({"model":"z-ai/glm4.7","max_tokens":10,)" + hi +
                                R"(,"chat_template_kwargs":{"enable_thinking":true,"clear_thinking":false}})");
        require_converts_to(R"({"model":"z-ai/glm5","max_tokens":10,"thinking":{"type":"disabled"},)" + hi + "}",
                            R"({"model":"z-ai/glm5","max_tokens":10,)" + hi +
                                R"(,"chat_template_kwargs":{"enable_thinking":false,"clear_thinking":false}})");
    }
    SECTION("Kimi: chat_template_kwargs.thinking; the effort has no equivalent and is named") {
        auto converted = require_converts_to(
            R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"thinking":{"type":"enabled","budget_tokens":2000},"output_config":{"effort":"high"},)" + hi + "}",
            R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,)" + hi + R"(,"chat_template_kwargs":{"thinking":true}})");
        CHECK(has_warning(converted, "output_config.effort: no upstream equivalent"));
    }
    SECTION("reasoning_effort from output_config.effort, else from budget_tokens") {
        msgbridge::request_options options;
        msgbridge::model_profile profile;
        profile.match = "*";
        profile.reasoning = msgbridge::reasoning_control::reasoning_effort;
        options.profiles.push_back(profile);
        require_converts_to(R"({"model":"gpt-x","max_tokens":10,"thinking":{"type":"adaptive"},"output_config":{"effort":"medium"},)" + hi + "}",
                            R"({"model":"gpt-x","max_tokens":10,"reasoning_effort":"medium",)" + hi + "}", options);
        require_converts_to(R"({"model":"gpt-x","max_tokens":10,"output_config":{"effort":"max"},)" + hi + "}",
                            R"({"model":"gpt-x","max_tokens":10,"reasoning_effort":"high",)" + hi + "}", options);
        require_converts_to(R"({"model":"gpt-x","max_tokens":10,"thinking":{"type":"enabled","budget_tokens":1024},)" + hi + "}",
                            R"({"model":"gpt-x","max_tokens":10,"reasoning_effort":"low",)" + hi + "}", options);
        require_converts_to(R"({"model":"gpt-x","max_tokens":10,"thinking":{"type":"enabled","budget_tokens":8000},)" + hi + "}",
                            R"({"model":"gpt-x","max_tokens":10,"reasoning_effort":"medium",)" + hi + "}", options);
        require_converts_to(R"({"model":"gpt-x","max_tokens":10,"thinking":{"type":"enabled","budget_tokens":32000},)" + hi + "}",
                            R"({"model":"gpt-x","max_tokens":10,"reasoning_effort":"high",)" + hi + "}", options);
        require_converts_to(R"({"model":"gpt-x","max_tokens":10,"thinking":{"type":"disabled"},"output_config":{"effort":"low"},)" + hi + "}",
                            R"({"model":"gpt-x","max_tokens":10,)" + hi + "}", options);
    }
    SECTION("a profile without reasoning controls names what it left out") {
        auto converted = require_converts_to(R"({"model":"minimaxai/minimax-m2.1","max_tokens":10,"thinking":{"type":"adaptive"},)" + hi + "}",
                                             R"({"model":"minimaxai/minimax-m2.1","max_tokens":10,)" + hi + "}");
        CHECK(has_warning(converted, "has no reasoning control"));
    }
}
