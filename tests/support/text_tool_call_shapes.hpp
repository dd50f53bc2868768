// Test helper (response and stream suites): tool calls written as text in
// each shape models use, and what they must become.
#pragma once

#include <msgbridge/detail/ids.hpp>
#include <msgbridge/request.hpp>

#include <string>
#include <vector>

namespace msgbridge_test {

struct text_tool_call_shape {
    const char* name;
    std::string markup;     // a Read call and a Bash call, as the model writes them
    std::string malformed;  // one Read call with a part missing or broken
};

// The DeepSeek markers are typed here as UTF-8 characters (full-width bar
// U+FF5C, block U+2581); the library spells them as escaped bytes, so a
// match proves the bytes agree.
inline std::vector<text_tool_call_shape> text_tool_call_shapes() {
    return {
        {"Kimi K2",
         "<|tool_calls_section_begin|><|tool_call_begin|>functions.Read:0<|tool_call_argument_begin|>"
         R"({"file_path":"/tmp/a.txt"})"
         "<|tool_call_end|><|tool_call_begin|>functions.Bash:1<|tool_call_argument_begin|>"
         R"({"command":"ls"})"
         "<|tool_call_end|><|tool_calls_section_end|>",
         "<|tool_calls_section_begin|><|tool_call_begin|>functions.Read:0{\"file_path\":\"x\"}<|tool_call_end|>"
         "<|tool_calls_section_end|>"},
        {"GLM 4.x",
         "<tool_call>Read\n<arg_key>file_path</arg_key>\n<arg_value>/tmp/a.txt</arg_value>\n</tool_call>\n"
         "<tool_call>Bash\n<arg_key>command</arg_key>\n<arg_value>ls</arg_value>\n</tool_call>",
         "<tool_call>Read\n<arg_key>file_path</arg_key>\n/tmp/a.txt\n</tool_call>"},
        {"MiniMax M2",
         "<minimax:tool_call>\n<invoke name=\"Read\">\n<parameter name=\"file_path\">/tmp/a.txt</parameter>\n</invoke>\n"
         "<invoke name=\"Bash\">\n<parameter name=\"command\">ls</parameter>\n</invoke>\n</minimax:tool_call>",
         "<minimax:tool_call><invoke name=\"Read\"><parameter name=\"file_path\">x</parameter></minimax:tool_call>"},
        {"Hermes/Qwen",
         "<tool_call>\n{\"name\": \"Read\", \"arguments\": {\"file_path\": \"/tmp/a.txt\"}}\n</tool_call>\n"
         "<tool_call>\n{\"name\": \"Bash\", \"arguments\": {\"command\": \"ls\"}}\n</tool_call>",
         "<tool_call>{\"name\": \"Read\", \"arguments\": {\"file_path\": \"x\"}</tool_call>"},
        {"DeepSeek",
         "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>Read\n```json\n"
         R"({"file_path":"/tmp/a.txt"})"
         "\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>Bash\n```json\n"
         R"({"command":"ls"})"
         "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
         "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>Read\n```json\n{\"file_path\": x}\n```"
         "<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
    };
}

inline const char* salvaged_prose_before = "I will look.\n";
inline const char* salvaged_prose_after = "\nThat is all.";

// The generated ids of the first and second tool_use block, for id seed 42
// and a fixed message id.
inline std::vector<std::string> salvaged_tool_ids() {
    msgbridge::detail::id_generator ids(42);
    return {ids.make("toolu_"), ids.make("toolu_")};
}

// The blocks `salvaged_prose_before + markup + salvaged_prose_after` becomes.
inline std::string salvaged_blocks() {
    const auto ids = salvaged_tool_ids();
    return R"([{"type":"text","text":"I will look.\n"},)"
           R"({"type":"tool_use","id":")" + ids[0] + R"(","name":"Read","input":{"file_path":"/tmp/a.txt"}},)"
           R"({"type":"tool_use","id":")" + ids[1] + R"(","name":"Bash","input":{"command":"ls"}},)"
           R"({"type":"text","text":"\nThat is all."}])";
}

inline msgbridge::response_context salvaging_context() {
    msgbridge::response_context context;
    context.client_model = "claude-sonnet-4-5";
    context.estimated_input_tokens = 25;
    context.offered_tools = {"Read", "Bash", "Write"};
    return context;
}

}  // namespace msgbridge_test
