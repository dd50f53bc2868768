// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "msgbridge/options.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

inline bool glob_match(std::string_view pattern, std::string_view text) noexcept {
    // Iterative matching with one backtrack point: linear for the patterns
    // people write (`claude-*haiku*`), never exponential on hostile ones.
    std::size_t p = 0, t = 0;
    std::size_t star = std::string_view::npos, resume = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

namespace detail {
// What we assume of a model nobody has described: that it takes what the
// client sent. Images, `top_k` and the client's effort (as `reasoning_effort`)
// go through and output is not capped: the upstream decides, and a refusal
// naming a parameter is for the server's self-healing retry to learn from
// (docs/models.md). A guess here would silently change every request.
inline model_profile open_profile() {
    model_profile profile;
    profile.match = "*";
    profile.reasoning = reasoning_control::reasoning_effort;
    profile.file_parts = false;
    // The one placement every chat template accepts that also keeps the
    // conversation's prefix (and so the upstream's prompt cache) unchanged.
    profile.late_system = late_system_placement::user_turn;
    return profile;
}

// What the NVIDIA-hosted families have in common: their limits, no vision
// unless the family has it, and no file parts (NIM rejects them).
inline model_profile nvidia_hosted_profile(std::string match, std::uint32_t max_output_tokens,
                                           std::uint32_t context_window) {
    model_profile profile;
    profile.match = std::move(match);
    profile.max_output_tokens = max_output_tokens;
    profile.context_window = context_window;
    profile.vision = false;
    profile.file_parts = false;
    return profile;
}
}  // namespace detail

inline std::vector<model_profile> default_profiles() {
    // Reasons and sources for every value: docs/models.md.
    std::vector<model_profile> profiles;

    model_profile kimi = detail::nvidia_hosted_profile("moonshotai/kimi-k2*", 32768, 262144);
    kimi.vision = true;
    kimi.replay = reasoning_replay::reasoning_content;
    kimi.reasoning = reasoning_control::chat_template_kwargs;
    kimi.thinking_kwarg = "thinking";
    profiles.push_back(kimi);

    model_profile glm = detail::nvidia_hosted_profile("z-ai/glm*", 131072, 202752);
    glm.replay = reasoning_replay::reasoning_content;
    glm.reasoning = reasoning_control::chat_template_kwargs;
    glm.thinking_kwarg = "enable_thinking";
    // Preserved thinking: GLM drops replayed reasoning unless told to keep it.
    glm.extra_body = R"({"chat_template_kwargs":{"clear_thinking":false}})";
    profiles.push_back(glm);

    model_profile minimax = detail::nvidia_hosted_profile("minimaxai/minimax-m2*", 65536, 204800);
    minimax.replay = reasoning_replay::think_tags;
    minimax.reasoning = reasoning_control::none;
    minimax.think_tags_in_content = true;
    minimax.tool_choice_required = false;
    profiles.push_back(minimax);

    profiles.push_back(detail::open_profile());
    return profiles;
}

inline std::string_view map_model(const request_options& options, std::string_view client_model) noexcept {
    for (const auto& alias : options.model_map) {
        if (glob_match(alias.pattern, client_model)) return alias.upstream_model;
    }
    if (!options.default_model.empty() && client_model.substr(0, 6) == "claude") return options.default_model;
    return client_model;
}

inline const model_profile& find_profile(const std::vector<model_profile>& profiles,
                                         std::string_view upstream_model) {
    for (const auto& profile : profiles) {
        if (glob_match(profile.match, upstream_model)) return profile;
    }
    // A function-local constant, not namespace-scope state: built once, never changed.
    static const model_profile fallback = detail::open_profile();
    return fallback;
}

MSGBRIDGE_END_NAMESPACE
