// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#  include <emmintrin.h>
#  define MSGBRIDGE_REQUEST_SSE2 1
#endif

#include "msgbridge/detail/text.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// Byte-level helpers of the request converter. They work on JSON text taken
// from the (padded) input, so they may read up to 16 bytes past a span's end;
// simdjson guarantees SIMDJSON_PADDING (64) readable bytes after the document.

/// The inside of a JSON string token as simdjson's raw_json_token() gives it
/// (`"…"` followed by whitespace up to the next token): without quotes.
inline std::string_view string_token_content(std::string_view token) noexcept {
    std::size_t end = token.size();
    while (end > 1 && token[end - 1] != '"') --end;
    if (end < 2) return {};
    return token.substr(1, end - 2);
}

inline bool is_empty_object(std::string_view json) noexcept {
    if (json.size() < 2 || json.front() != '{' || json.back() != '}') return false;
    for (std::size_t i = 1; i + 1 < json.size(); ++i) {
        if (!is_json_space(json[i])) return false;
    }
    return true;
}

/// Whether the raw key at `raw` (just after its opening quote) is `name`; the
/// padded input makes the comparison safe to run past a shorter key.
inline bool key_is(const char* raw, std::string_view name) noexcept {
    return std::memcmp(raw, name.data(), name.size()) == 0 && raw[name.size()] == '"';
}

inline std::string_view raw_key_content(const char* raw) noexcept {
    std::size_t i = 0;
    while (raw[i] != '"') i += raw[i] == '\\' ? 2 : 1;
    return {raw, i};
}

/// The quoted token around string content taken from the input.
inline std::string_view quoted(std::string_view content) noexcept {
    return {content.data() - 1, content.size() + 2};
}

/// `names` as one list for a warning: "a, b, c".
inline std::string join_names(const std::vector<std::string>& names) {
    std::string joined;
    for (const auto& name : names) {
        if (!joined.empty()) joined += ", ";
        joined += name;
    }
    return joined;
}

/// Steps over whole 16-byte chunks of string content holding no quote and no
/// backslash (with SSE2; otherwise returns `p`). Only these two bytes end a
/// run that is copied or checked as it is: simdjson's stage 1 has rejected
/// control characters already.
inline const char* skip_plain_chunks(const char* p, const char* end) noexcept {
#ifdef MSGBRIDGE_REQUEST_SSE2
    while (end - p >= 16) {
        const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(chunk, _mm_set1_epi8('"')),
                                                        _mm_cmpeq_epi8(chunk, _mm_set1_epi8('\\'))));
        if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
        p += 16;
    }
#else
    (void)end;
#endif
    return p;
}

inline bool is_hex_digit(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/// Steps over the escape sequence whose backslash is at `p`: returns the byte
/// after it, or nullptr when JSON does not allow it or `end` cuts it short.
inline const char* skip_escape(const char* p, const char* end) noexcept {
    ++p;
    if (p >= end) return nullptr;
    switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            return p + 1;
        case 'u':
            if (end - p < 5 || !is_hex_digit(p[1]) || !is_hex_digit(p[2]) || !is_hex_digit(p[3]) ||
                !is_hex_digit(p[4]))
                return nullptr;
            return p + 5;
        default:
            return nullptr;
    }
}

/// Whether every backslash escape in the inside of a string token is one JSON
/// allows. simdjson's stage 1 checks quotes, control characters and UTF-8 but
/// not escapes, and we copy these bytes upstream without decoding them.
inline bool escapes_valid(std::string_view content) noexcept {
    const char* p = content.data();
    const char* const end = p + content.size();
    while (p < end) {
        const void* hit = std::memchr(p, '\\', static_cast<std::size_t>(end - p));
        if (hit == nullptr) return true;
        p = skip_escape(static_cast<const char*>(hit), end);
        if (p == nullptr) return false;
    }
    return true;
}

