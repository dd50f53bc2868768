// Built with -fno-exceptions: the core must compile and work in projects
// that ban exceptions (games, embedded, Google-style codebases).
#include <msgbridge.hpp>

#include <cstdio>
#include <string>

namespace {
int failures = 0;
void expect(bool condition, const char* what) {
    if (!condition) {
        std::fprintf(stderr, "FAILED: %s\n", what);
        ++failures;
    }
}
}  // namespace

int main() {
    auto converted = msgbridge::convert_request(
        R"({"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]})");
    expect(converted.has_value(), "a valid request converts");

    auto invalid = msgbridge::convert_request(R"({"model":"m","messages":"nope"})");
    expect(!invalid.has_value() && invalid.error().http_status == 400, "an invalid request is an error value");

    auto garbage = msgbridge::convert_request("\x01\x02{[");
    expect(!garbage.has_value(), "garbage bytes are an error value");

    msgbridge::response_context context;
    context.client_model = "m";
    auto message = msgbridge::convert_response(
        R"({"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}})",
        context);
    expect(message.has_value() && message->find("\"hello\"") != std::string::npos, "a completion converts");

    msgbridge::stream_converter stream(context);
    std::string events;
    stream.feed("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n", events);
    stream.feed("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n", events);
    stream.finish(events);
    expect(stream.done(), "the stream finishes");
    expect(events.find("event: message_stop") != std::string::npos, "the stream ends with message_stop");

    auto strategy = msgbridge::parse_rotation("sideways");
    expect(!strategy.has_value(), "an unknown rotation is an error value");

    if (failures == 0) std::puts("noexcept_check: all checks passed");
    return failures == 0 ? 0 : 1;
}
