// SPDX-License-Identifier: MIT
#pragma once

#include <string_view>

#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// JSON's four whitespace bytes. Also what a header value or a setting may be
// padded with (HTTP's optional whitespace, and a stray CR/LF from a file).
constexpr bool is_json_space(char c) noexcept { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

constexpr std::string_view trim_json_space(std::string_view text) noexcept {
    while (!text.empty() && is_json_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_json_space(text.back())) text.remove_suffix(1);
    return text;
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
