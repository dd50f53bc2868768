// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <simdjson.h>

#include "msgbridge/detail/response_common.hpp"
#include "msgbridge/stream.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

inline void append_error_event(const error& err, std::string& out) {
    out += "event: error\ndata: ";
    append_error_json(err, out);
    out += "\n\n";
}

inline stream_converter::stream_converter(response_context context)
    : stream_converter(std::move(context), stream_options{}) {}

inline stream_converter::stream_converter(response_context context, stream_options options)
    : context_(std::move(context)),
      options_(std::move(options)),
      ids_(options_.id_seed != 0 ? options_.id_seed : detail::fresh_id_seed()),
      message_id_(options_.message_id.empty() ? ids_.make("msg_") : options_.message_id),
      sse_(options_.max_event_bytes),
      salvage_(!context_.offered_tools.empty()) {
    preview_.reserve(options_.text_preview_bytes);
    chunk_.want_model = false;
}

inline bool stream_converter::done() const noexcept { return done_; }

inline std::uint64_t stream_converter::input_tokens() const noexcept {
    if (usage_.present) return usage_.prompt_tokens - usage_.cached_tokens;
    return context_.estimated_input_tokens == 0 ? 1 : context_.estimated_input_tokens;
}

inline std::uint64_t stream_converter::cache_read_input_tokens() const noexcept {
    return usage_.present ? usage_.cached_tokens : 0;
}

inline std::uint64_t stream_converter::output_tokens() const noexcept {
    if (usage_.present) return usage_.completion_tokens;
    return detail::estimate_tokens(output_bytes_);
}

inline void stream_converter::start(std::string& out) {
    started_ = true;
    events_.message_start(out, message_id_, context_.client_model, input_tokens());
    if (options_.ping_after_start) append_ping_event(out);
}

inline void stream_converter::feed(std::string_view upstream_bytes, std::string& out) {
    if (done_) return;
    if (!started_) start(out);
    const auto status = sse_.feed(upstream_bytes, [this, &out](std::string_view type, std::string& data) {
        return on_event(type, data, out);
    });
    if (status == detail::sse_status::too_large) {
        fail(make_error(error_type::api_error, "upstream sent an SSE event larger than " +
                                                   std::to_string(options_.max_event_bytes) + " bytes"),
             out);
    }
}

inline void stream_converter::finish(std::string& out) {
    if (done_) return;
    if (!started_) start(out);
    if (content_ended_) {
        // finish_reason arrived; a missing [DONE] loses nothing.
        end_message(out);
        return;
    }
    fail(make_error(error_type::api_error, "upstream stream ended before finish_reason or [DONE]"), out);
}

inline void stream_converter::fail(const error& err, std::string& out) {
    if (done_) return;
    // An error before message_start stands alone: clients treat a stream
    // that opens with `error` like an error response.
    if (started_) close_block(out);
    append_error_event(err, out);
    done_ = true;
    failed_ = true;
}

inline bool stream_converter::on_event(std::string_view type, std::string& data, std::string& out) {
    if (done_) return false;
    if (data == "[DONE]") {
        end_message(out);
        return false;
    }
    // simdjson reads up to SIMDJSON_PADDING bytes past the end; the data
    // buffer keeps its capacity, so this reserves once per stream, not per chunk.
    if (data.capacity() < data.size() + simdjson::SIMDJSON_PADDING) data.reserve(data.size() + simdjson::SIMDJSON_PADDING);
    chunk_.clear();
    simdjson::ondemand::document document;
    auto err = parser_.iterate(simdjson::padded_string_view(data.data(), data.size(), data.capacity())).get(document);
    if (!err) err = detail::reader::read_body(document, chunk_);
    if (type == "error") {
        // `event: error`: whatever the data says is the error.
        if (err) chunk_.error = {};
        fail(detail::classify_upstream_error(0, chunk_.error, err ? std::string_view(data) : std::string_view()), out);
        return false;
    }
    if (err) {
        fail(make_error(error_type::api_error,
                        std::string("upstream sent a chunk that is not valid JSON (") + simdjson::error_message(err) + ")"),
             out);
        return false;
    }
    if (chunk_.error.present) {
        fail(detail::classify_upstream_error(0, chunk_.error, "upstream reported an error mid-stream"), out);
        return false;
    }
    on_chunk(out);
    return !done_;
}

