// The mock upstream both /status tests script (tests/server_status.cpp in
// process, tests/browser/status_page.cpp with the built binary and Chromium):
// the request's text picks the answer.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "mock_upstream.hpp"

namespace status_test {

/// Text of a request the mock answers with 429 (Retry-After: 120), whatever the key.
inline const std::string rate_limit_me = "rate limit me";
/// Text of a streamed request the mock holds open after its first chunk until `hold` opens.
inline const std::string keep_streaming = "keep streaming";
/// A model name a hostile client might send, and how the page must show it.
inline const std::string hostile_model = "<script>alert(1)</script>";
inline const std::string escaped_hostile_model = "&lt;script&gt;alert(1)&lt;/script&gt;";

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Every other request gets a normal answer, streamed or not.
inline mock::upstream::handler scripted_upstream(std::shared_ptr<mock::gate> hold) {
    return [hold](const mock::recorded& r, std::size_t) {
        if (contains(r.body, rate_limit_me))
            return mock::json(429, R"({"error":{"message":"rate limited"}})", {{"Retry-After", "120"}});
        if (contains(r.body, keep_streaming)) {
            auto held = mock::sse(mock::text_stream({"still", " going"}));
            held.hold = hold;
            held.hold_after = 1;
            return held;
        }
        if (contains(r.body, R"("stream":true)")) return mock::sse(mock::text_stream({"ser", "ved"}));
        return mock::json(200, mock::completion("served"));
    };
}

/// A stream the scripted upstream keeps open (model `model`) until this
/// object goes, test failure or not: its destructor lets the stream end and
/// joins the client thread.
class held_stream {
public:
    held_stream(int port, std::shared_ptr<mock::gate> hold, const std::string& model, httplib::Headers headers = {})
        : hold_(std::move(hold)), client_([port, model, headers] {
              mock::post_stream(port, "/v1/messages", mock::messages_body(true, model, 256, keep_streaming), nullptr,
                                headers);
          }) {}
    ~held_stream() {
        hold_->open();
        client_.join();
    }
    held_stream(const held_stream&) = delete;
    held_stream& operator=(const held_stream&) = delete;

    /// Whether the upstream holds the stream now.
    bool open() { return hold_->wait_for_waiters(1); }

private:
    std::shared_ptr<mock::gate> hold_;
    std::thread client_;
};

}  // namespace status_test
