// Converts one Anthropic request and checks the OpenAI body that comes out.
// Exits non-zero when anything is off, so it doubles as a packaging test.
#include <msgbridge.hpp>

#include <cstdio>
#include <string>

int main() {
    const std::string request = R"({
        "model": "z-ai/glm4.7",
        "max_tokens": 256,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hello"}]
    })";

    auto converted = msgbridge::convert_request(request);
    if (!converted) {
        std::fprintf(stderr, "conversion failed: %s\n", msgbridge::to_json(converted.error()).c_str());
        return 1;
    }
    const std::string& body = converted->body;
    const bool ok = body.find(R"("model":"z-ai/glm4.7")") != std::string::npos &&
                    body.find(R"({"role":"system","content":"Be brief."})") != std::string::npos &&
                    body.find(R"({"role":"user","content":"hello"})") != std::string::npos;
    std::printf("%s\n", body.c_str());
    return ok ? 0 : 1;
}
