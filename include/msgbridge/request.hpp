// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "msgbridge/error.hpp"
#include "msgbridge/options.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// What the response side must know about the request it answers: the
/// client's model name, tool names that had to be shortened, stop sequences
/// to report, and whether `<think>` tags in content are reasoning.
struct response_context {
    std::string client_model;
    std::vector<std::pair<std::string, std::string>> tool_names;  ///< (sent upstream, original)
    std::vector<std::string> stop_sequences;
    bool think_tags_in_content = false;
    std::uint64_t estimated_input_tokens = 0;
};

/// The result of converting one Anthropic request.
struct converted_request {
    std::string body;            ///< the OpenAI chat.completions JSON
    std::string upstream_model;
    bool stream = false;
    std::uint64_t max_tokens = 0;
    response_context context;
    std::vector<std::string> warnings;  ///< what was changed or left out, and why
};

/// Converts an Anthropic `/v1/messages` body into an OpenAI Chat Completions
/// body. Errors are `invalid_request_error` with the field's path in the
/// message. See docs/request-mapping.md for the field-by-field table.
[[nodiscard]] result<converted_request> convert_request(std::string_view anthropic_body,
                                                        const request_options& options = {});

/// Estimates the input tokens of an Anthropic request body (for
/// `/v1/messages/count_tokens`), by the rule in docs/request-mapping.md.
[[nodiscard]] result<std::uint64_t> count_tokens(std::string_view anthropic_body);

MSGBRIDGE_END_NAMESPACE
