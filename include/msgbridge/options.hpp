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

/// Where a `system` turn that follows other messages goes (Claude Code sends
/// one on most turns). Several chat templates reject a system message that is
/// not the first. See docs/request-mapping.md.
enum class late_system_placement {
    in_place,        ///< a `system` message where the turn was
    user_turn,       ///< a user text part `System guidance:\n\n…`, where the turn was
    leading_system,  ///< appended to the one system message at the start
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
    late_system_placement late_system = late_system_placement::in_place;  ///< a `system` turn after other messages
    bool think_tags_in_content = false;  ///< response: leading `<think>…</think>` text is reasoning
    std::string extra_body;              ///< JSON object whose members are merged into the request
    std::string thinking_kwarg = "thinking";  ///< the `chat_template_kwargs` key that switches thinking
    bool tool_choice_required = true;    ///< accepts `"required"` and a named function; false: "auto" + warning
    bool file_parts = true;              ///< PDFs as OpenAI `file` parts; false: a text placeholder
    bool salvage_text_tool_calls = true; ///< response: tool calls written as text become `tool_use` (docs/models.md)
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

/// What becomes of `metadata.user_id`, which Claude Code fills with its
/// device and session ids.
enum class user_id_forwarding {
    off,    ///< not sent upstream
    as_is,  ///< sent as OpenAI's `user`, exactly as the client wrote it
    hash,   ///< sent as `user`: 16 hex digits of its FNV-1a 64 hash, to group requests, not to hide the id
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
    user_id_forwarding forward_user_id = user_id_forwarding::off;  ///< identifiers leave only when asked
};

/// Profiles shipped for the NVIDIA models named in the README plus a `*`
/// fallback that forwards what the client sent, in match order.
[[nodiscard]] inline std::vector<model_profile> default_profiles();

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one byte).
[[nodiscard]] inline bool glob_match(std::string_view pattern, std::string_view text) noexcept;

/// The upstream model `client_model` becomes: the first `model_map` match,
/// else `default_model` for a name starting with `claude`, else the name itself.
[[nodiscard]] inline std::string_view map_model(const request_options& options, std::string_view client_model) noexcept;

/// The first profile in `profiles` whose `match` fits `upstream_model`;
/// the `*` fallback of default_profiles() when none does.
[[nodiscard]] inline const model_profile& find_profile(const std::vector<model_profile>& profiles,
                                                       std::string_view upstream_model);

MSGBRIDGE_END_NAMESPACE

#include "msgbridge/detail/options_impl.hpp"
