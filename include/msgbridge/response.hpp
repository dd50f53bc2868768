// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "msgbridge/error.hpp"
#include "msgbridge/request.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// The `signature` of every thinking block made from upstream reasoning.
/// Anthropic clients require the field; an OpenAI upstream has no signatures,
/// so this fixed, non-secret placeholder marks the block as ours.
inline constexpr std::string_view thinking_signature_placeholder = "msgbridge.unsigned-thinking.v1";

/// Options for convert_response; the defaults suit production.
struct response_options {
    std::string message_id;     ///< the `id` to report; empty: a fresh `msg_…`
    std::uint64_t id_seed = 0;  ///< seeds generated ids (message, `toolu_…`); 0: random per call
};

/// Converts an OpenAI `chat.completion` body into an Anthropic `message` body.
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
