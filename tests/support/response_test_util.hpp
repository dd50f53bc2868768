// Test helper (response suite): the response context and fixed ids the
// response tests share.
#pragma once

#include <msgbridge/response.hpp>

namespace msgbridge_test {

// Ids that do not change from run to run.
inline msgbridge::response_options fixed_ids() { return msgbridge::response_options{"msg_test", 7}; }

// One shortened tool name, two stop sequences, a client model and an input
// estimate: what the golden pairs in tests/data/response were made with.
inline msgbridge::response_context response_context_for_tests() {
    msgbridge::response_context context;
    context.tool_names = {{"mcp__srv__search_docs_x1", "mcp__server_with_a_long_name__search_documentation"}};
    context.stop_sequences = {"four", "END"};
    context.client_model = "claude-sonnet-4-5";
    context.estimated_input_tokens = 25;
    return context;
}

}  // namespace msgbridge_test
