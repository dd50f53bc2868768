// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "msgbridge/detail/ids.hpp"
#include "msgbridge/detail/response_reader.hpp"
#include "msgbridge/detail/sse_parser.hpp"
#include "msgbridge/detail/stream_events.hpp"
#include "msgbridge/detail/text_tool_calls.hpp"
#include "msgbridge/detail/think_tags.hpp"
#include "msgbridge/error.hpp"
#include "msgbridge/request.hpp"
#include "msgbridge/response.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// Options for stream_converter; the defaults suit production.
struct stream_options {
    std::size_t max_event_bytes = std::size_t{16} << 20;  ///< one upstream SSE event larger than this fails the stream
    std::string message_id;         ///< the `id` in message_start; empty: a fresh `msg_…`
    std::uint64_t id_seed = 0;      ///< seeds generated ids (message, `toolu_…`); 0: random per object
    bool ping_after_start = true;   ///< write a `ping` right after message_start, as Anthropic does
    std::size_t text_preview_bytes = 256;  ///< how much answer text text_preview() keeps (for logs)
};

/// Translates an OpenAI SSE stream into Anthropic SSE events, incrementally.
/// Feed it the upstream's bytes in whatever pieces they arrive; it appends
/// each Anthropic event to `out` as soon as the event is complete. One
/// object per stream; not thread-safe. See docs/streaming.md.
class stream_converter {
public:
    explicit stream_converter(response_context context);
    stream_converter(response_context context, stream_options options);
    // Holds a parser and writer that point into themselves: construct it in place.
    stream_converter(const stream_converter&) = delete;
    stream_converter& operator=(const stream_converter&) = delete;

    /// Consumes upstream bytes; appends complete Anthropic SSE events to `out`.
    /// The first call writes message_start (and a ping) even for empty input,
    /// so a server can answer before the upstream's first token. After done(),
    /// writes nothing.
    void feed(std::string_view upstream_bytes, std::string& out);

    /// The upstream ended. Closes whatever is open; a stream that ended
    /// without `finish_reason` or `[DONE]` ends with an `error` event.
    void finish(std::string& out);

    /// Ends the stream with an `error` event (upstream timeout, network
    /// failure), after closing the open block. Nothing is written after it.
    void fail(const error& err, std::string& out);

    /// True once `message_stop` or an `error` event has been written.
    [[nodiscard]] bool done() const noexcept;

    /// True once the stream ended with an `error` event.
    [[nodiscard]] bool failed() const noexcept { return failed_; }

    /// Usage as known so far (upstream's, else estimated).
    [[nodiscard]] std::uint64_t input_tokens() const noexcept;
    [[nodiscard]] std::uint64_t output_tokens() const noexcept;
    /// Input tokens the upstream read from its prompt cache (0 until it reports usage).
    [[nodiscard]] std::uint64_t cache_read_input_tokens() const noexcept;

    /// The message id sent in message_start.
    [[nodiscard]] std::string_view message_id() const noexcept { return message_id_; }
    /// The stop_reason sent in message_delta; empty before it.
    [[nodiscard]] std::string_view stop_reason() const noexcept { return stop_reason_; }
    /// The first `text_preview_bytes` of the answer text (whole UTF-8 characters), for logs.
    [[nodiscard]] std::string_view text_preview() const noexcept { return preview_; }
    /// True once a content block (thinking, text or tool_use) has started.
    [[nodiscard]] bool has_content() const noexcept { return blocks_started_ > 0; }
    /// True while no text or tool_use block has started: thinking alone answers nothing.
    [[nodiscard]] bool empty_answer() const noexcept { return !any_text_ && !any_tool_; }

private:
    enum class block_kind : unsigned char { none, thinking, text, tool };
    enum class tool_state : unsigned char { waiting, open, closed };
    struct tool_slot {
        std::int64_t upstream_index = 0;
        std::string id;
        std::string name;
        std::string pending;  // arguments received while another block was open
        detail::json_end_tracker json;
        tool_state state = tool_state::waiting;
    };

    void start(std::string& out);
    bool on_event(std::string_view type, std::string& data, std::string& out);
    void on_chunk(std::string& out);
    void content_piece(detail::content_kind kind, std::string_view piece, std::string& out);
    void split_content(std::string_view text, std::string& out);
    void deliver(detail::content_kind kind, std::string_view piece, std::string& out);
    void salvaged_tool_use(const detail::salvaged_tool_call& call, std::string& out);
    void start_tool_block(std::string_view id, std::string_view upstream_name, std::string& out);
    void release_held_content(std::string& out);
    void tool_fragment(const detail::openai_tool_call& call, std::string& out);
    void advance_tools(bool final, std::string& out);
    void close_block(std::string& out);
    void end_content(std::string& out);
    void end_message(std::string& out);
    [[nodiscard]] std::uint64_t block_index() const noexcept { return blocks_started_ - 1; }

    response_context context_;
    stream_options options_;
    detail::id_generator ids_;
    std::string message_id_;
    detail::sse_parser sse_;
    simdjson::ondemand::parser parser_;
    detail::openai_fields chunk_;
    detail::event_writer events_;
    detail::think_tag_splitter splitter_;
    detail::tool_markup_parser markup_parser_;
    detail::tool_markup_scanner markup_[2];  // by content_kind: thinking, text
    std::string salvaged_id_;
    std::vector<tool_slot> tools_;
    std::string pending_space_;  // leading whitespace held until a block has real content
    std::string finish_reason_;
    std::string stop_string_;
    std::string preview_;
    detail::openai_usage usage_;
    std::uint64_t output_bytes_ = 0;
    std::uint64_t blocks_started_ = 0;
    std::size_t open_tool_ = 0;
    std::string_view stop_reason_;
    block_kind open_ = block_kind::none;
    block_kind pending_space_kind_ = block_kind::none;
    bool started_ = false;
    bool content_ended_ = false;
    bool any_tool_ = false;
    bool any_text_ = false;
    bool salvage_ = false;  // tool calls written as text become tool_use
    bool done_ = false;
    bool failed_ = false;
};

/// Appends an Anthropic `ping` event (sent by servers during long silences).
inline void append_ping_event(std::string& out) {
    out += "event: ping\ndata: {\"type\":\"ping\"}\n\n";
}

/// Appends an Anthropic `error` event for `err`.
inline void append_error_event(const error& err, std::string& out);

MSGBRIDGE_END_NAMESPACE

#include "msgbridge/detail/stream_impl.hpp"