/// Writes `json` (valid JSON text) minified and escaped as the inside of a
/// JSON string: what OpenAI's `function.arguments` wants from Anthropic's
/// `input` object. Needs room for 6 * json.size() + 16 bytes at `out`;
/// returns the bytes written.
inline std::size_t minify_into_string(std::string_view json, char* out) noexcept {
    const char* p = json.data();
    const char* const end = p + json.size();
    char* o = out;
    while (p < end) {
        const char c = *p++;
        if (is_json_space(c)) continue;
        if (c != '"') {
            // Outside strings only structure, numbers and literals are legal;
            // anything else is still escaped, so the result is always a valid
            // JSON string whatever the input held.
            if (c == '\\') {
                *o++ = '\\';
                *o++ = '\\';
            } else if (static_cast<unsigned char>(c) < 0x20) {
                static constexpr char hex[] = "0123456789abcdef";
                *o++ = '\\';
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[(static_cast<unsigned char>(c) >> 4) & 0xF];
                *o++ = hex[static_cast<unsigned char>(c) & 0xF];
            } else {
                *o++ = c;
            }
            continue;
        }
        *o++ = '\\';
        *o++ = '"';
        // Inside a string: only quotes and backslashes change.
        for (;;) {
            const char* plain_end = skip_plain_chunks(p, end);
            std::memcpy(o, p, static_cast<std::size_t>(plain_end - p));
            o += plain_end - p;
            p = plain_end;
            while (p < end && *p != '"' && *p != '\\') *o++ = *p++;
            if (p >= end) return static_cast<std::size_t>(o - out);
            if (*p == '"') {
                ++p;
                *o++ = '\\';
                *o++ = '"';
                break;
            }
            // An escape inside the input string: `\x` becomes `\\x`, and an
            // escaped quote `\"` becomes `\\\"`.
            ++p;
            *o++ = '\\';
            *o++ = '\\';
            if (p >= end) return static_cast<std::size_t>(o - out);
            const char escaped = *p++;
            if (escaped == '"' || escaped == '\\') *o++ = '\\';
            *o++ = escaped;
        }
    }
    return static_cast<std::size_t>(o - out);
}

// The steps of json_text_valid(): each reads one token at `p` and says
// whether it was well formed.
struct json_text_scanner {
    const char* p;
    const char* end;

    void skip_space() noexcept {
        while (p < end && is_json_space(*p)) ++p;
    }

    bool string() noexcept {  // at the opening quote
        ++p;
        for (;;) {
            p = skip_plain_chunks(p, end);
            while (p < end && *p != '"' && *p != '\\') {
                if (static_cast<unsigned char>(*p) < 0x20) return false;
                ++p;
            }
            if (p >= end) return false;
            if (*p == '"') {
                ++p;
                return true;
            }
            const char* after_escape = skip_escape(p, end);
            if (after_escape == nullptr) return false;
            p = after_escape;
        }
    }

    // `"name":`, after optional whitespace.
    bool member_name() noexcept {
        skip_space();
        if (p >= end || *p != '"' || !string()) return false;
        skip_space();
        if (p >= end || *p != ':') return false;
        ++p;
        return true;
    }

    bool digits() noexcept {
        const char* start = p;
        while (p < end && *p >= '0' && *p <= '9') ++p;
        return p > start;
    }

    bool number() noexcept {
        if (*p == '-') ++p;
        if (p >= end) return false;
        if (*p == '0') {
            ++p;
        } else if (!digits()) {
            return false;
        }
        if (p < end && *p == '.') {
            ++p;
            if (!digits()) return false;
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
            ++p;
            if (p < end && (*p == '+' || *p == '-')) ++p;
            if (!digits()) return false;
        }
        return true;
    }

    bool literal(std::string_view word) noexcept {
        if (static_cast<std::size_t>(end - p) < word.size() || std::memcmp(p, word.data(), word.size()) != 0)
            return false;
        p += word.size();
        return true;
    }

    // A string, number or literal at `p` (not end).
    bool scalar() noexcept {
        switch (*p) {
            case '"': return string();
            case 't': return literal("true");
            case 'f': return literal("false");
            case 'n': return literal("null");
            default: return (*p == '-' || (*p >= '0' && *p <= '9')) && number();
        }
    }
};

