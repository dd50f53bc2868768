// SPDX-License-Identifier: MIT
#include "support/request_test_util.hpp"

TEST_CASE("request options: glob_match", "[request][options]") {
    using msgbridge::glob_match;
    CHECK(glob_match("*", ""));
    CHECK(glob_match("*", "anything"));
    CHECK(glob_match("claude-*haiku*", "claude-3-5-haiku-20241022"));
    CHECK(glob_match("claude-*haiku*", "claude-haiku-4-5"));
    CHECK_FALSE(glob_match("claude-*haiku*", "claude-sonnet-4-5"));
    CHECK(glob_match("z-ai/glm?", "z-ai/glm5"));
    CHECK_FALSE(glob_match("z-ai/glm?", "z-ai/glm4.7"));
    CHECK(glob_match("exact", "exact"));
    CHECK_FALSE(glob_match("exact", "exact2"));
    CHECK_FALSE(glob_match("", "x"));
    CHECK(glob_match("a*b*c", "aXXbYYc"));
    CHECK_FALSE(glob_match("a*b*c", "aXXbYY"));
    CHECK_FALSE(glob_match(std::string(40, '*') + "b", std::string(200, 'a')));  // no blow-up
}

TEST_CASE("request options: default profiles cover the NVIDIA models and a fallback", "[request][options]") {
    const auto profiles = msgbridge::default_profiles();
    REQUIRE(profiles.size() == 4);
    CHECK(profiles.back().match == "*");
    const auto& kimi = msgbridge::find_profile(profiles, "moonshotai/kimi-k2.5");
    CHECK(kimi.vision);
    CHECK(kimi.replay == msgbridge::reasoning_replay::reasoning_content);
    CHECK(kimi.reasoning == msgbridge::reasoning_control::chat_template_kwargs);
    CHECK(kimi.thinking_kwarg == "thinking");
    const auto& glm47 = msgbridge::find_profile(profiles, "z-ai/glm4.7");
    const auto& glm5 = msgbridge::find_profile(profiles, "z-ai/glm5");
    CHECK(&glm47 == &glm5);
    CHECK(glm5.thinking_kwarg == "enable_thinking");
    CHECK_FALSE(glm5.vision);
    const auto& minimax = msgbridge::find_profile(profiles, "minimaxai/minimax-m2.1");
    CHECK(minimax.replay == msgbridge::reasoning_replay::think_tags);
    CHECK(minimax.think_tags_in_content);
    CHECK_FALSE(minimax.tool_choice_required);
    const auto& other = msgbridge::find_profile(profiles, "meta/llama-4");
    // A model nobody described gets what its client sent: images, top_k,
    // the effort as reasoning_effort, no output cap (docs/models.md).
    CHECK(other.match == "*");
    CHECK(other.top_k);
    CHECK(other.vision);
    CHECK(other.reasoning == msgbridge::reasoning_control::reasoning_effort);
    CHECK_FALSE(other.max_output_tokens.has_value());
    const auto& none = msgbridge::find_profile({}, "x");
    CHECK(none.match == "*");
    CHECK_FALSE(none.max_output_tokens.has_value());
    CHECK(none.vision);
}
