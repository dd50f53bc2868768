// libFuzzer target: any bytes as an upstream SSE stream. Checks invariants,
// not just survival: (1) the Anthropic events are a legal sequence that the
// strict test accumulator rebuilds (message_stop, or an error event after
// the open block was closed); (2) the output does not depend on how the
// network split the input — the same bytes fed whole and in pieces chosen
// from the input give byte-identical events.
#include <msgbridge.hpp>

#include "../support/anthropic_stream_accumulator.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

msgbridge::response_context fuzz_context() {
    msgbridge::response_context context;
    context.client_model = "claude-fuzz";
    context.tool_names = {{"short_name", "a_very_long_original_tool_name"}};
    context.stop_sequences = {"STOP"};
    context.offered_tools = {"Read", "short_name"};  // tool calls written as text are salvaged
    context.estimated_input_tokens = 42;
    return context;
}

std::string convert(std::string_view input, bool think_tags, std::uint64_t split_seed) {
    msgbridge::response_context context = fuzz_context();
    context.think_tags_in_content = think_tags;
    msgbridge::stream_options options;
    options.message_id = "msg_fuzz";
    options.id_seed = 7;
    options.max_event_bytes = 1 << 16;
    msgbridge::stream_converter converter(std::move(context), options);
    std::string out;
    if (split_seed == 0) {
        converter.feed(input, out);
    } else {
        // Piece sizes from a xorshift sequence: 1..17 bytes, so splits land
        // inside lines, UTF-8 sequences and \r\n pairs.
        std::uint64_t state = split_seed;
        std::size_t position = 0;
        while (position < input.size()) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            const std::size_t piece = 1 + static_cast<std::size_t>(state % 17);
            converter.feed(input.substr(position, piece), out);
            position += piece;
        }
    }
    converter.finish(out);
    if (!converter.done()) std::abort();
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::uint64_t seed = 1469598103934665603ull;  // FNV-1a of the input picks the split pattern
    for (unsigned char byte : input) seed = (seed ^ byte) * 1099511628211ull;
    seed |= 1;

    for (bool think_tags : {false, true}) {
        const std::string whole = convert(input, think_tags, 0);
        const std::string pieces = convert(input, think_tags, seed);
        if (whole != pieces) {
            std::fprintf(stderr, "output depends on the split:\n--- whole\n%s\n--- pieces\n%s\n", whole.c_str(),
                         pieces.c_str());
            std::abort();
        }
        // Broken tool arguments from the upstream pass through as sent (as
        // Anthropic's own stream does when max_tokens cuts a tool call):
        // docs/streaming.md. Every other rule is enforced.
        const msgbridge_test::accumulated_stream stream =
            msgbridge_test::accumulate_anthropic_stream(whole, /*allow_invalid_tool_input=*/true);
        if (!stream.legal()) {
            std::fprintf(stderr, "illegal Anthropic stream: %s\n%s\n", stream.violation.c_str(), whole.c_str());
            std::abort();
        }
    }
    return 0;
}