/// Whether `json` is one complete JSON value. For text simdjson's stage 1 has
/// seen (UTF-8 valid, strings closed): On-Demand skips what we copy raw
/// (`input_schema`), so its atoms and escapes are checked here instead.
inline bool json_text_valid(std::string_view json) noexcept {
    json_text_scanner scan{json.data(), json.data() + json.size()};
    const char*& p = scan.p;
    const char* const end = scan.end;
    constexpr std::size_t max_depth = 1024;
    bool in_object[max_depth];
    std::size_t depth = 0;
    for (;;) {
        // A value is expected here.
        scan.skip_space();
        if (p >= end) return false;
        if (*p == '{' || *p == '[') {
            if (depth == max_depth) return false;
            const bool object = *p == '{';
            in_object[depth++] = object;
            ++p;
            scan.skip_space();
            if (p < end && *p == (object ? '}' : ']')) {
                ++p;
                --depth;
            } else {
                if (object && !scan.member_name()) return false;
                continue;
            }
        } else if (!scan.scalar()) {
            return false;
        }
        // After a value: close containers, or go on to the next member.
        for (;;) {
            scan.skip_space();
            if (depth == 0) return p == end;
            if (p >= end) return false;
            const char c = *p++;
            if (c == ',') {
                if (in_object[depth - 1] && !scan.member_name()) return false;
                break;
            }
            if (c != (in_object[depth - 1] ? '}' : ']')) return false;
            --depth;
        }
    }
}

/// Decodes the inside of a JSON string token whose escapes were checked by
/// escapes_valid(). Used only off the hot path (names that must be shortened).
inline std::string unescape_json_string(std::string_view content) {
    std::string out;
    out.reserve(content.size());
    auto hex4 = [](const char* p) {
        unsigned value = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = p[i];
            value <<= 4;
            value |= static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        return value;
    };
    auto put_utf8 = [&out](unsigned cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    };
    for (std::size_t i = 0; i < content.size(); ++i) {
        const char c = content[i];
        if (c != '\\' || i + 1 >= content.size()) {
            out.push_back(c);
            continue;
        }
        const char e = content[++i];
        switch (e) {
            case 'b': out.push_back('\b'); break;
            case 'f': out.push_back('\f'); break;
            case 'n': out.push_back('\n'); break;
            case 'r': out.push_back('\r'); break;
            case 't': out.push_back('\t'); break;
            case 'u': {
                if (i + 4 >= content.size()) return out;
                unsigned cp = hex4(content.data() + i + 1);
                i += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < content.size() && content[i + 1] == '\\' &&
                    content[i + 2] == 'u') {
                    const unsigned low = hex4(content.data() + i + 3);
                    if (low >= 0xDC00 && low < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        i += 6;
                    }
                }
                put_utf8(cp);
                break;
            }
            default: out.push_back(e);
        }
    }
    return out;
}

inline bool is_openai_name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/// OpenAI caps function names at 64 bytes of [a-zA-Z0-9_-].
inline constexpr std::size_t openai_name_limit = 64;

inline bool valid_openai_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > openai_name_limit) return false;
    for (char c : name) {
        if (!is_openai_name_char(c)) return false;
    }
    return true;
}

/// A valid OpenAI function name for `name`: the first 51 usable bytes (others
/// replaced by `_`), `_`, and 12 hex digits of the name's hash. Deterministic,
/// so tool definitions, tool_choice and history agree without a shared table.
inline std::string shorten_tool_name(std::string_view name) {
    constexpr std::size_t hash_digits = 12;
    constexpr std::size_t prefix_limit = openai_name_limit - hash_digits - 1;
    std::string out;
    out.reserve(openai_name_limit);
    for (std::size_t i = 0; i < name.size() && out.size() < prefix_limit; ++i) {
        out.push_back(is_openai_name_char(name[i]) ? name[i] : '_');
    }
    out.push_back('_');
    append_hex_digits(out, fnv1a64(name), hash_digits);
    return out;
}

/// Anthropic names its server tools `<name>_<yyyymmdd>` in `type`; client
/// tools have no `type` or `"custom"`.
inline bool is_server_tool_type(std::string_view type) noexcept {
    return !type.empty() && type != "custom";
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