inline void stream_converter::on_chunk(std::string& out) {
    // Some servers repeat usage in every chunk; the last one counts.
    if (chunk_.usage.present) usage_ = chunk_.usage;
    if (!chunk_.has_choice) return;

    // One chunk may carry every kind at once; Anthropic's order is thinking,
    // text, tool use.
    const std::string_view reasoning = chunk_.reasoning_text();
    if (!reasoning.empty()) {
        // Reasoning in its own field: the content holds no think tags.
        splitter_.disable();
        deliver(detail::content_kind::thinking, reasoning, out);
    }
    const std::string_view text = chunk_.content.empty() ? chunk_.refusal : chunk_.content;
    if (!text.empty()) split_content(text, out);
    if (!chunk_.tool_calls.empty()) {
        release_held_content(out);
        for (const auto& call : chunk_.tool_calls) tool_fragment(call, out);
    }
    if (!chunk_.finish_reason.empty()) {
        finish_reason_.assign(chunk_.finish_reason.data(), chunk_.finish_reason.size());
        stop_string_.assign(chunk_.stop_string.data(), chunk_.stop_string.size());
        end_content(out);
    }
}

inline void stream_converter::split_content(std::string_view text, std::string& out) {
    if (!context_.think_tags_in_content || splitter_.passthrough()) {
        deliver(detail::content_kind::text, text, out);
        return;
    }
    splitter_.feed(text, [this, &out](detail::content_kind kind, std::string_view piece) { deliver(kind, piece, out); });
}

// Thinking or text, past the think-tag splitter: tool calls written in it
// as text come out as tool_use blocks.
inline void stream_converter::deliver(detail::content_kind kind, std::string_view piece, std::string& out) {
    if (!salvage_) {
        content_piece(kind, piece, out);
        return;
    }
    const auto index = static_cast<std::size_t>(kind);
    // What the other kind holds came first; it cannot be a marker any more.
    detail::tool_markup_scanner& other = markup_[1 - index];
    const auto other_kind = static_cast<detail::content_kind>(1 - index);
    if (other.holding()) other.finish([&](std::string_view text) { content_piece(other_kind, text, out); });
    markup_[index].feed(
        piece, [&](std::string_view text) { content_piece(kind, text, out); },
        [&](detail::tool_markup shape, std::string_view inner) {
            if (!markup_parser_.parse(shape, inner, context_.offered_tools)) return false;
            for (const auto& call : markup_parser_.calls()) salvaged_tool_use(call, out);
            return true;
        });
}

inline void stream_converter::release_held_content(std::string& out) {
    if (context_.think_tags_in_content && !splitter_.passthrough()) {
        splitter_.finish([this, &out](detail::content_kind kind, std::string_view piece) { deliver(kind, piece, out); });
    }
    if (!salvage_) return;
    for (const auto kind : {detail::content_kind::thinking, detail::content_kind::text}) {
        markup_[static_cast<std::size_t>(kind)].finish([&](std::string_view text) { content_piece(kind, text, out); });
    }
}

// A call salvaged from text is complete: its block opens, carries the whole
// input in one delta, and closes.
inline void stream_converter::salvaged_tool_use(const detail::salvaged_tool_call& call, std::string& out) {
    salvaged_id_.clear();
    ids_.append_id(salvaged_id_, "toolu_");
    start_tool_block(salvaged_id_, call.name, out);
    output_bytes_ += call.input.size();
    events_.delta(out, block_index(), "input_json_delta", "partial_json", {}, call.input);
    detail::event_writer::block_stop(out, block_index());
}

inline void stream_converter::content_piece(detail::content_kind kind, std::string_view piece, std::string& out) {
    const bool thinking = kind == detail::content_kind::thinking;
    const block_kind wanted = thinking ? block_kind::thinking : block_kind::text;
    output_bytes_ += piece.size();
    if (!thinking && preview_.size() < options_.text_preview_bytes) {
        const std::string_view room = detail::utf8_prefix(piece, options_.text_preview_bytes - preview_.size());
        preview_.append(room.data(), room.size());
    }
    if (open_ == wanted) {
        events_.delta(out, block_index(), thinking ? "thinking_delta" : "text_delta", thinking ? "thinking" : "text", {},
                      piece);
        return;
    }
    // A new block opens only for real content: a blank text block is
    // rejected by Anthropic when the client replays it.
    if (pending_space_kind_ != wanted) {
        pending_space_.clear();
        pending_space_kind_ = wanted;
    }
    if (detail::is_blank(piece)) {
        pending_space_.append(piece.data(), piece.size());
        return;
    }
    close_block(out);
    ++blocks_started_;
    any_text_ |= !thinking;
    open_ = wanted;
    if (thinking) events_.thinking_start(out, block_index());
    else events_.text_start(out, block_index());
    events_.delta(out, block_index(), thinking ? "thinking_delta" : "text_delta", thinking ? "thinking" : "text",
                  pending_space_, piece);
    pending_space_.clear();
    pending_space_kind_ = block_kind::none;
}

