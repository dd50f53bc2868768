// The inbound framing rules (server/http_framing.hpp) on plain bytes: where
// a head ends, which heads are refused with which status, and chunked bodies
// however they are split.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "http_framing.hpp"

namespace {

struct parsed {
    std::unique_ptr<std::string> text;  // the head's views point into it
    std::optional<proxy::framing_error> error;
    proxy::request_head head;
};

parsed parse(std::string text, proxy::head_limits limits = {}) {
    parsed out;
    out.text = std::make_unique<std::string>(std::move(text));
    out.error = proxy::parse_request_head(*out.text, limits, out.head);
    return out;
}

int status_of(const std::string& text) {
    auto p = parse(text);
    return p.error ? p.error->status : 0;
}

// Decodes `wire` fed in pieces of `step` bytes.
struct decoded {
    std::string body;
    std::size_t consumed = 0;
    bool done = false;
    int status = 0;
};
decoded dechunk(const std::string& wire, std::size_t step, std::size_t limit = 1 << 20) {
    proxy::chunked_decoder decoder(limit);
    decoded out;
    while (out.consumed < wire.size() && !decoder.done() && !decoder.failed()) {
        std::size_t end = std::min(wire.size(), out.consumed + step);
        std::string_view piece(wire.data() + out.consumed, end - out.consumed);
        std::size_t used = decoder.feed(piece, out.body);
        out.consumed += used;
        if (used < piece.size()) break;  // stopped at the end or at an error
    }
    out.done = decoder.done();
    out.status = decoder.failed() ? decoder.error()->status : 0;
    return out;
}

const std::string post = "POST /v1/messages HTTP/1.1\r\nHost: x\r\n";

}  // namespace

TEST_CASE("framing: the head ends at the first empty line, whatever the split", "[server][framing]") {
    const std::string head = "\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string wire = head + "BODY";
    for (std::size_t step : {1u, 2u, 7u, 1000u}) {
        proxy::head_scanner scanner;
        proxy::head_scanner::state state = proxy::head_scanner::state::incomplete;
        std::size_t have = 0;
        while (state == proxy::head_scanner::state::incomplete && have < wire.size()) {
            have = std::min(wire.size(), have + step);
            state = scanner.scan(std::string_view(wire).substr(0, have), {});
        }
        REQUIRE(state == proxy::head_scanner::state::complete);
        CHECK(scanner.head_size() == head.size());  // the leading empty line belongs to the head
    }
}

TEST_CASE("framing: a head beyond the limits is too large before it ends", "[server][framing]") {
    proxy::head_limits limits;
    limits.max_head_bytes = 1024;
    limits.max_line_bytes = 100;
    proxy::head_scanner long_line;
    CHECK(long_line.scan("GET /" + std::string(200, 'a'), limits) == proxy::head_scanner::state::too_large);
    proxy::head_scanner many_lines;
    std::string head = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 200; ++i) head += "X-A: b\r\n";
    CHECK(many_lines.scan(head, limits) == proxy::head_scanner::state::too_large);
}

TEST_CASE("framing: well-formed heads are read with their framing", "[server][framing]") {
    auto p = parse(post + "Content-Length: 12\r\nContent-Length: 12\r\nExpect: 100-continue\r\nX-Api-Key:  k \r\n\r\n");
    REQUIRE_FALSE(p.error);
    CHECK(p.head.method == "POST");
    CHECK(p.head.path() == "/v1/messages");
    CHECK(*p.head.content_length == 12);  // identical duplicates are one length
    CHECK(p.head.expect_continue);
    CHECK(p.head.keep_alive);
    CHECK(p.head.header("x-api-key") == "k");

    auto chunked = parse(post + "Transfer-Encoding: Chunked\r\nConnection: close\r\n\r\n");
    REQUIRE_FALSE(chunked.error);
    CHECK(chunked.head.chunked);
    CHECK_FALSE(chunked.head.keep_alive);

    auto old = parse("GET /health?x=1 HTTP/1.0\r\n\r\n");  // HTTP/1.0 needs no Host
    REQUIRE_FALSE(old.error);
    CHECK(old.head.http_1_0);
    CHECK_FALSE(old.head.keep_alive);
    CHECK(old.head.path() == "/health");
    CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").head.keep_alive);
}

