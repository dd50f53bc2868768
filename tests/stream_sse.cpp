#include <catch2/catch.hpp>
#include <msgbridge/detail/sse_parser.hpp>

#include <string>
#include <vector>

using msgbridge::detail::sse_parser;
using msgbridge::detail::sse_status;

namespace {

struct parsed {
    std::vector<std::string> events;  // "type|data"
    sse_status status = sse_status::ok;
    bool partial = false;
};

// Feeds `input` in pieces of `piece` bytes (0: whole).
parsed parse(const std::string& input, std::size_t piece = 0, std::size_t cap = 1 << 20) {
    sse_parser parser(cap);
    parsed result;
    if (piece == 0) piece = input.empty() ? 1 : input.size();
    for (std::size_t at = 0; at < input.size() && result.status == sse_status::ok; at += piece) {
        result.status = parser.feed(std::string_view(input).substr(at, piece), [&](std::string_view type, std::string& data) {
            result.events.push_back(std::string(type) + "|" + data);
            return true;
        });
    }
    result.partial = parser.has_partial_event();
    return result;
}

std::vector<std::string> events_at_every_split(const std::string& input) {
    const auto whole = parse(input).events;
    for (std::size_t piece = 1; piece < input.size(); ++piece) {
        INFO("piece size " << piece);
        REQUIRE(parse(input, piece).events == whole);
    }
    // and two pieces split at every position
    for (std::size_t split = 0; split <= input.size(); ++split) {
        sse_parser parser(1 << 20);
        std::vector<std::string> events;
        auto sink = [&](std::string_view type, std::string& data) {
            events.push_back(std::string(type) + "|" + data);
            return true;
        };
        (void)parser.feed(std::string_view(input).substr(0, split), sink);
        (void)parser.feed(std::string_view(input).substr(split), sink);
        INFO("split at " << split);
        REQUIRE(events == whole);
    }
    return whole;
}

}  // namespace

TEST_CASE("sse: data lines dispatch on a blank line", "[sse]") {
    CHECK(parse("data: a\n\ndata: b\n\n").events == std::vector<std::string>{"message|a", "message|b"});
    SECTION("no space after the colon") { CHECK(parse("data:a\n\n").events == std::vector<std::string>{"message|a"}); }
    SECTION("only one leading space is removed") { CHECK(parse("data:  a\n\n").events == std::vector<std::string>{"message| a"}); }
    SECTION("an event without the final blank line is not dispatched") {
        const auto result = parse("data: a\n\ndata: b\n");
        CHECK(result.events == std::vector<std::string>{"message|a"});
        CHECK(result.partial);
    }
    SECTION("empty data field dispatches an empty string; no data field dispatches nothing") {
        CHECK(parse("data\n\n").events == std::vector<std::string>{"message|"});
        CHECK(parse("event: x\n\n").events.empty());
    }
}

TEST_CASE("sse: \\n, \\r and \\r\\n line endings, split anywhere", "[sse]") {
    const std::vector<std::string> expected{"message|one", "message|two", "message|three"};
    CHECK(events_at_every_split("data: one\n\ndata: two\n\ndata: three\n\n") == expected);
    CHECK(events_at_every_split("data: one\r\n\r\ndata: two\r\n\r\ndata: three\r\n\r\n") == expected);
    CHECK(events_at_every_split("data: one\r\rdata: two\r\rdata: three\r\r") == expected);
    CHECK(events_at_every_split("data: one\r\n\ndata: two\n\r\ndata: three\r\r\n") == expected);
    SECTION("\\r at the end of one piece and \\n at the start of the next is one line ending") {
        sse_parser parser(1024);
        std::vector<std::string> events;
        auto sink = [&](std::string_view, std::string& data) {
            events.push_back(data);
            return true;
        };
        CHECK(parser.feed("data: x\r", sink) == sse_status::ok);
        CHECK(parser.feed("\n\r", sink) == sse_status::ok);
        CHECK(events == std::vector<std::string>{"x"});
        CHECK(parser.feed("\ndata: y\r\n\r\n", sink) == sse_status::ok);
        CHECK(events == std::vector<std::string>{"x", "y"});
    }
}

TEST_CASE("sse: comments, event, id and retry fields, unknown fields", "[sse]") {
    CHECK(events_at_every_split(": keep-alive\n\n:\n\nevent: error\ndata: {\"e\":1}\n\nid: 7\nretry: 1000\nfoo: bar\ndata: z\n\n") ==
          std::vector<std::string>{"error|{\"e\":1}", "message|z"});
    SECTION("the event type resets after each dispatch") {
        CHECK(parse("event: a\ndata: 1\n\ndata: 2\n\n").events == std::vector<std::string>{"a|1", "message|2"});
    }
    SECTION("blank keep-alive lines between events do nothing") {
        CHECK(parse("\n\n\ndata: 1\n\n\n\n").events == std::vector<std::string>{"message|1"});
    }
}

TEST_CASE("sse: multi-line data is joined with \\n", "[sse]") {
    CHECK(events_at_every_split("data: {\"a\":\ndata: 1}\n\ndata: x\ndata:\ndata: y\n\n") ==
          std::vector<std::string>{"message|{\"a\":\n1}", "message|x\n\ny"});
}

TEST_CASE("sse: a UTF-8 BOM at the start is dropped, even split byte by byte", "[sse]") {
    CHECK(events_at_every_split("\xEF\xBB\xBF" "data: \xC3\xA9\n\n") == std::vector<std::string>{"message|\xC3\xA9"});
    SECTION("only at the start") {
        CHECK(parse("data: a\n\n\xEF\xBB\xBF" "data: b\n\n").events == std::vector<std::string>{"message|a"});
    }
    SECTION("bytes that only begin like a BOM are kept") {
        CHECK(parse("\xEF\xBB" "data: a\n\ndata: b\n\n").events == std::vector<std::string>{"message|b"});
    }
}

TEST_CASE("sse: an event larger than the cap is an error, not unbounded memory", "[sse]") {
    const std::string big = "data: " + std::string(2000, 'x') + "\n\n";
    CHECK(parse(big, 0, 1000).status == sse_status::too_large);
    CHECK(parse(big, 7, 1000).status == sse_status::too_large);
    SECTION("many data lines add up") {
        std::string lines;
        for (int i = 0; i < 100; ++i) lines += "data: " + std::string(20, 'y') + "\n";
        CHECK(parse(lines, 13, 1000).status == sse_status::too_large);
    }
    SECTION("an endless line without a terminator") {
        sse_parser parser(1000);
        sse_status status = sse_status::ok;
        for (int i = 0; i < 100 && status == sse_status::ok; ++i) {
            status = parser.feed(std::string(50, 'z'), [](std::string_view, std::string&) { return true; });
        }
        CHECK(status == sse_status::too_large);
    }
    CHECK(parse("data: " + std::string(900, 'x') + "\n\n", 0, 1000).events.size() == 1);
}

TEST_CASE("sse: the handler can stop the parser", "[sse]") {
    sse_parser parser(1024);
    int calls = 0;
    CHECK(parser.feed("data: 1\n\ndata: 2\n\n", [&](std::string_view, std::string&) { return ++calls < 1; }) == sse_status::stopped);
    CHECK(calls == 1);
}
