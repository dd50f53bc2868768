// SPDX-License-Identifier: MIT
#pragma once

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "msgbridge/detail/text.hpp"
#include "msgbridge/detail/response_reader.hpp"
#include "msgbridge/error.hpp"
#include "msgbridge/request.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// Rules shared by convert_response and stream_converter, so that a stream
// and the equivalent completion become the same Anthropic message.

struct stop_info {
    std::string_view stop_reason;    // Anthropic's wire value
    std::string_view stop_sequence;  // empty: null
};

// finish_reason → stop_reason (docs/response-mapping.md). A "stop" answer
// that did call tools is reported as tool_use: Claude Code only runs the
// tools of a tool_use turn, and some servers say "stop" after tool calls.
inline stop_info map_finish_reason(std::string_view finish_reason, std::string_view stop_string,
                                   bool has_tool_use, const response_context& context) {
    if (finish_reason == "length") return {"max_tokens", {}};
    if (finish_reason == "content_filter") return {"refusal", {}};
    if (finish_reason == "tool_calls" || finish_reason == "function_call" || has_tool_use) return {"tool_use", {}};
    if (finish_reason == "stop" && !stop_string.empty()) {
        // vLLM names the stop string that matched; report it only when it is
        // one the client asked for.
        for (const auto& sequence : context.stop_sequences) {
            if (sequence == stop_string) return {"stop_sequence", sequence};
        }
    }
    return {"end_turn", {}};
}

// The client's tool name for one the request converter had to shorten.
inline std::string_view original_tool_name(std::string_view upstream_name, const response_context& context) {
    for (const auto& [sent, original] : context.tool_names) {
        if (sent == upstream_name) return original;
    }
    return upstream_name;
}

// ~4 bytes per token: the estimate used when the upstream reports no usage.
// Never 0, since clients treat 0 as "no usage reported".
inline std::uint64_t estimate_tokens(std::uint64_t bytes) noexcept {
    const std::uint64_t tokens = (bytes + 3) / 4;
    return tokens == 0 ? 1 : tokens;
}

inline bool is_blank(std::string_view text) noexcept {
    for (char c : text) {
        if (!is_json_space(c)) return false;
    }
    return true;
}

// Cuts `text` to at most `limit` bytes without splitting a UTF-8 sequence.
inline std::string_view utf8_prefix(std::string_view text, std::size_t limit) noexcept {
    if (text.size() <= limit) return text;
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return text.substr(0, cut);
}

// Upstream error text goes into JSON and logs: it must be valid UTF-8
// (HTML error pages are not always), must not carry an API key (some
// servers echo the key they rejected), and must be bounded.
inline std::string clean_upstream_text(std::string_view text, std::size_t limit = 2000) {
    std::string out;
    text = utf8_prefix(text, limit);
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        // Redact key-shaped tokens: nvapi-…, sk-…, and bearer credentials.
        auto starts = [&](std::string_view prefix) { return text.substr(i, prefix.size()) == prefix; };
        std::size_t skip = 0;
        if (starts("nvapi-")) skip = 6;
        else if (starts("sk-")) skip = 3;
        else if (starts("Bearer ")) skip = 7;
        if (skip != 0 && (i == 0 || !std::isalnum(static_cast<unsigned char>(text[i - 1])))) {
            std::size_t j = i + skip;
            while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '-' ||
                                       text[j] == '_' || text[j] == '.')) {
                ++j;
            }
            if (j - (i + skip) >= 8) {
                out.append(text.substr(i, skip));
                out += "***";
                i = j;
                continue;
            }
        }
        const auto byte = static_cast<unsigned char>(text[i]);
        std::size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xE ? 3 : (byte >> 3) == 0x1E ? 4 : 0;
        if (length == 0 || i + length > text.size() || !simdjson::validate_utf8(text.data() + i, length)) {
            out += "\xEF\xBF\xBD";  // U+FFFD for a byte that is not valid UTF-8
            ++i;
            continue;
        }
        out.append(text.substr(i, length));
        i += length;
    }
    while (!out.empty() && is_json_space(out.back())) out.pop_back();
    return out;
}

inline char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool contains_ignoring_case(std::string_view haystack, std::string_view needle) noexcept {
    if (needle.size() > haystack.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
        std::size_t j = 0;
        while (j < needle.size() && ascii_lower(haystack[i + j]) == needle[j]) ++j;
        if (j == needle.size()) return true;
    }
    return false;
}

// Context overflow, as vLLM, NIM, TensorRT-LLM, OpenAI and others word it.
// Claude Code compacts the conversation only on Anthropic's wording.
inline bool is_context_overflow(std::string_view message, std::string_view code) noexcept {
    if (code == "context_length_exceeded") return true;
    static constexpr std::string_view phrases[] = {
        "context length", "context_length", "context window", "maximum context",
        "prompt is too long", "too many tokens", "input is too long", "maximum input length",
        "input length exceeds", "exceeds the maximum number of tokens", "reduce the length of",
    };
    for (std::string_view phrase : phrases) {
        if (contains_ignoring_case(message, phrase)) return true;
    }
    return false;
}

inline error_type error_type_from_words(std::string_view type, std::string_view code) noexcept {
    for (std::string_view word : {type, code}) {
        if (contains_ignoring_case(word, "rate_limit") || contains_ignoring_case(word, "ratelimit")) return error_type::rate_limit_error;
        if (contains_ignoring_case(word, "overload") || contains_ignoring_case(word, "unavailable")) return error_type::overloaded_error;
        if (contains_ignoring_case(word, "invalid_request") || contains_ignoring_case(word, "badrequest")) return error_type::invalid_request_error;
        if (contains_ignoring_case(word, "auth")) return error_type::authentication_error;
        if (contains_ignoring_case(word, "permission") || contains_ignoring_case(word, "forbidden")) return error_type::permission_error;
        if (contains_ignoring_case(word, "not_found") || contains_ignoring_case(word, "notfound")) return error_type::not_found_error;
    }
    return error_type::api_error;
}

// One upstream error → one Anthropic error. `http_status` is 0 when the
// error came inside a 200 stream; then the error's own code or type decides.
inline error classify_upstream_error(int http_status, const upstream_error_fields& fields,
                                     std::string_view fallback_text) {
    std::string_view message = fields.message;
    std::string joined;
    if (message.empty() && !fields.detail.empty()) {
        if (!fields.title.empty()) {
            joined.append(fields.title.data(), fields.title.size()).append(": ").append(fields.detail.data(), fields.detail.size());
            message = joined;
        } else {
            message = fields.detail;
        }
    }
    if (message.empty()) message = fields.title;
    if (message.empty()) message = fallback_text;

    int status = http_status;
    if ((status < 400) && fields.code_number >= 400 && fields.code_number < 600) {
        status = static_cast<int>(fields.code_number);
    }
    if (is_context_overflow(message, fields.code_text)) {
        return make_error(error_type::invalid_request_error, "prompt is too long: " + clean_upstream_text(message));
    }
    error_type type = status >= 400 ? error_type_for_status(status) : error_type_from_words(fields.type, fields.code_text);
    std::string text = clean_upstream_text(message);
    if (text.empty()) {
        text = status >= 400 ? "upstream returned HTTP " + std::to_string(status) : std::string("upstream reported an error");
    }
    return make_error(type, std::move(text));
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
