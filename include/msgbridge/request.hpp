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
/// to report, whether `<think>` tags in content are reasoning, and which
/// tools a call written as text may name.
struct response_context {
    std::string client_model;
    std::vector<std::pair<std::string, std::string>> tool_names;  ///< (sent upstream, original)
    std::vector<std::string> stop_sequences;
    bool think_tags_in_content = false;
    /// Tool names as sent upstream, filled when the profile salvages tool
    /// calls written as text; empty: no text is taken for a tool call.
    std::vector<std::string> offered_tools;
    std::uint64_t estimated_input_tokens = 0;
};

/// The result of converting one Anthropic request.
struct converted_request {
    std::string body;            ///< the OpenAI chat.completions JSON
    std::string upstream_model;
    bool stream = false;
    std::uint64_t max_tokens = 0;
    /// Claude Code's quota check (max_tokens 1, one user message "quota", no
    /// tools), which a proxy may answer without spending upstream quota.
    bool quota_probe = false;
    response_context context;
    std::vector<std::string> warnings;  ///< what was changed or left out, and why
};

MSGBRIDGE_END_NAMESPACE

#include "msgbridge/detail/request_converter.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// Converts Anthropic `/v1/messages` bodies into OpenAI Chat Completions
/// bodies, reusing its parser and buffers from one request to the next.
/// One object per thread. See docs/request-mapping.md.
class request_converter {
public:
    explicit request_converter(request_options options = {}) : engine_(std::move(options)) {}

    /// Converts one request. Errors are `invalid_request_error` naming the
    /// field's path (`messages.3.content.1.tool_use_id: required`). When
    /// `readable_capacity` >= size + 64 bytes may be read at the body's data
    /// (e.g. a std::string's capacity()), the body is parsed in place;
    /// otherwise it is copied once into a buffer this object keeps.
    [[nodiscard]] result<converted_request> convert(std::string_view anthropic_body,
                                                    std::size_t readable_capacity = 0) {
        converted_request out;
        if (!engine_.convert(anthropic_body.data(), anthropic_body.size(), readable_capacity, false, out.body, out))
            return engine_.failure();
        return out;
    }

    /// Like convert(), but appends the OpenAI body to `out.body` (whose
    /// capacity the caller may reuse) and overwrites the other fields of `out`.
    /// On error `out.body` is left as it was.
    [[nodiscard]] result<void> convert_into(std::string_view anthropic_body, converted_request& out,
                                            std::size_t readable_capacity = 0) {
        out.upstream_model.clear();
        out.stream = false;
        out.max_tokens = 0;
        out.quota_probe = false;
        out.context = response_context{};
        out.warnings.clear();
        if (!engine_.convert(anthropic_body.data(), anthropic_body.size(), readable_capacity, false, out.body, out))
            return engine_.failure();
        return {};
    }

    /// The input-token estimate for `/v1/messages/count_tokens` (`max_tokens`
    /// may be absent); the same number convert() puts in
    /// `context.estimated_input_tokens`.
    [[nodiscard]] result<std::uint64_t> count_tokens(std::string_view anthropic_body,
                                                     std::size_t readable_capacity = 0) {
        converted_request scratch;
        std::string unused;
        if (!engine_.convert(anthropic_body.data(), anthropic_body.size(), readable_capacity, true, unused, scratch))
            return engine_.failure();
        return scratch.context.estimated_input_tokens;
    }

    [[nodiscard]] const request_options& options() const noexcept { return engine_.options(); }

private:
    detail::request_engine engine_;
};

/// Converts an Anthropic `/v1/messages` body into an OpenAI Chat Completions
/// body. Errors are `invalid_request_error` with the field's path in the
/// message. See docs/request-mapping.md for the field-by-field table.
/// Each call builds a converter; hold a request_converter to reuse buffers.
[[nodiscard]] inline result<converted_request> convert_request(std::string_view anthropic_body,
                                                               const request_options& options = {}) {
    request_converter converter(options);
    return converter.convert(anthropic_body);
}

/// Estimates the input tokens of an Anthropic request body (for
/// `/v1/messages/count_tokens`), by the rule in docs/request-mapping.md.
[[nodiscard]] inline result<std::uint64_t> count_tokens(std::string_view anthropic_body) {
    request_converter converter;
    return converter.count_tokens(anthropic_body);
}

MSGBRIDGE_END_NAMESPACE

// The engine's members, one header per Anthropic concept (see request_converter.hpp).
#include "msgbridge/detail/request_assembly.hpp"
#include "msgbridge/detail/request_hot_walks.hpp"
#include "msgbridge/detail/request_limits.hpp"
#include "msgbridge/detail/request_media.hpp"
#include "msgbridge/detail/request_message_writer.hpp"
#include "msgbridge/detail/request_messages.hpp"
#include "msgbridge/detail/request_paths.hpp"
#include "msgbridge/detail/request_reasoning.hpp"
#include "msgbridge/detail/request_tools.hpp"
#include "msgbridge/detail/request_warnings.hpp"
