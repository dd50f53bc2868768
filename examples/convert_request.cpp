// Converts an Anthropic /v1/messages request into an OpenAI Chat Completions
// request and prints it. Exits 0 only when the output is the expected one
// (this program runs as a test).
#include <cstdio>
#include <string>

#include <msgbridge.hpp>

int main() {
    const std::string anthropic = R"({
      "model": "claude-haiku-4-5-20251001",
      "max_tokens": 128000,
      "system": [{"type": "text", "text": "You are terse."}],
      "messages": [
        {"role": "user", "content": "What is in /tmp?"},
        {"role": "assistant", "content": [
          {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls /tmp"}}]},
        {"role": "user", "content": [
          {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt\nb.txt"}]}
      ],
      "tools": [{"name": "Bash", "description": "Run a command",
                 "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}],
      "stream": true
    })";

    msgbridge::request_options options;
    options.model_map.push_back({"claude-*haiku*", "moonshotai/kimi-k2.5"});
    msgbridge::request_converter converter(options);

    auto converted = converter.convert(anthropic);
    if (!converted) {
        std::fprintf(stderr, "error: %s\n", msgbridge::to_json(converted.error()).c_str());
        return 1;
    }
    std::printf("%s\n", converted->body.c_str());
    for (const auto& warning : converted->warnings) std::fprintf(stderr, "warning: %s\n", warning.c_str());

    const std::string expected =
        R"({"messages":[{"role":"system","content":"You are terse."},)"
        R"({"role":"user","content":"What is in /tmp?"},)"
        R"({"role":"assistant","content":"","tool_calls":[{"id":"toolu_1","type":"function",)"
        R"("function":{"name":"Bash","arguments":"{\"command\":\"ls /tmp\"}"}}]},)"
        R"({"role":"tool","tool_call_id":"toolu_1","content":"a.txt\nb.txt"}],)"
        R"("model":"moonshotai/kimi-k2.5",)"
        R"("tools":[{"type":"function","function":{"name":"Bash","description":"Run a command",)"
        R"("parameters":{"type": "object", "properties": {"command": {"type": "string"}}}}}],)"
        R"("max_tokens":32768,"stream":true,"stream_options":{"include_usage":true}})";
    if (converted->body != expected) {
        std::fprintf(stderr, "unexpected output; expected:\n%s\n", expected.c_str());
        return 1;
    }
    // The response side needs these to answer as Anthropic would.
    return converted->context.client_model == "claude-haiku-4-5-20251001" && converted->max_tokens == 32768 ? 0 : 1;
}
