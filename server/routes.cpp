// SPDX-License-Identifier: MIT
#include "routes.hpp"

#include <string>

namespace proxy {

const route* find_route(std::string_view path) {
    for (const route& r : routes) {
        if (!r.prefix && path == r.path) return &r;
    }
    for (const route& r : routes) {
        if (r.prefix && path.substr(0, r.path.size()) == r.path) return &r;
    }
    return nullptr;
}

std::string route_label(std::string_view path) {
    const route* found = find_route(path);
    if (found == nullptr) return "unmatched";
    return std::string(found->path) + (found->prefix ? "{id}" : "");
}

std::string endpoint_name(const route& r) {
    return std::string(r.method) + " " + std::string(r.path);
}

std::string_view route_argument(const route& r, std::string_view path) {
    return r.prefix ? path.substr(r.path.size()) : std::string_view();
}

bool serves_method(const route& r, std::string_view method) {
    // HEAD is GET without the body (RFC 9110): the adapter leaves the body out.
    return method == r.method || (method == "HEAD" && r.method == "GET");
}

http_response method_not_allowed(const http_request& request, const route& r) {
    const std::string allowed = r.method == "GET" ? "GET, HEAD" : std::string(r.method);
    auto res = error_response(msgbridge::error{msgbridge::error_type::invalid_request_error, 405,
                                               "method " + request.method + " is not allowed on " + request.path +
                                                   " (use " + allowed + ")"});
    res.headers.emplace_back("Allow", allowed);
    return res;
}

http_response unauthorized(std::string_view path) {
    const route* found = find_route(path);
    const bool browser = found != nullptr && found->browser;
    auto res = error_response(msgbridge::make_error(
        msgbridge::error_type::authentication_error,
        std::string("invalid or missing API key: send Authorization: Bearer <SERVER_API_KEY> or x-api-key: "
                    "<SERVER_API_KEY>") +
            (browser ? ", or SERVER_API_KEY as the password of HTTP Basic auth (any user name)" : "")));
    if (browser) res.headers.emplace_back("WWW-Authenticate", "Basic realm=\"claude-nvidia-proxy\", charset=\"UTF-8\"");
    return res;
}

http_response no_route(const http_request& request) {
    std::string served;
    for (const route& r : routes) {
        if (!r.listed) continue;
        if (!served.empty()) served += ", ";
        served += endpoint_name(r);
    }
    return error_response(msgbridge::make_error(msgbridge::error_type::not_found_error,
                                                "no route for " + request.method + " " + request.path +
                                                    " (this proxy serves " + served + ")"));
}

}  // namespace proxy
