// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
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

/// FNV-1a, 64 bits: stable across platforms and releases, which tool-name
/// shortening and the ids of shared key state need (the same input must give
/// the same hash on every turn and in every process).
inline std::uint64_t fnv1a64(std::string_view text) noexcept {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

/// The first `digits` hex digits of `hash`, most significant first.
inline void append_hex_digits(std::string& out, std::uint64_t hash, std::size_t digits) {
    static constexpr char hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < digits; ++i) out.push_back(hex[(hash >> (60 - 4 * i)) & 0xF]);
}

/// fnv1a64 as 16 hex digits: a stable tag for grouping, not a secret (an id
/// from a small set is found again by hashing every candidate).
inline std::string fnv1a64_hex(std::string_view text) {
    std::string out;
    out.reserve(16);
    append_hex_digits(out, fnv1a64(text), 16);
    return out;
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
