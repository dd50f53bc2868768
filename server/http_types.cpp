// SPDX-License-Identifier: MIT
#include "http_types.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace proxy {

std::string http_request::header(std::string_view name) const {
    for (const auto& h : headers) {
        if (equals_ignoring_case(h.first, name)) return h.second;
    }
    return {};
}

http_response json_response(int status, std::string body) {
    http_response res;
    res.status = status;
    res.body = std::move(body);
    return res;
}

http_response error_response(const msgbridge::error& err) {
    return json_response(err.http_status, msgbridge::to_json(err));
}

http_response sse_response(std::unique_ptr<body_stream> stream) {
    http_response res;
    res.content_type = "text/event-stream";
    res.headers.emplace_back("Cache-Control", "no-cache");
    // nginx and friends buffer responses unless told not to.
    res.headers.emplace_back("X-Accel-Buffering", "no");
    res.stream = std::move(stream);
    return res;
}

header_list warning_headers(const std::vector<std::string>& warnings) {
    static constexpr char hex[] = "0123456789ABCDEF";
    header_list headers;
    const std::size_t shown = std::min(warnings.size(), max_warning_headers);
    for (std::size_t i = 0; i < shown; ++i) {
        std::string value;
        value.reserve(warnings[i].size());
        for (unsigned char c : warnings[i]) {
            if (value.size() + 6 > max_warning_header_chars) {  // room for this byte encoded, and "..."
                value += "...";
                break;
            }
            if (c >= 0x20 && c < 0x7f && c != '%') {
                value += static_cast<char>(c);
            } else {
                value += '%';
                value += hex[c >> 4];
                value += hex[c & 0xf];
            }
        }
        headers.emplace_back("x-proxy-warning", std::move(value));
    }
    if (warnings.size() > shown)
        headers.emplace_back("x-proxy-warning", std::to_string(warnings.size() - shown) + " more in the proxy's log");
    return headers;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    }
    return true;
}

std::optional<std::string> basic_auth_password(std::string_view authorization) {
    constexpr std::string_view scheme = "basic ";
    if (authorization.size() <= scheme.size() || !equals_ignoring_case(authorization.substr(0, scheme.size()), scheme))
        return std::nullopt;
    std::string_view encoded = authorization.substr(scheme.size());
    while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
    while (!encoded.empty() && encoded.back() == '=') encoded.remove_suffix(1);
    std::string decoded;
    std::uint32_t bits = 0;
    int pending = 0;
    for (char c : encoded) {
        int value;
        if (c >= 'A' && c <= 'Z') value = c - 'A';
        else if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
        else if (c >= '0' && c <= '9') value = c - '0' + 52;
        else if (c == '+') value = 62;
        else if (c == '/') value = 63;
        else return std::nullopt;
        bits = (bits << 6) | static_cast<std::uint32_t>(value);
        pending += 6;
        if (pending >= 8) {
            pending -= 8;
            decoded += static_cast<char>((bits >> pending) & 0xff);
        }
    }
    const auto colon = decoded.find(':');
    if (colon == std::string::npos) return std::nullopt;
    return decoded.substr(colon + 1);
}

}  // namespace proxy