inline void stream_converter::tool_fragment(const detail::openai_tool_call& call, std::string& out) {
    // The newest slot with this index; a different id under a used index is
    // a new call (some servers number every call 0).
    tool_slot* slot = nullptr;
    for (auto it = tools_.rbegin(); it != tools_.rend(); ++it) {
        if (it->upstream_index == call.index) {
            slot = &*it;
            break;
        }
    }
    if (slot != nullptr && !call.id.empty() && !slot->id.empty() && call.id != slot->id) slot = nullptr;
    if (slot == nullptr) {
        tools_.emplace_back();
        slot = &tools_.back();
        slot->upstream_index = call.index;
    }
    if (slot->id.empty() && !call.id.empty()) slot->id.assign(call.id.data(), call.id.size());
    if (slot->name.empty() && !call.name.empty()) slot->name.assign(call.name.data(), call.name.size());
    const std::string_view arguments = call.arguments;
    output_bytes_ += arguments.size();
    switch (slot->state) {
        case tool_state::open:
            if (!arguments.empty()) {
                slot->json.feed(arguments);
                events_.delta(out, block_index(), "input_json_delta", "partial_json", {}, arguments);
            }
            break;
        case tool_state::waiting:
            slot->json.feed(arguments);
            slot->pending.append(arguments.data(), arguments.size());
            break;
        case tool_state::closed:
            // Bytes after the tool's JSON was complete and another tool had
            // started (whitespace in practice): its block is closed already.
            break;
    }
    advance_tools(false, out);
}

// Anthropic blocks are strictly sequential while OpenAI may interleave tool
// fragments by `index`. The open tool block stays open until its arguments
// form a complete JSON value; fragments of other tools wait in their slot
// and are sent, in order of first appearance, as soon as they may open. So
// each block's input_json_deltas concatenate to exactly its arguments.
inline void stream_converter::advance_tools(bool final, std::string& out) {
    for (;;) {
        if (!final && open_ == block_kind::tool && !tools_[open_tool_].json.complete()) return;
        std::size_t next = tools_.size();
        for (std::size_t i = 0; i < tools_.size(); ++i) {
            if (tools_[i].state == tool_state::waiting && (final || !tools_[i].name.empty())) {
                next = i;
                break;
            }
        }
        if (next == tools_.size()) return;
        tool_slot& slot = tools_[next];
        if (slot.id.empty()) ids_.append_id(slot.id, "toolu_");
        start_tool_block(slot.id, slot.name, out);
        open_ = block_kind::tool;
        open_tool_ = next;
        slot.state = tool_state::open;
        if (!slot.pending.empty()) {
            events_.delta(out, block_index(), "input_json_delta", "partial_json", {}, slot.pending);
            slot.pending.clear();
        }
    }
}

// Closes the open block and starts a tool_use block; the caller marks it open.
inline void stream_converter::start_tool_block(std::string_view id, std::string_view upstream_name, std::string& out) {
    close_block(out);
    ++blocks_started_;
    any_tool_ = true;
    pending_space_.clear();
    pending_space_kind_ = block_kind::none;
    events_.tool_use_start(out, block_index(), id, detail::original_tool_name(upstream_name, context_));
}

inline void stream_converter::close_block(std::string& out) {
    switch (open_) {
        case block_kind::none:
            return;
        case block_kind::thinking:
            // Clients require a signature on every thinking block.
            events_.delta(out, block_index(), "signature_delta", "signature", {}, thinking_signature_placeholder);
            break;
        case block_kind::text:
            break;
        case block_kind::tool:
            tools_[open_tool_].state = tool_state::closed;
            break;
    }
    events_.block_stop(out, block_index());
    open_ = block_kind::none;
}

inline void stream_converter::end_content(std::string& out) {
    release_held_content(out);
    advance_tools(true, out);
    close_block(out);
    pending_space_.clear();
    pending_space_kind_ = block_kind::none;
    content_ended_ = true;
}

inline void stream_converter::end_message(std::string& out) {
    // Content may follow finish_reason (some servers send a last text or
    // tool fragment after it): close whatever is open before message_delta.
    end_content(out);
    const detail::stop_info stop = detail::map_finish_reason(finish_reason_, stop_string_, any_tool_, context_);
    stop_reason_ = stop.stop_reason;
    events_.message_delta(out, stop.stop_reason, stop.stop_sequence, input_tokens(),
                          usage_.present ? usage_.cached_tokens : 0, output_tokens());
    detail::event_writer::message_stop(out);
    done_ = true;
}

MSGBRIDGE_END_NAMESPACE
