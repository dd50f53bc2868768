// SPDX-License-Identifier: MIT
#pragma once

// Tools and tool_choice: function tools as OpenAI writes them, tool names
// OpenAI would reject shortened the same way everywhere they appear, and
// tool_choice, written once the tools sent upstream are known. The walk over
// `tools` itself is in request_hot_walks.hpp.

#include <algorithm>
#include <string>
#include <string_view>

#include "msgbridge/detail/json_writer.hpp"
#include "msgbridge/detail/request_converter.hpp"
#include "msgbridge/detail/request_text.hpp"
#include "msgbridge/request.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// Opens {"type":"function","function":{"name":… in the top-level object;
// the caller closes both objects. An `offered` tool's upstream name is
// remembered when the profile salvages tool calls written as text.
inline void request_engine::start_function(std::string_view escaped_name, bool offered) {
    top_.start_object();
    top_.key("type");
    top_.string("function");
    top_.key("function");
    top_.start_object();
    top_.key("name");
    std::string shortened;
    const std::string_view sent = upstream_tool_name(escaped_name, shortened);
    write_tool_name(top_, sent, shortened);
    // `sent` is a valid OpenAI name when set, so it has no JSON escapes.
    if (offered && profile_->salvage_text_tool_calls) context_->offered_tools.emplace_back(shortened.empty() ? sent : shortened);
}

inline void request_engine::write_function_tool(std::string_view name, std::string_view description,
                                                std::string_view schema) {
    if (tools_.written++ == 0) {
        top_.key("tools");
        top_.start_array();
    }
    start_function(name, true);
    if (description.data() != nullptr) {
        top_.key("description");
        top_.raw_string(quoted(description));
    }
    top_.key("parameters");
    // An empty schema (deferred tools) is not a schema strict servers accept.
    if (schema.data() == nullptr || is_empty_object(schema)) {
        top_.raw(R"({"type":"object","properties":{}})");
    } else {
        top_.raw(schema);
    }
    top_.end_object();
    top_.end_object();
}

// The name to send upstream for the tool named `escaped`: itself when OpenAI
// takes it (returned), else its decoded or shortened form in `shortened`
// (and the shortened one remembered, so the response can undo it).
inline std::string_view request_engine::upstream_tool_name(std::string_view escaped, std::string& shortened) {
    shortened.clear();
    if (valid_openai_name(escaped)) return escaped;
    std::string original = unescape_json_string(escaped);
    if (valid_openai_name(original)) {
        shortened = std::move(original);
        return {};
    }
    shortened = shorten_tool_name(original);
    auto& names = context_->tool_names;
    const bool known = std::any_of(names.begin(), names.end(),
                                   [&](const auto& entry) { return entry.first == shortened; });
    if (!known) names.emplace_back(shortened, std::move(original));
    return {};
}

// Writes what upstream_tool_name() gave: `escaped`, or `shortened` when set.
inline void request_engine::write_tool_name(json_writer& writer, std::string_view escaped,
                                            const std::string& shortened) {
    if (shortened.empty()) {
        writer.raw_string(quoted(escaped));
    } else {
        writer.string(shortened);
    }
}

inline bool request_engine::convert_tool_choice(od::value value) {
    auto guard = push("tool_choice");
    std::string_view& type = tools_.choice_type;
    const bool read = visit_fields(value, [&](const char* key, od::value& field_value) {
        if (key_is(key, "type")) {
            if (auto code = field_value.get_string().get(type)) return fail_json(code, "type", "must be a string");
        } else if (key_is(key, "name")) {
            if (!raw_string(field_value, "name", tools_.choice_name)) return false;
        } else if (key_is(key, "disable_parallel_tool_use")) {
            if (auto code = field_value.get_bool().get(tools_.disable_parallel))
                return fail_json(code, "disable_parallel_tool_use", "must be a boolean");
        }
        return true;
    });
    if (!read) return false;
    if (type.data() == nullptr) return fail("type", "required");
    if (type != "auto" && type != "any" && type != "tool" && type != "none")
        return fail("type", R"(must be one of "auto", "any", "tool", "none")");
    if (type == "tool" && tools_.choice_name.data() == nullptr) return fail("name", "required");
    tools_.has_choice = true;
    return true;
}

inline void request_engine::write_tool_choice_string(std::string_view choice) {
    if (!emit("tool_choice")) return;
    top_.key("tool_choice");
    top_.string(choice);
}

inline void request_engine::write_tool_choice() {
    const std::string_view type = tools_.choice_type;
    if (tools_.written == 0) {
        if (type != "auto" && type != "none") warn("tool_choice: left out (no tools are sent upstream)");
    } else if (type == "auto") {
        if (profile_->tool_choice_auto) write_tool_choice_string("auto");
    } else if (type == "none") {
        write_tool_choice_string("none");
    } else {
        write_forced_tool_choice(type);
    }
    if (tools_.disable_parallel && tools_.written > 0) {
        if (!profile_->parallel_tool_calls) {
            warn("tool_choice.disable_parallel_tool_use: not supported by profile \"" + profile_->match +
                 "\"; left out");
        } else if (emit("parallel_tool_calls")) {
            top_.key("parallel_tool_calls");
            top_.boolean(false);
        }
    }
}

// "any" or "tool": OpenAI's "required" or a named function, where the
// profile takes them.
inline void request_engine::write_forced_tool_choice(std::string_view type) {
    const std::string wanted = type == "tool" ? unescape_json_string(tools_.choice_name) : std::string();
    const auto& dropped = tools_.dropped;
    if (type == "tool" && std::find(dropped.begin(), dropped.end(), wanted) != dropped.end()) {
        warn("tool_choice: left out (it forces \"" + wanted + "\", a server tool that was left out)");
        return;
    }
    if (!profile_->tool_choice_required) {
        warn("tool_choice: \"" + std::string(type) + "\" not supported by profile \"" + profile_->match +
             "\"; sent as \"auto\"");
        if (profile_->tool_choice_auto) write_tool_choice_string("auto");
        return;
    }
    if (!emit("tool_choice")) return;
    top_.key("tool_choice");
    if (type == "any") {
        top_.string("required");
        return;
    }
    start_function(tools_.choice_name, false);
    top_.end_object();
    top_.end_object();
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
