// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

#include "msgbridge/error.hpp"
#include "msgbridge/request.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// Converts an OpenAI `chat.completion` body into an Anthropic `message` body.
/// See docs/response-mapping.md.
[[nodiscard]] result<std::string> convert_response(std::string_view openai_body,
                                                   const response_context& context);

/// The Anthropic error for an upstream's non-2xx answer (`{"error":{…}}` or
/// anything else): type from the status, message from the body; a context
/// overflow becomes "prompt is too long: …".
[[nodiscard]] error convert_upstream_error(int http_status, std::string_view upstream_body);

MSGBRIDGE_END_NAMESPACE
