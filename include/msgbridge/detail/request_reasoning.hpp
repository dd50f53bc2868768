// SPDX-License-Identifier: MIT
#pragma once

// Anthropic's reasoning controls (`thinking`, `output_config.effort`) and
// what each profile's upstream takes instead: `reasoning_effort`,
// `chat_template_kwargs`, or nothing (docs/request-mapping.md).

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "msgbridge/detail/json_escape.hpp"
#include "msgbridge/detail/request_converter.hpp"
#include "msgbridge/detail/request_text.hpp"
#include "msgbridge/request.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

inline std::string_view normalize_effort(std::string_view effort) noexcept {
    if (effort == "low" || effort == "medium" || effort == "high") return effort;
    if (effort == "max" || effort == "xhigh") return "high";
    if (effort == "minimal") return "low";
    return {};
}

// Anthropic's budget_tokens -> OpenAI's reasoning_effort (docs/request-mapping.md).
inline std::string_view effort_for_budget(std::uint64_t budget) noexcept {
    if (budget < 4096) return "low";
    if (budget < 16384) return "medium";
    return "high";
}

inline bool request_engine::convert_thinking(od::value value) {
    auto guard = push("thinking");
    bool has_budget = false;
    std::string_view& type = reasoning_.thinking_type;
    const bool read = visit_fields(value, [&](const char* key, od::value& field_value) {
        if (key_is(key, "type")) {
            if (auto code = field_value.get_string().get(type)) return fail_json(code, "type", "must be a string");
        } else if (key_is(key, "budget_tokens")) {
            if (auto code = field_value.get_uint64().get(reasoning_.budget))
                return fail_json(code, "budget_tokens", "must be a non-negative integer");
            has_budget = true;
        }
        return true;
    });
    if (!read) return false;
    if (type.data() == nullptr) return fail("type", "required");
    if (type != "enabled" && type != "adaptive" && type != "disabled")
        return fail("type", R"(must be one of "enabled", "adaptive", "disabled")");
    if (type == "enabled" && !has_budget) return fail("budget_tokens", "required");
    return true;
}

inline bool request_engine::convert_output_config(od::value value) {
    auto guard = push("output_config");
    return visit_fields(value, [this](const char* key, od::value& field_value) {
        if (key_is(key, "effort")) {
            if (auto code = field_value.get_string().get(reasoning_.effort))
                return fail_json(code, "effort", "must be a string");
        } else {
            left_out_.ignored_fields.push_back("output_config." + unescape_json_string(raw_key_content(key)));
        }
        return true;
    });
}

inline bool request_engine::write_reasoning_controls() {
    const std::string_view requested_effort = reasoning_.effort;
    const std::string_view thinking_type = reasoning_.thinking_type;
    std::string_view effort;
    if (requested_effort.data() != nullptr) {
        effort = normalize_effort(requested_effort);
        if (effort.empty())
            warn("output_config.effort: unknown value \"" + std::string(requested_effort) + "\"; left out");
    }
    if (effort.empty() && thinking_type == "enabled") effort = effort_for_budget(reasoning_.budget);
    const bool has_thinking = thinking_type.data() != nullptr;
    const bool thinking_off = thinking_type == "disabled";
    bool template_kwargs_written = false;
    switch (profile_->reasoning) {
        case reasoning_control::reasoning_effort:
            if (!thinking_off && !effort.empty() && emit("reasoning_effort")) {
                top_.key("reasoning_effort");
                top_.string(effort);
            }
            break;
        case reasoning_control::chat_template_kwargs:
            if (has_thinking) {
                // The profile's extra_body kwargs go into the same object; a
                // switch it sets itself wins over ours.
                std::string kwargs = "{";
                const auto& keys = extra_ != nullptr ? extra_->template_kwargs_keys : std::vector<std::string>{};
                if (std::find(keys.begin(), keys.end(), profile_->thinking_kwarg) == keys.end()) {
                    append_json_string(kwargs, profile_->thinking_kwarg);
                    kwargs += thinking_off ? ":false" : ":true";
                }
                if (extra_ != nullptr && !extra_->template_kwargs_inner.empty()) {
                    if (kwargs.size() > 1) kwargs += ',';
                    kwargs += extra_->template_kwargs_inner;
                }
                kwargs += '}';
                top_.key("chat_template_kwargs");
                top_.raw(kwargs);
                template_kwargs_written = true;
            }
            if (requested_effort.data() != nullptr)
                warn("output_config.effort: no upstream equivalent in profile \"" + profile_->match + "\"; left out");
            break;
        case reasoning_control::none:
            if (has_thinking || requested_effort.data() != nullptr)
                warn("thinking/output_config.effort: profile \"" + profile_->match +
                     "\" has no reasoning control; left out");
            break;
    }
    return template_kwargs_written;
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
