// SPDX-License-Identifier: MIT
#include "http_framing.hpp"

#include <algorithm>

#include "http_types.hpp"

namespace proxy {
namespace {

// RFC 9110 tchar: what a method and a header name are made of.
bool is_token_char(unsigned char c) {
    if (c >= '0' && c <= '9') return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
        case '-': case '.': case '^': case '_': case '`': case '|': case '~':
            return true;
        default:
            return false;
    }
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_token_char(static_cast<unsigned char>(c)); });
}

// Field values: visible ASCII, space, tab and obs-text; never NUL, CR, LF or another control.
bool is_field_value(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return c == '\t' || (c >= 0x20 && c != 0x7f);
    });
}

// The request target: visible ASCII only (RFC 9112 §3.2; a space would split the line).
bool is_target(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return c > 0x20 && c < 0x7f;
    });
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Calls `each` with every comma-separated element of a list header, trimmed; empty elements skipped.
template <class Each>
void for_each_list_element(std::string_view value, Each each) {
    while (!value.empty()) {
        auto comma = value.find(',');
        auto element = trim_ows(value.substr(0, comma));
        if (!element.empty()) each(element);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

std::optional<std::uint64_t> parse_decimal(std::string_view digits) {
    if (digits.empty() || digits.size() > 19) return std::nullopt;  // 19 digits cannot overflow 64 bits
    std::uint64_t n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

framing_error error_of(int status, std::string message) { return framing_error{status, std::move(message)}; }

// The header checks that concern the body's framing, once every line is read.
std::optional<framing_error> check_framing(request_head& head) {
    std::size_t transfer_encodings = 0;
    std::size_t hosts = 0;
    std::string_view transfer_encoding;
    for (const auto& [name, value] : head.headers) {
        if (equals_ignoring_case(name, "content-length")) {
            auto length = parse_decimal(value);
            if (!length)
                return error_of(400, "Content-Length: \"" + std::string(value.substr(0, 40)) +
                                         "\" is not a decimal number of bytes");
            if (head.content_length && *head.content_length != *length)
                return error_of(400, "Content-Length: the request has two different lengths (" +
                                         std::to_string(*head.content_length) + " and " + std::to_string(*length) +
                                         "); its end is ambiguous");
            head.content_length = length;
        } else if (equals_ignoring_case(name, "transfer-encoding")) {
            ++transfer_encodings;
            transfer_encoding = value;
        } else if (equals_ignoring_case(name, "host")) {
            ++hosts;
        } else if (equals_ignoring_case(name, "connection")) {
            for_each_list_element(value, [&](std::string_view option) {
                if (equals_ignoring_case(option, "close")) head.keep_alive = false;
                if (equals_ignoring_case(option, "keep-alive") && head.http_1_0) head.keep_alive = true;
            });
        } else if (equals_ignoring_case(name, "expect")) {
            if (!equals_ignoring_case(value, "100-continue"))
                return error_of(417, "Expect: only \"100-continue\" is supported");
            head.expect_continue = true;
        } else if (equals_ignoring_case(name, "content-encoding")) {
            bool identity_only = true;
            for_each_list_element(value, [&](std::string_view coding) {
                identity_only = identity_only && equals_ignoring_case(coding, "identity");
            });
            if (!identity_only)
                return error_of(415, "Content-Encoding: \"" + std::string(value.substr(0, 40)) +
                                         "\" is not accepted; send the request body uncompressed");
        }
    }
    if (!head.http_1_0 && hosts != 1)
        return error_of(400, hosts == 0 ? "Host: an HTTP/1.1 request needs a Host header"
                                        : "Host: the request has more than one Host header");
    if (transfer_encodings > 0) {
        if (head.content_length)
            return error_of(400, "Transfer-Encoding and Content-Length together: the request's end is ambiguous");
        if (head.http_1_0) return error_of(400, "Transfer-Encoding: not allowed in an HTTP/1.0 request");
        if (transfer_encodings > 1 || !equals_ignoring_case(transfer_encoding, "chunked"))
            return error_of(501, "Transfer-Encoding: only \"chunked\" is supported, got \"" +
                                     std::string(transfer_encoding.substr(0, 40)) + "\"");
        head.chunked = true;
    }
    if (!head.content_length && !head.chunked && head.method_needs_length())
        return error_of(411, std::string(head.method) +
                                 " without Content-Length or Transfer-Encoding: chunked: the body's length is unknown");
    return std::nullopt;
}

}  // namespace

head_scanner::state head_scanner::scan(std::string_view received, const head_limits& limits) {
    for (;;) {
        auto lf = received.find('\n', searched_);
        if (lf == std::string_view::npos) {
            searched_ = received.size();
            if (received.size() - line_start_ > limits.max_line_bytes + 2 || received.size() > limits.max_head_bytes)
                return state::too_large;
            return state::incomplete;
        }
        const std::size_t line_size = lf - line_start_;  // without the LF
        // The same bounds whether the line arrived whole or in pieces.
        if (lf + 1 > limits.max_head_bytes || line_size > limits.max_line_bytes + 2) return state::too_large;
        const bool empty = line_size == 0 || (line_size == 1 && received[line_start_] == '\r');
        line_start_ = searched_ = lf + 1;
        if (!empty) {
            request_line_seen_ = true;
        } else if (request_line_seen_) {
            return state::complete;
        }
    }
}

std::optional<framing_error> parse_request_head(std::string_view text, const head_limits& limits,
                                                request_head& head) {
    head = request_head{};
    // Every line must end in CRLF: a bare LF is read as a line end by some
    // parsers and not by others, which is how smuggled requests hide.
    std::vector<std::string_view> lines;
    std::size_t at = 0;
    while (at < text.size()) {
        auto lf = text.find('\n', at);
        if (lf == std::string_view::npos || lf == at || text[lf - 1] != '\r')
            return error_of(400, "malformed HTTP request: every line must end with CRLF");
        lines.push_back(text.substr(at, lf - 1 - at));
        at = lf + 1;
    }
    std::size_t first = 0;
    while (first < lines.size() && lines[first].empty()) ++first;  // empty lines before the request line are allowed
    if (first == lines.size() || !lines.back().empty()) return error_of(400, "malformed HTTP request: the head is incomplete");

    // request-line = method SP request-target SP HTTP-version
    std::string_view line = lines[first];
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
        return error_of(400, "malformed HTTP request line: expected \"METHOD /path HTTP/1.1\"");
    head.method = line.substr(0, sp1);
    head.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!is_token(head.method)) return error_of(400, "malformed HTTP request line: the method is not a token");
    if (head.target.size() > limits.max_line_bytes)
        return error_of(414, "the request target is longer than " + std::to_string(limits.max_line_bytes) + " bytes");
    if (!is_target(head.target) || (head.target.front() != '/' && head.target != "*"))
        return error_of(400, "malformed HTTP request line: the target must be a path starting with /");
    if (version == "HTTP/1.1") {
        head.http_1_0 = false;
    } else if (version == "HTTP/1.0") {
        head.http_1_0 = true;
        head.keep_alive = false;
    } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/") {
        return error_of(505, "HTTP version " + std::string(version.substr(5)) + " is not supported; use HTTP/1.1");
    } else {
        return error_of(400, "malformed HTTP request line: expected \"METHOD /path HTTP/1.1\"");
    }

    const std::size_t header_lines = lines.size() - first - 2;
    if (header_lines > limits.max_header_count)
        return error_of(431, "the request has " + std::to_string(header_lines) + " header lines; at most " +
                                 std::to_string(limits.max_header_count) + " are accepted");
    head.headers.reserve(header_lines);
    for (std::size_t i = first + 1; i + 1 < lines.size(); ++i) {
        line = lines[i];
        if (line.size() > limits.max_line_bytes)
            return error_of(431, "a header line is longer than " + std::to_string(limits.max_line_bytes) + " bytes");
        if (line.front() == ' ' || line.front() == '\t')
            return error_of(400, "malformed header: a line folded onto the previous one (obsolete line folding)");
        auto colon = line.find(':');
        if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
            return error_of(400, "malformed header line: expected \"Name: value\" with no space before the colon");
        std::string_view value = trim_ows(line.substr(colon + 1));
        if (!is_field_value(value))
            return error_of(400, "malformed header " + std::string(line.substr(0, colon)) +
                                     ": the value holds a control character");
        head.headers.emplace_back(line.substr(0, colon), value);
    }
    return check_framing(head);
}

