// SPDX-License-Identifier: MIT
#include "http_types.hpp"

#include <cctype>

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

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    }
    return true;
}

}  // namespace proxy