TEST_CASE("framing: ambiguous or smuggling-prone framing is refused", "[server][framing]") {
    CHECK(status_of(post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
    CHECK(status_of(post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n") == 400);
    CHECK(status_of(post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n") == 400);
    CHECK(status_of(post + "Content-Length: 5, 5\r\n\r\n") == 400);
    CHECK(status_of(post + "Content-Length: +5\r\n\r\n") == 400);
    CHECK(status_of(post + "Content-Length: 99999999999999999999\r\n\r\n") == 400);
    CHECK(status_of(post + "Content-Length : 5\r\n\r\n") == 400);       // space before the colon
    CHECK(status_of(post + "Content-Length: 5\r\n folded\r\n\r\n") == 400);  // obsolete line folding
    CHECK(status_of("POST /v1/messages HTTP/1.1\nHost: x\r\nContent-Length: 5\r\n\r\n") == 400);  // bare LF
    CHECK(status_of(post + "Transfer-Encoding: gzip, chunked\r\n\r\n") == 501);
    CHECK(status_of(post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") == 501);
    CHECK(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
    CHECK(status_of(post + "X-Bad: a\x01z\r\nContent-Length: 1\r\n\r\n") == 400);
}

TEST_CASE("framing: request lines, versions, hosts and encodings", "[server][framing]") {
    CHECK(status_of("THIS IS NOT HTTP\r\n\r\n") == 400);
    CHECK(status_of("GET  /health HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
    CHECK(status_of("GET health HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
    CHECK(status_of("GET /health HTTP/2.0\r\nHost: x\r\n\r\n") == 505);
    CHECK(status_of("GET /health HTTP/1.1\r\n\r\n") == 400);  // no Host
    CHECK(status_of("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
    CHECK(status_of(post + "Content-Encoding: gzip\r\nContent-Length: 5\r\n\r\n") == 415);
    CHECK(status_of(post + "Content-Encoding: identity\r\nContent-Length: 5\r\n\r\n") == 0);
    CHECK(status_of(post + "\r\n") == 411);  // a POST with no length at all: never read to EOF
    CHECK(status_of("GET /health HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(status_of(post + "Expect: something-else\r\nContent-Length: 1\r\n\r\n") == 417);
    proxy::head_limits limits;
    limits.max_line_bytes = 64;
    CHECK(parse("GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", limits).error->status == 414);
    limits.max_header_count = 2;
    CHECK(parse(post + "A: 1\r\nB: 2\r\n\r\n", limits).error->status == 431);
    auto named = parse(post + "Content-Length: ten\r\n\r\n");
    CHECK(named.error->message.find("Content-Length") != std::string::npos);  // the message names the header
}

TEST_CASE("framing: chunked bodies decode the same however they are split", "[server][framing]") {
    const std::string wire = "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    for (std::size_t step : {1u, 3u, 16u, 4096u}) {
        auto d = dechunk(wire, step);
        CHECK(d.done);
        CHECK(d.body == "hello 0123456789");
        CHECK(d.consumed == wire.size() - 4);  // stops before the next request
    }
}

TEST_CASE("framing: leading zeros in a chunk size are only zeros", "[server][framing]") {
    auto d = dechunk(std::string(40, '0') + "5\r\nhello\r\n0\r\n\r\n", 1, 5);
    CHECK(d.done);
    CHECK(d.body == "hello");
}

TEST_CASE("framing: malformed chunked bodies are refused with the right status", "[server][framing]") {
    CHECK(dechunk("zz\r\nab\r\n0\r\n\r\n", 1).status == 400);            // not hex
    CHECK(dechunk("\r\nab\r\n0\r\n\r\n", 1).status == 400);              // no size
    CHECK(dechunk("2\nab\r\n0\r\n\r\n", 1).status == 400);               // bare LF
    CHECK(dechunk("2\r\nabc\r\n0\r\n\r\n", 1).status == 400);            // data longer than its size
    CHECK(dechunk("-2\r\nab\r\n0\r\n\r\n", 1).status == 400);
    CHECK(dechunk("0x2\r\nab\r\n0\r\n\r\n", 1).status == 400);
    CHECK(dechunk("2\r\nab\r\n0\r\nBad\nTrailer\r\n\r\n", 1).status == 400);
    CHECK(dechunk("ffffffffffffffffff\r\n", 1).status == 413);           // would overflow: refused first
    CHECK(dechunk("10\r\n", 1, 15).status == 413);                       // one chunk over the limit
    auto over = dechunk("8\r\n12345678\r\n8\r\n12345678\r\n", 1, 12);    // the sum over the limit
    CHECK(over.status == 413);
    CHECK(over.body.size() <= 12);  // refused before the excess was stored
    CHECK(dechunk("1;" + std::string(9000, 'e') + "\r\na\r\n0\r\n\r\n", 4096).status == 400);
}

TEST_CASE("framing: a de-chunked head is re-framed with a Content-Length only", "[server][framing]") {
    auto p = parse(post + "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\nX-Keep: yes\r\n\r\n");
    REQUIRE_FALSE(p.error);
    std::string rebuilt = proxy::head_without_framing(p.head) + "Content-Length: 16\r\n\r\n";
    auto again = parse(rebuilt);
    REQUIRE_FALSE(again.error);
    CHECK_FALSE(again.head.chunked);
    CHECK_FALSE(again.head.expect_continue);
    CHECK(*again.head.content_length == 16);
    CHECK(again.head.header("x-keep") == "yes");
}
