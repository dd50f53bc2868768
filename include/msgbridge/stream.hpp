// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "msgbridge/error.hpp"
#include "msgbridge/request.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// Translates an OpenAI SSE stream into Anthropic SSE events, incrementally.
/// Feed it the upstream's bytes in whatever pieces they arrive; it appends
/// each Anthropic event to `out` as soon as the event is complete. One
/// object per stream; not thread-safe. See docs/streaming.md.
class stream_converter {
public:
    explicit stream_converter(response_context context);

    /// Consumes upstream bytes; appends complete Anthropic SSE events to `out`.
    void feed(std::string_view upstream_bytes, std::string& out);

    /// The upstream ended. Closes whatever is open; a stream that ended
    /// without `finish_reason` or `[DONE]` ends with an `error` event.
    void finish(std::string& out);

    /// Ends the stream with an `error` event (upstream timeout, network
    /// failure), after closing the open block. Nothing is written after it.
    void fail(const error& err, std::string& out);

    /// True once `message_stop` or an `error` event has been written.
    [[nodiscard]] bool done() const noexcept;

    /// Usage as known so far (upstream's, else estimated).
    [[nodiscard]] std::uint64_t input_tokens() const noexcept;
    [[nodiscard]] std::uint64_t output_tokens() const noexcept;
};

/// Appends an Anthropic `ping` event (sent by servers during long silences).
inline void append_ping_event(std::string& out) {
    out += "event: ping\ndata: {\"type\":\"ping\"}\n\n";
}

/// Appends an Anthropic `error` event for `err`.
void append_error_event(const error& err, std::string& out);

MSGBRIDGE_END_NAMESPACE
