// libFuzzer target: any bytes as what a client sends on a connection — the
// request line, headers and a chunked body, read by the server's framing
// code (server/http_framing.hpp) as the watcher and the workers read it.
// Beyond "no crash, no hang", it checks the properties smuggling defences
// rest on: the head's end and a chunked body's end do not depend on how
// the bytes were split, an accepted head has exactly one framing, and a
// de-chunked head re-frames to the same request.
#include "http_framing.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

constexpr std::size_t body_limit = 4096;  // small, so the 413 path is reached

struct scan_result {
    proxy::head_scanner::state state;
    std::size_t head_size;
};

scan_result scan_in_steps(std::string_view wire, std::size_t step, const proxy::head_limits& limits) {
    proxy::head_scanner scanner;
    auto state = proxy::head_scanner::state::incomplete;
    for (std::size_t have = 0; state == proxy::head_scanner::state::incomplete && have < wire.size();) {
        have = std::min(wire.size(), have + step);
        state = scanner.scan(wire.substr(0, have), limits);
    }
    return {state, scanner.head_size()};
}

struct dechunked {
    std::string body;
    std::size_t consumed = 0;
    bool done = false;
    int status = 0;
};

dechunked dechunk_in_steps(std::string_view wire, std::size_t step) {
    proxy::chunked_decoder decoder(body_limit, 256);
    dechunked out;
    while (out.consumed < wire.size() && !decoder.done() && !decoder.failed()) {
        auto piece = wire.substr(out.consumed, step);
        std::size_t used = decoder.feed(piece, out.body);
        if (used > piece.size()) std::abort();
        out.consumed += used;
        if (used < piece.size() && !decoder.done() && !decoder.failed()) std::abort();  // stopped for no reason
    }
    out.done = decoder.done();
    out.status = decoder.failed() ? decoder.error()->status : 0;
    if (out.body.size() > body_limit) std::abort();
    return out;
}

bool same(const dechunked& a, const dechunked& b) {
    return a.body == b.body && a.done == b.done && a.status == b.status && a.consumed == b.consumed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t step = 1 + data[0] % 17;  // the first byte picks how the rest is split
    const std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
    proxy::head_limits limits;
    limits.max_head_bytes = 2048;
    limits.max_line_bytes = 512;
    limits.max_header_count = 32;

    const scan_result whole = scan_in_steps(wire, wire.size() + 1, limits);
    const scan_result split = scan_in_steps(wire, step, limits);
    if (whole.state != split.state) std::abort();
    if (whole.state != proxy::head_scanner::state::complete) return 0;
    if (whole.head_size != split.head_size || whole.head_size > wire.size()) std::abort();

    proxy::request_head head;
    const std::string_view head_text = wire.substr(0, whole.head_size);
    if (auto err = proxy::parse_request_head(head_text, limits, head)) {
        if (err->status < 400 || err->status > 599 || err->message.empty()) std::abort();
        return 0;
    }
    if (head.method.empty() || head.target.empty()) std::abort();
    if (head.chunked && head.content_length) std::abort();  // one framing, never two
    if (head.method_needs_length() && !head.chunked && !head.content_length) std::abort();

    // Re-framed as the worker re-frames a de-chunked request: parses again, to the same request.
    const std::string reframed = proxy::head_without_framing(head) + "Content-Length: 7\r\n\r\n";
    proxy::request_head again;
    if (proxy::parse_request_head(reframed, limits, again)) {
        // Only the limits may refuse it (the added line can pass them).
        if (reframed.size() <= limits.max_head_bytes && head.headers.size() < limits.max_header_count) std::abort();
    } else if (again.method != head.method || again.target != head.target || again.chunked ||
               !again.content_length || *again.content_length != 7 || again.http_1_0 != head.http_1_0) {
        std::abort();
    }

    if (head.chunked) {
        const std::string_view body = wire.substr(whole.head_size);
        if (!same(dechunk_in_steps(body, body.size() + 1), dechunk_in_steps(body, step))) std::abort();
    }
    return 0;
}
