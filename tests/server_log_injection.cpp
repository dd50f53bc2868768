// A log line stays one line whatever a client or an upstream sends: control
// bytes are escaped, so a "%0a" in a URL cannot forge a line.
#include <catch2/catch.hpp>

#include <string>

#include "log.hpp"
#include "support/mock_upstream.hpp"

namespace {

std::string escaped(std::string_view text) {
    std::string out;
    proxy::append_escaped_controls(text, out);
    return out;
}

// Every captured line is exactly one line: its only LF is the last byte.
void require_one_line_each(const std::vector<std::string>& lines) {
    for (const auto& line : lines) {
        INFO(line);
        REQUIRE(!line.empty());
        CHECK(line.find('\n') == line.size() - 1);
        CHECK(line.find('\r') == std::string::npos);
    }
}

}  // namespace

TEST_CASE("log: control bytes are escaped, everything else is kept", "[server][log]") {
    CHECK(escaped("plain text, UTF-8 é ✓ and \\n as typed") == "plain text, UTF-8 é ✓ and \\n as typed");
    CHECK(escaped("a\nb\rc\td") == "a\\nb\\rc\\td");
    CHECK(escaped(std::string("nul\0esc\x1b[31mdel\x7f", 16)) == "nul\\x00esc\\x1b[31mdel\\x7f");
    std::vector<std::string> lines;
    proxy::logger log([&](std::string_view line) { lines.emplace_back(line); });
    log.line("GET /x\n2026-01-01T00:00:00Z forged line");
    require_one_line_each(lines);
    CHECK(lines.at(0).find("/x\\n2026-01-01T00:00:00Z forged line") != std::string::npos);
}

TEST_CASE("log: a URL with %0a, no key needed, cannot forge a log line", "[server][log]") {
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("hi")); });
    proxy::config cfg = mock::test_config(up.url(), {"nvapi-test-key-000000000001"});
    cfg.server_api_key = "inbound-secret";
    mock::running_proxy proxy(cfg);

    auto res = proxy.client().Get("/nothing%0a2026-12-04T00:00:00.000Z%20req_forged%20POST%20/v1/messages%20status=200%0d");
    REQUIRE(res);
    CHECK(res->status == 404);
    auto unauthorized = proxy.client().Post("/v1/messages%0aforged", mock::messages_body(false), "application/json");
    REQUIRE(unauthorized);
    REQUIRE(proxy.wait_for_log("forged"));
    const auto lines = proxy.log();
    require_one_line_each(lines);
    CHECK(proxy.log_text().find("/nothing\\n2026-12-04T00:00:00.000Z req_forged") != std::string::npos);
}

TEST_CASE("log: an upstream error body with newlines stays on its line", "[server][log]") {
    mock::upstream up([](const mock::recorded&, std::size_t) {
        return mock::json(400, "{\"error\":{\"message\":\"bad\\nrequest\\r\\n2026 forged\"}}\n\nmore\n");
    });
    mock::running_proxy proxy(mock::test_config(up.url(), {"nvapi-test-key-000000000001"}));
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(res);
    CHECK(res->status == 400);
    REQUIRE(proxy.wait_for_log("status=400"));
    require_one_line_each(proxy.log());
}
