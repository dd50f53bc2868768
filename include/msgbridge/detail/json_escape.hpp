// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// JSON string escaping with exactly RapidJSON's Writer rules (short escapes
// for \b \t \n \f \r, \u00XX with uppercase hex for other control bytes,
// nothing else), so every byte reads the same whichever path wrote it: the
// writer, a piece of a string built in parts, an event or an error body.
// Text is mostly plain, so runs are handed to `append(const char*, size_t)`
// whole and only the rare byte is escaped.
template <class Append>
inline void escape_json(std::string_view text, Append&& append) {
    static constexpr char hex[] = "0123456789ABCDEF";
    const char* p = text.data();
    const char* const end = p + text.size();
    while (p < end) {
        const char* run = p;
        while (p < end) {
            const auto byte = static_cast<unsigned char>(*p);
            if (byte < 0x20 || byte == '"' || byte == '\\') break;
            ++p;
        }
        if (p != run) append(run, static_cast<std::size_t>(p - run));
        if (p == end) break;
        const auto byte = static_cast<unsigned char>(*p++);
        char escaped[6] = {'\\', 0, 0, 0, 0, 0};
        std::size_t length = 2;
        switch (byte) {
            case '"': escaped[1] = '"'; break;
            case '\\': escaped[1] = '\\'; break;
            case '\b': escaped[1] = 'b'; break;
            case '\t': escaped[1] = 't'; break;
            case '\n': escaped[1] = 'n'; break;
            case '\f': escaped[1] = 'f'; break;
            case '\r': escaped[1] = 'r'; break;
            default:
                escaped[1] = 'u';
                escaped[2] = '0';
                escaped[3] = '0';
                escaped[4] = hex[byte >> 4];
                escaped[5] = hex[byte & 0xF];
                length = 6;
        }
        append(escaped, length);
    }
}

/// Appends `text` escaped, without quotes.
inline void append_json_escaped(std::string& out, std::string_view text) {
    escape_json(text, [&out](const char* data, std::size_t size) { out.append(data, size); });
}

/// Appends `text` as a quoted JSON string.
inline void append_json_string(std::string& out, std::string_view text) {
    out.push_back('"');
    append_json_escaped(out, text);
    out.push_back('"');
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
