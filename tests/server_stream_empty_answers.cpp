// A streamed answer that ends with no text and no tool call: asked for once
// more while the client has seen nothing of it, else an `error` event.
// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "support/mock_upstream.hpp"

namespace {

std::vector<std::string> ended_with(const std::string& finish, const std::string& first_delta = "") {
    std::vector<std::string> chunks{mock::chunk(R"({"role":"assistant","content":""})")};
    if (!first_delta.empty()) chunks.push_back(mock::chunk(first_delta));
    chunks.push_back(mock::chunk("{}", "\"" + finish + "\""));
    chunks.push_back(mock::usage_chunk());
    chunks.push_back("data: [DONE]\n\n");
    return chunks;
}

// One streamed request to a proxy in front of `answers`; the upstream calls it took.
struct streamed {
    mock::stream_result got;
    std::vector<std::string> names;
    std::size_t calls = 0;
    std::string log;
};

streamed stream_from(const mock::upstream::handler& answers) {
    mock::upstream up(answers);
    mock::running_proxy proxy(mock::test_config(up.url()));
    streamed out;
    out.got = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
    out.names = mock::event_names(out.got.events);
    out.calls = up.requests().size();
    out.log = proxy.log_text();
    return out;
}

std::size_t count(const std::vector<std::string>& names, const std::string& name) {
    return static_cast<std::size_t>(std::count(names.begin(), names.end(), name));
}

}  // namespace

TEST_CASE("streaming: an empty answer is asked for once more while the client has seen none of it",
          "[server][stream][empty]") {
    SECTION("empty once: the client gets the second answer, one message_start, no error") {
        const auto s = stream_from([](const mock::recorded&, std::size_t index) {
            return mock::sse(index == 0 ? ended_with("stop") : mock::text_stream({"Hello", " there"}));
        });
        CHECK(s.got.status == 200);
        CHECK(count(s.names, "message_start") == 1);
        CHECK(count(s.names, "error") == 0);
        REQUIRE_FALSE(s.names.empty());
        CHECK(s.names.back() == "message_stop");
        CHECK(s.got.raw.find("Hello") != std::string::npos);
        CHECK(s.calls == 2);
        CHECK(s.log.find("the model returned an empty answer; asking once more") != std::string::npos);
    }
    SECTION("empty twice: an api_error event that says so, no empty success, no third ask") {
        const auto s = stream_from([](const mock::recorded&, std::size_t) { return mock::sse(ended_with("stop")); });
        CHECK(s.got.status == 200);
        CHECK(count(s.names, "message_stop") == 0);
        CHECK(count(s.names, "message_delta") == 0);
        REQUIRE_FALSE(s.names.empty());
        CHECK(s.names.back() == "error");
        CHECK(s.got.events.back().data.find(R"("type":"api_error")") != std::string::npos);
        CHECK(s.got.events.back().data.find("the model returned an empty answer (no text, no tool call), twice") !=
              std::string::npos);
        CHECK(s.calls == 2);
        CHECK(s.log.find(" end=empty-answer") != std::string::npos);
    }
    SECTION("reasoning already streamed, then nothing: an error event, not asked again") {
        const auto s = stream_from([](const mock::recorded&, std::size_t) {
            return mock::sse(ended_with("stop", R"({"reasoning_content":"let me think"})"));
        });
        CHECK(count(s.names, "content_block_start") == 1);
        CHECK(count(s.names, "content_block_stop") == 1);  // the thinking block closes before the error
        CHECK(count(s.names, "message_stop") == 0);
        REQUIRE_FALSE(s.names.empty());
        CHECK(s.names.back() == "error");
        CHECK(s.got.events.back().data.find("the model returned an empty answer (no text, no tool call); retry") !=
              std::string::npos);
        CHECK(s.calls == 1);
    }
    SECTION("nothing before max_tokens is the answer asked for: ends as the upstream ended it") {
        const auto s = stream_from([](const mock::recorded&, std::size_t) { return mock::sse(ended_with("length")); });
        REQUIRE_FALSE(s.names.empty());
        CHECK(s.names.back() == "message_stop");
        CHECK(s.got.raw.find(R"("stop_reason":"max_tokens")") != std::string::npos);
        CHECK(s.calls == 1);
    }
}
