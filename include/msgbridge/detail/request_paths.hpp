// SPDX-License-Identifier: MIT
#pragma once

// Field paths and errors of detail::request_engine: every error names the
// field it is about (`messages.3.content.1.tool_use_id: required`).

#include <string>
#include <string_view>
#include <utility>

#include <simdjson.h>

#include "msgbridge/detail/text.hpp"
#include "msgbridge/detail/ondemand_walk.hpp"
#include "msgbridge/detail/request_converter.hpp"
#include "msgbridge/detail/request_text.hpp"
#include "msgbridge/error.hpp"
#include "msgbridge/request.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

inline std::string request_engine::path_string(std::string_view leaf) const {
    std::string out;
    for (const auto& segment : path_) {
        if (!out.empty()) out.push_back('.');
        if (segment.is_index) {
            out += std::to_string(segment.index);
        } else {
            out += segment.name;
        }
    }
    if (!leaf.empty()) {
        if (!out.empty()) out.push_back('.');
        out += leaf;
    }
    if (out.empty()) out = "body";
    return out;
}

inline bool request_engine::fail(std::string_view leaf, std::string_view problem) {
    std::string message = path_string(leaf);
    message += ": ";
    message += problem;
    error_ = invalid_request(std::move(message));
    return false;
}

inline bool request_engine::fail_json(simdjson::error_code code, std::string_view leaf, std::string_view expected) {
    if (code == simdjson::NO_SUCH_FIELD) return fail(leaf, "required");
    if (is_parse_type_error(code) && !expected.empty()) return fail(leaf, expected);
    std::string problem = "invalid JSON (";
    problem += simdjson::error_message(code);
    problem += ")";
    return fail(leaf, problem);
}

template <class Visit>
simdjson_inline bool request_engine::visit_fields(od::object& object, Visit&& visit) {
    bool visit_failed = false;
    const simdjson::error_code code = for_each_field(object, [&](od::raw_json_string key, od::value& value) {
        if (visit(key.raw(), value)) return simdjson::SUCCESS;
        visit_failed = true;
        return simdjson::UNEXPECTED_ERROR;  // only stops the walk: error_ already says why
    });
    if (code == simdjson::SUCCESS) return true;
    return visit_failed ? false : fail_json(code, {}, {});
}

template <class Visit>
simdjson_inline bool request_engine::visit_fields(od::value& value, Visit&& visit) {
    od::object object;
    if (auto code = value.get_object().get(object)) return fail_json(code, {}, "must be an object");
    return visit_fields(object, std::forward<Visit>(visit));
}

// Calls each(value) for every element of `array`, with its index on the path.
template <class Each>
bool request_engine::for_each_element(od::array array, Each&& each) {
    std::size_t index = 0;
    for (auto item : array) {
        od::value value;
        if (auto code = item.get(value)) return fail_json(code, {}, {});
        auto element = push(index++);
        if (!each(value)) return false;
    }
    return true;
}

// A string value as escaped bytes of the input; null leaves `out` unset.
inline bool request_engine::raw_string(od::value value, std::string_view name, std::string_view& out) {
    const std::string_view token = value.raw_json_token();
    if (token.empty() || token.front() != '"') {
        if (!token.empty() && token.front() == 'n' && trim_json_space(token) == "null") return true;
        return fail(name, "must be a string");
    }
    out = string_token_content(token);
    if (!escapes_valid(out)) return fail(name, "invalid escape sequence in string");
    return true;
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
