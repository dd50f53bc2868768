// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <string>
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

// Appends `piece` to `buffer` and finds `tag` in it, looking only where the
// tag could end in the new bytes: the scan of a tag split across pieces.
inline std::size_t append_and_find(std::string& buffer, std::string_view piece, std::string_view tag) {
    const std::size_t old_size = buffer.size();
    buffer.append(piece.data(), piece.size());
    const std::size_t from = old_size >= tag.size() ? old_size - tag.size() + 1 : 0;
    return buffer.find(tag, from);
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