std::string_view request_head::path() const { return target.substr(0, target.find('?')); }

std::string_view request_head::header(std::string_view name) const {
    for (const auto& h : headers) {
        if (equals_ignoring_case(h.first, name)) return h.second;
    }
    return {};
}

bool request_head::method_needs_length() const { return method == "POST" || method == "PUT" || method == "PATCH"; }

// ---- chunked bodies (RFC 9112 §7.1) ----

void chunked_decoder::fail(int status, std::string message) {
    state_ = state::failed;
    error_ = framing_error{status, std::move(message)};
}

bool chunked_decoder::expect(char c, char wanted, const char* what) {
    if (c == wanted) return true;
    fail(400, std::string("malformed chunked body: ") + what);
    return false;
}

bool chunked_decoder::skip(char c, state after_cr, std::size_t& counted, int over_status, const char* what) {
    if (c == '\n' || c == '\0') {
        fail(400, std::string("malformed chunked body: ") + what + " holds a bare line end or NUL");
        return false;
    }
    if (++counted > max_line_) {
        fail(over_status, std::string("malformed chunked body: ") + what + " is longer than " + std::to_string(max_line_) + " bytes");
        return false;
    }
    if (c == '\r') state_ = after_cr;
    return true;
}

std::size_t chunked_decoder::feed(std::string_view in, std::string& body) {
    std::size_t at = 0;
    auto hex_value = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
        return -1;
    };
    while (at < in.size() && state_ != state::done && state_ != state::failed) {
        const char c = in[at];
        switch (state_) {
            case state::size: {
                int digit = hex_value(c);
                if (digit >= 0) {
                    // Refused as soon as the size alone passes the limit: before its
                    // data is read, and before the number can overflow.
                    const std::uint64_t room = max_body_ - decoded_;
                    if (chunk_left_ > (room - static_cast<std::uint64_t>(digit)) / 16 ||
                        chunk_left_ * 16 + static_cast<std::uint64_t>(digit) > room) {
                        fail(413, "the request body is larger than the limit of " + std::to_string(max_body_) + " bytes");
                        return at;
                    }
                    ++size_digits_;
                    chunk_left_ = chunk_left_ * 16 + static_cast<std::uint64_t>(digit);
                    ++at;
                    break;
                }
                if (size_digits_ == 0) {
                    fail(400, "malformed chunked body: a chunk size must start with a hexadecimal digit");
                    return at;
                }
                if (c == '\r') {
                    state_ = state::size_lf;
                } else if (c == ';' || c == ' ' || c == '\t') {
                    state_ = state::extension;
                } else {
                    fail(400, "malformed chunked body: unexpected character after a chunk size");
                    return at;
                }
                ++line_bytes_;
                ++at;
                break;
            }
            case state::extension:
                if (!skip(c, state::size_lf, line_bytes_, 400, "a chunk extension")) return at;
                ++at;
                break;
            case state::size_lf:
                if (!expect(c, '\n', "a chunk-size line must end with CRLF")) return at;
                ++at;
                line_bytes_ = 0;
                size_digits_ = 0;
                state_ = chunk_left_ == 0 ? state::trailer : state::data;
                break;
            case state::data: {
                auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_left_, in.size() - at));
                body.append(in.data() + at, n);
                decoded_ += n;
                chunk_left_ -= n;
                at += n;
                if (chunk_left_ == 0) state_ = state::data_cr;
                break;
            }
            case state::data_cr:
            case state::data_lf:
                if (!expect(c, state_ == state::data_cr ? '\r' : '\n',
                            "chunk data must be followed by CRLF (the chunk is longer than its size)"))
                    return at;
                ++at;
                state_ = state_ == state::data_cr ? state::data_lf : state::size;
                break;
            case state::trailer:
                // Trailer fields are read and dropped: nothing in them is for the handler.
                ++line_bytes_;
                if (!skip(c, state::trailer_lf, trailer_bytes_, 431, "the trailer section")) return at;
                ++at;
                break;
            case state::trailer_lf:
                if (!expect(c, '\n', "a trailer line must end with CRLF")) return at;
                ++at;
                state_ = line_bytes_ == 1 ? state::done : state::trailer;  // a line of only CR ends the body
                line_bytes_ = 0;
                break;
            case state::done:
            case state::failed:
                break;
        }
    }
    return at;
}

std::string head_without_framing(const request_head& head) {
    std::string out;
    out.reserve(256);
    out.append(head.method).append(" ").append(head.target).append(head.http_1_0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    for (const auto& [name, value] : head.headers) {
        if (equals_ignoring_case(name, "transfer-encoding") || equals_ignoring_case(name, "content-length") ||
            equals_ignoring_case(name, "expect"))
            continue;
        // No space after the colon: a re-framed line is never longer than the
        // line that was sent, so it passes every line limit that one passed.
        out.append(name).append(":").append(value).append("\r\n");
    }
    return out;
}

std::string_view reason_phrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 408: return "Request Timeout";
        case 411: return "Length Required";
        case 413: return "Payload Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 417: return "Expectation Failed";
        case 431: return "Request Header Fields Too Large";
        case 501: return "Not Implemented";
        case 505: return "HTTP Version Not Supported";
        case 529: return "Overloaded";
        default: return status < 500 ? "Client Error" : "Server Error";
    }
}

}  // namespace proxy
