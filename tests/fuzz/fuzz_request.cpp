// libFuzzer target: any bytes as an Anthropic request body. The converter must
// return either valid JSON or an Anthropic error naming a field — never crash,
// hang, or produce a broken body.
#include <msgbridge.hpp>
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    auto converted = msgbridge::convert_request(body);
    if (converted) {
        simdjson::dom::parser parser;
        simdjson::dom::element root;
        if (parser.parse(converted->body).get(root) != simdjson::SUCCESS) std::abort();
        if (!root.is_object()) std::abort();
    } else if (converted.error().message.empty() || converted.error().http_status < 400) {
        std::abort();
    }
    // count_tokens reads the same body: it must not reject what converts.
    auto tokens = msgbridge::count_tokens(body);
    if (converted && !tokens) std::abort();
    return 0;
}
