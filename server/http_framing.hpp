// Inbound HTTP/1.x framing, read strictly (RFC 9112) before cpp-httplib
// sees a byte: where a request ends, and whether it may be read at all. No
// sockets here, so the fuzz target and the tests drive it with plain bytes.
//
// Why ours: cpp-httplib 0.11.4 reads a chunked body, a body without a
// length (to EOF) and a gzip body whole, before any handler can refuse it,
// and it accepts Content-Length beside Transfer-Encoding (request
// smuggling), differing duplicate Content-Lengths and malformed chunk sizes.
// A request that passes here is re-read by httplib from the same bytes, with
// a framing both parsers agree on.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace proxy {

/// Why a request cannot be read, as the client will be told: an HTTP status
/// and a message naming the offending part.
struct framing_error {
    int status = 400;
    std::string message;
};

/// The bounds a request head must stay within.
struct head_limits {
    std::size_t max_head_bytes = 64 * 1024;    ///< request line and every header together (431 above)
    std::size_t max_line_bytes = 8 * 1024;     ///< one header line; also the request target (431 / 414)
    std::size_t max_header_count = 256;        ///< header lines (431 above)
};

/// Finds the empty line that ends a request head, however its bytes arrive:
/// each call scans only what is new, so a head sent a byte at a time costs
/// linear time. Leading empty lines (allowed before a request line) belong
/// to the head.
class head_scanner {
public:
    enum class state { incomplete, complete, too_large };

    /// `received`: every byte of the head so far (the same prefix each call, longer).
    state scan(std::string_view received, const head_limits& limits);
    /// After `complete`: the head's size, its final empty line included.
    std::size_t head_size() const { return line_start_; }

private:
    std::size_t line_start_ = 0;  ///< where the line being read starts
    std::size_t searched_ = 0;    ///< no line feed before this position in that line
    bool request_line_seen_ = false;
};

/// A request head that passed every check. The views point into the text
/// given to parse_request_head.
struct request_head {
    std::string_view method;
    std::string_view target;  ///< as sent: path and query
    bool http_1_0 = false;
    std::vector<std::pair<std::string_view, std::string_view>> headers;  ///< values without surrounding whitespace

    std::optional<std::uint64_t> content_length;  ///< present: the body is exactly this long
    bool chunked = false;                         ///< Transfer-Encoding: chunked (never with content_length)
    bool keep_alive = true;                       ///< after the HTTP version's default and any Connection header
    bool expect_continue = false;                 ///< Expect: 100-continue

    /// The path without the query.
    std::string_view path() const;
    /// First value of header `name` (ASCII case-insensitive); empty when absent.
    std::string_view header(std::string_view name) const;
    /// True when the method carries a body by definition (POST, PUT, PATCH).
    bool method_needs_length() const;
};

/// Parses the head `text` (as delimited by head_scanner) and checks its
/// framing. Errors: 400 (syntax, Content-Length beside Transfer-Encoding,
/// differing Content-Lengths, missing Host in HTTP/1.1), 411 (a POST/PUT/PATCH
/// with neither length nor chunked), 414/431 (limits), 415 (a
/// Content-Encoding other than identity: the body would be inflated past any
/// limit), 501 (a transfer coding other than chunked), 505 (not HTTP/1.x).
/// A body over `max_body_bytes` is left to the caller (413, not framing).
std::optional<framing_error> parse_request_head(std::string_view text, const head_limits& limits,
                                                request_head& head);

/// Decodes a chunked body incrementally, however its bytes are split.
/// Chunk extensions are skipped and trailer fields discarded (both bounded).
class chunked_decoder {
public:
    explicit chunked_decoder(std::size_t max_body_bytes, std::size_t max_line_bytes = 8 * 1024)
        : max_body_(max_body_bytes), max_line_(max_line_bytes) {}

    /// Consumes what it can of `in`, appending chunk data to `body`; returns
    /// the bytes consumed. Stops at the end of the body (done()) or at the
    /// first error (failed()): bytes after either are not consumed.
    std::size_t feed(std::string_view in, std::string& body);

    bool done() const { return state_ == state::done; }
    bool failed() const { return error_.has_value(); }
    /// 400 for malformed framing, 413 once the decoded body passes the limit.
    const std::optional<framing_error>& error() const { return error_; }

private:
    enum class state { size, extension, size_lf, data, data_cr, data_lf, trailer, trailer_lf, done, failed };
    void fail(int status, std::string message);
    // False (and failed) unless `c` is the one byte the framing allows here.
    bool expect(char c, char wanted, const char* what);
    // One byte of a line the decoder skips (a chunk extension, a trailer
    // field); false once the line is malformed or `counted` passes the limit.
    bool skip(char c, state after_cr, std::size_t& counted, int over_status, const char* what);

    std::size_t max_body_;
    std::size_t max_line_;
    state state_ = state::size;
    std::size_t size_digits_ = 0;
    std::uint64_t chunk_left_ = 0;
    std::size_t decoded_ = 0;
    std::size_t line_bytes_ = 0;      ///< of the chunk extension or trailer line being read
    std::size_t trailer_bytes_ = 0;   ///< the whole trailer section
    std::optional<framing_error> error_;
};

/// The request line and header lines of `head`, each ending in CRLF, without
/// Transfer-Encoding, Content-Length and Expect and without the final empty
/// line: a de-chunked request is re-framed by appending its Content-Length
/// and the empty line.
std::string head_without_framing(const request_head& head);

/// The reason phrase for the statuses the proxy sends ("Bad Request", …).
std::string_view reason_phrase(int status);

}  // namespace proxy
