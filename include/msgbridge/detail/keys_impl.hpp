// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "msgbridge/detail/text.hpp"
#include "msgbridge/detail/keys_http_date.hpp"
#include "msgbridge/keys.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
inline result<rotation> parse_rotation(std::string_view name, std::string_view field) {
    const std::string_view value = detail::trim_json_space(name);
    if (value.empty() || value == "round_robin") return rotation::round_robin;
    if (value == "random") return rotation::random;
    if (value == "least_used") return rotation::least_used;
    std::string message(field);
    message += ": unknown key rotation strategy";
    // Echo the value only when it looks like a strategy name: a key pasted
    // into the wrong variable must not end up in the startup error.
    const bool echo = value.size() <= 24 && std::all_of(value.begin(), value.end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
                      });
    if (echo) {
        message += " \"";
        message += value;
        message += '"';
    }
    message += "; expected round_robin, random or least_used";
    return invalid_request(std::move(message));
}

constexpr std::string_view to_string(rotation strategy) noexcept {
    switch (strategy) {
        case rotation::round_robin: return "round_robin";
        case rotation::random: return "random";
        case rotation::least_used: return "least_used";
    }
    return "round_robin";
}

inline std::string redact_key(std::string_view key) {
    // Only prefixes every key of a vendor shares are public. "Up to the first
    // dash" would show the start of a key such as `abcd-efghijk`.
    constexpr std::string_view public_prefixes[] = {"nvapi-", "sk-"};
    // Four bytes of a secret of 32 are an eighth of it; of a shorter one, too much.
    constexpr std::size_t tail = 4;
    constexpr std::size_t min_secret_for_tail = 32;
    std::string_view prefix;
    for (const std::string_view candidate : public_prefixes) {
        if (key.substr(0, candidate.size()) == candidate) prefix = candidate;
    }
    const std::string_view secret = key.substr(prefix.size());
    if (secret.size() < min_secret_for_tail) return "[redacted]";
    std::string out(prefix);
    out += "\xE2\x80\xA6";  // …
    // Printable ASCII only, so that the id stays one plain token of a log line.
    for (const char c : secret.substr(secret.size() - tail)) out.push_back(c > ' ' && c < 0x7F ? c : '?');
    return out;
}

inline std::string redact_key(std::string_view key, std::size_t index) {
    std::string out = redact_key(key);
    out += '#';
    out += std::to_string(index);
    return out;
}

inline std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                                  std::chrono::system_clock::time_point now) noexcept {
    const std::string_view text = detail::trim_json_space(value);
    if (text.empty()) return std::nullopt;
    if (text.front() >= '0' && text.front() <= '9') {
        // Saturate rather than overflow: the pool caps the delay anyway.
        constexpr std::uint64_t max_seconds = 1'000'000'000;
        std::uint64_t seconds = 0;
        std::size_t i = 0;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
            seconds = std::min<std::uint64_t>(max_seconds, seconds * 10 + static_cast<std::uint64_t>(text[i] - '0'));
        }
        std::uint64_t millis = 0;
        if (i < text.size() && text[i] == '.') {
            ++i;
            std::uint64_t scale = 100;
            const std::size_t first_digit = i;
            for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
                millis += scale * static_cast<std::uint64_t>(text[i] - '0');
                scale /= 10;
            }
            if (i == first_digit) return std::nullopt;
            // A fraction below a millisecond still means "not now".
            if (millis == 0 && text.find_first_not_of("0.", first_digit - 1) != std::string_view::npos) millis = 1;
        }
        if (i != text.size()) return std::nullopt;
        return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000 + millis));
    }
    const auto date = detail::key_policy::parse_http_date(text, now);
    if (!date) return std::nullopt;
    if (*date <= now) return std::chrono::milliseconds(0);
    return std::chrono::ceil<std::chrono::milliseconds>(*date - now);
}

constexpr key_outcome outcome_for_status(int http_status) noexcept {
    if (http_status >= 200 && http_status < 300) return key_outcome::success;
    if (http_status == 429) return key_outcome::rate_limited;
    if (http_status == 401 || http_status == 403) return key_outcome::auth_failed;
    return key_outcome::transient;
}

MSGBRIDGE_END_NAMESPACE
