// Test helper (stream suites): run a whole upstream stream through a
// stream_converter in pieces of a given size.
#pragma once

#include <msgbridge/stream.hpp>

#include <string>
#include <string_view>

namespace msgbridge_test {

inline msgbridge::stream_options test_stream_options() {
    msgbridge::stream_options options;
    options.message_id = "msg_test";
    options.id_seed = 42;
    return options;
}

inline msgbridge::response_context test_context() {
    msgbridge::response_context context;
    context.client_model = "claude-sonnet-4-5";
    context.estimated_input_tokens = 25;
    return context;
}

// piece == 0: the whole input in one feed.
inline std::string run_stream(std::string_view upstream, const msgbridge::response_context& context,
                              std::size_t piece = 0,
                              const msgbridge::stream_options& options = test_stream_options()) {
    msgbridge::stream_converter converter(context, options);
    std::string out;
    if (piece == 0) piece = upstream.size() == 0 ? 1 : upstream.size();
    if (upstream.empty()) converter.feed({}, out);
    for (std::size_t at = 0; at < upstream.size(); at += piece) converter.feed(upstream.substr(at, piece), out);
    converter.finish(out);
    return out;
}

// One SSE `data:` event for an upstream chunk.
inline std::string sse(std::string_view json) {
    return "data: " + std::string(json) + "\n\n";
}

inline std::string chunk_with_delta(std::string_view delta_json, std::string_view finish_reason = {}) {
    std::string chunk = R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":)";
    chunk += delta_json;
    chunk += R"(,"logprobs":null,"finish_reason":)";
    chunk += finish_reason.empty() ? std::string("null") : "\"" + std::string(finish_reason) + "\"";
    chunk += "}]}";
    return sse(chunk);
}

inline std::string usage_chunk(int prompt, int completion, int cached = 0) {
    return sse(R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"up","choices":[],"usage":{"prompt_tokens":)" +
               std::to_string(prompt) + R"(,"completion_tokens":)" + std::to_string(completion) +
               R"(,"total_tokens":)" + std::to_string(prompt + completion) +
               R"(,"prompt_tokens_details":{"cached_tokens":)" + std::to_string(cached) + "}}}");
}

inline const char* done_event() { return "data: [DONE]\n\n"; }

}  // namespace msgbridge_test
