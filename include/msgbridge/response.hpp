// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <simdjson.h>

#include "msgbridge/detail/ids.hpp"
#include "msgbridge/detail/json_writer.hpp"
#include "msgbridge/detail/response_reader.hpp"
#include "msgbridge/detail/text_tool_calls.hpp"
#include "msgbridge/detail/think_tags.hpp"
#include "msgbridge/error.hpp"
#include "msgbridge/request.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// The `signature` of every thinking block made from upstream reasoning.
/// Anthropic clients require the field; an OpenAI upstream has no signatures,
/// so this fixed, non-secret placeholder marks the block as ours.
inline constexpr std::string_view thinking_signature_placeholder = "msgbridge.unsigned-thinking.v1";

/// Options for response_converter and convert_response; the defaults suit production.
struct response_options {
    std::string message_id;     ///< the `id` to report; empty: a fresh `msg_…`
    std::uint64_t id_seed = 0;  ///< seeds generated ids (message, `toolu_…`); 0: random per call
};

/// One converted response: the Anthropic body and what its `usage` and
/// `stop_reason` say, so that a caller can log them without parsing the body.
struct converted_response {
    std::string body;                            ///< the Anthropic `message` JSON
    std::uint64_t input_tokens = 0;              ///< `usage.input_tokens` (cache reads not included)
    std::uint64_t output_tokens = 0;             ///< `usage.output_tokens`
    std::uint64_t cache_read_input_tokens = 0;   ///< `usage.cache_read_input_tokens`
    std::string_view stop_reason;                ///< `stop_reason`; points to a string literal
    bool empty_answer = false;                   ///< no text and no tool call (reasoning at most): the model said nothing
};

/// Converts OpenAI `chat.completion` bodies into Anthropic `message` bodies,
/// reusing its parsers and buffers from one response to the next. One object
/// per thread. See docs/response-mapping.md.
class response_converter {
public:
    explicit response_converter(response_options options = {}) : options_(std::move(options)) {}
    // Holds a writer that points into itself: construct it in place.
    response_converter(const response_converter&) = delete;
    response_converter& operator=(const response_converter&) = delete;

    /// Converts one completion. Errors: an `{"error":…}` body becomes that
    /// error (mapped as convert_upstream_error does); a body that is not a
    /// completion is an `api_error` naming the field. When `readable_capacity`
    /// >= size + 64 bytes may be read at the body's data (e.g. a std::string's
    /// capacity()), the body is parsed in place; otherwise it is copied once
    /// into a buffer this object keeps.
    [[nodiscard]] result<converted_response> convert(std::string_view openai_body, const response_context& context,
                                                     std::size_t readable_capacity = 0);

    [[nodiscard]] const response_options& options() const noexcept { return options_; }

private:
    simdjson::error_code read(std::string_view openai_body, std::size_t readable_capacity);
    void split_think_tags(std::string_view& thinking, std::string_view& text);
    std::uint64_t write_content(std::string_view thinking, std::string_view text, const response_context& context,
                                detail::id_generator& ids);
    std::uint64_t write_salvaging(detail::content_kind kind, std::string_view content, const response_context& context,
                                  detail::id_generator& ids);
    std::uint64_t write_content_block(detail::content_kind kind, std::string_view content);
    void start_tool_use(std::string_view id, std::string_view upstream_name, const response_context& context);
    void write_tool_input(std::string_view arguments);
    void write_usage(const response_context& context, std::uint64_t output_bytes, converted_response& out);

    response_options options_;
    simdjson::ondemand::parser parser_;
    simdjson::dom::parser arguments_parser_;
    std::string padded_;        // the body, when it cannot be parsed in place
    std::string arguments_;     // double-encoded tool arguments, decoded
    std::string split_thinking_;
    std::string split_text_;
    std::string tool_id_;
    std::string salvage_block_;  // the thinking or text between salvaged calls
    detail::tool_markup_parser markup_parser_;
    bool salvaged_ = false;      // a tool call written as text became tool_use
    detail::openai_fields fields_;
    detail::json_writer writer_;
};

/// Converts an OpenAI `chat.completion` body into an Anthropic `message` body.
/// Each call builds a response_converter; hold one to reuse its buffers.
/// Errors: an `{"error":…}` body becomes that error (mapped as
/// convert_upstream_error does); a body that is not a completion is an
/// `api_error` naming the field. See docs/response-mapping.md.
[[nodiscard]] inline result<std::string> convert_response(std::string_view openai_body,
                                                   const response_context& context);

/// As above, with a fixed message id or id seed (tests, replays).
[[nodiscard]] inline result<std::string> convert_response(std::string_view openai_body,
                                                   const response_context& context,
                                                   const response_options& options);

/// The Anthropic error for an upstream's non-2xx answer (`{"error":{…}}` or
/// anything else): type from the status, message from the body; a context
/// overflow becomes "prompt is too long: …".
[[nodiscard]] inline error convert_upstream_error(int http_status, std::string_view upstream_body);

MSGBRIDGE_END_NAMESPACE

#include "msgbridge/detail/response_impl.hpp"
