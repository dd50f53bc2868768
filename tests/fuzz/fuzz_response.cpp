// libFuzzer target: any bytes as an upstream chat.completion body, and as an
// upstream error body. The answer is a valid Anthropic message or error.
#include <msgbridge.hpp>
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {
void require_json_object(const std::string& text) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(text).get(root) != simdjson::SUCCESS || !root.is_object()) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    msgbridge::response_context context;
    context.client_model = "claude-fuzz";
    context.tool_names = {{"short_name", "a_very_long_original_tool_name"}};
    context.stop_sequences = {"STOP"};
    context.think_tags_in_content = size % 2 == 0;
    context.estimated_input_tokens = 42;

    auto message = msgbridge::convert_response(body, context);
    if (message) {
        require_json_object(*message);
    } else if (message.error().message.empty()) {
        std::abort();
    }
    const int statuses[] = {400, 401, 403, 404, 413, 422, 429, 500, 502, 503, 529};
    const msgbridge::error err = msgbridge::convert_upstream_error(statuses[size % 11], body);
    if (err.http_status < 400) std::abort();
    require_json_object(msgbridge::to_json(err));
    return 0;
}
