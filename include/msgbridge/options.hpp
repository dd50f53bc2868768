// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// How an assistant turn's `thinking` blocks go back to the upstream.
enum class reasoning_replay {
    reasoning_content,  ///< `reasoning_content` on the assistant message (Kimi, DeepSeek need it)
    think_tags,         ///< `<think>…</think>` prepended to the assistant text
    drop,               ///< left out
};

/// How `thinking` / `output_config.effort` turn into upstream reasoning controls.
enum class reasoning_control {
    none,                  ///< send nothing
    reasoning_effort,      ///< OpenAI's `reasoning_effort: low|medium|high`
    chat_template_kwargs,  ///< `chat_template_kwargs: {"thinking": true|false}` (vLLM / NIM templates)
};

/// What one upstream model accepts and needs. Matched against the upstream
/// model name; `match` may be a glob (`*`, `?`). See docs/models.md.
struct model_profile {
    std::string match = "*";
    std::optional<std::uint32_t> max_output_tokens;  ///< clamp for max_tokens
    std::optional<std::uint32_t> context_window;
    bool vision = true;                  ///< false: images become a text placeholder
    reasoning_replay replay = reasoning_replay::reasoning_content;
    reasoning_control reasoning = reasoning_control::none;
    bool tool_choice_auto = true;        ///< false: omit `tool_choice: "auto"` (it is the default anyway)
    bool parallel_tool_calls = true;     ///< false: never send `parallel_tool_calls`
    bool top_k = true;                   ///< false: leave `top_k` out
    bool stream_usage = true;            ///< send `stream_options.include_usage`
    bool late_system_as_user = false;    ///< a `system` turn after the first becomes a user message
    bool think_tags_in_content = false;  ///< response: leading `<think>…</think>` text is reasoning
    std::string extra_body;              ///< JSON object whose members are merged into the request
    std::string thinking_kwarg = "thinking";  ///< the `chat_template_kwargs` key that switches thinking
    bool tool_choice_required = true;    ///< accepts `"required"` and a named function; false: "auto" + warning
    bool file_parts = true;              ///< PDFs as OpenAI `file` parts; false: a text placeholder
};

/// A client model name (glob allowed, e.g. `claude-*haiku*`) and the upstream model it becomes.
struct model_alias {
    std::string pattern;
    std::string upstream_model;
};

/// What becomes of Anthropic server tools (`web_search_*`, `bash_*`, …), which
/// have no OpenAI equivalent.
enum class server_tool_policy {
    drop_with_warning,  ///< leave them out, name them in `warnings`
    reject,             ///< answer invalid_request_error
};

/// Options for the request converter; everything defaults to what Claude Code
/// against NVIDIA's endpoint needs.
struct request_options {
    std::vector<model_alias> model_map;   ///< first match wins
    std::string default_model;            ///< used for a `claude-*` name no alias matched; empty: pass through
    std::vector<model_profile> profiles;  ///< first match wins; empty: default_profiles()
    bool drop_billing_header = true;      ///< leave out Claude Code's `x-anthropic-billing-header:` system block
    bool forward_deferred_tools = true;   ///< tools marked `defer_loading` are sent like any other
    server_tool_policy server_tools = server_tool_policy::drop_with_warning;
};

/// Profiles shipped for the NVIDIA models named in the README plus a
/// conservative `*` fallback, in match order.
[[nodiscard]] inline std::vector<model_profile> default_profiles();

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one byte).
[[nodiscard]] inline bool glob_match(std::string_view pattern, std::string_view text) noexcept;

/// The first profile in `profiles` whose `match` fits `upstream_model`;
/// a conservative default when none does.
[[nodiscard]] inline const model_profile& find_profile(const std::vector<model_profile>& profiles,
                                                       std::string_view upstream_model);

// ---- implementation ----

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
// What we assume of a model nobody has described: no vision, no top_k (OpenAI
// proper rejects it), an output cap that every hosted model we know accepts.
inline model_profile conservative_profile() {
    model_profile profile;
    profile.match = "*";
    profile.max_output_tokens = 32768;
    profile.vision = false;
    profile.top_k = false;
    profile.file_parts = false;
    return profile;
}
}  // namespace detail

inline std::vector<model_profile> default_profiles() {
    // Reasons and sources for every value: docs/models.md.
    std::vector<model_profile> profiles;

    model_profile kimi;
    kimi.match = "moonshotai/kimi-k2*";
    kimi.max_output_tokens = 32768;
    kimi.context_window = 262144;
    kimi.vision = true;
    kimi.replay = reasoning_replay::reasoning_content;
    kimi.reasoning = reasoning_control::chat_template_kwargs;
    kimi.thinking_kwarg = "thinking";
    kimi.file_parts = false;
    profiles.push_back(kimi);

    model_profile glm;
    glm.match = "z-ai/glm*";
    glm.max_output_tokens = 131072;
    glm.context_window = 202752;
    glm.vision = false;
    glm.replay = reasoning_replay::reasoning_content;
    glm.reasoning = reasoning_control::chat_template_kwargs;
    glm.thinking_kwarg = "enable_thinking";
    glm.file_parts = false;
    // Preserved thinking: GLM drops replayed reasoning unless told to keep it.
    glm.extra_body = R"({"chat_template_kwargs":{"clear_thinking":false}})";
    profiles.push_back(glm);

    model_profile minimax;
    minimax.match = "minimaxai/minimax-m2*";
    minimax.max_output_tokens = 65536;
    minimax.context_window = 204800;
    minimax.vision = false;
    minimax.replay = reasoning_replay::think_tags;
    minimax.reasoning = reasoning_control::none;
    minimax.think_tags_in_content = true;
    minimax.tool_choice_required = false;
    minimax.file_parts = false;
    profiles.push_back(minimax);

    profiles.push_back(detail::conservative_profile());
    return profiles;
}

inline const model_profile& find_profile(const std::vector<model_profile>& profiles,
                                         std::string_view upstream_model) {
    for (const auto& profile : profiles) {
        if (glob_match(profile.match, upstream_model)) return profile;
    }
    // A function-local constant, not namespace-scope state: built once, never changed.
    static const model_profile fallback = detail::conservative_profile();
    return fallback;
}

MSGBRIDGE_END_NAMESPACE
