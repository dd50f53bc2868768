// SPDX-License-Identifier: MIT
#pragma once

// The pending message (pending_message, request_state.hpp) and the OpenAI
// messages written from it: a user message of text or parts, an assistant
// message with its reasoning and tool_calls, tool messages, system messages.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "msgbridge/detail/json_writer.hpp"
#include "msgbridge/detail/request_converter.hpp"
#include "msgbridge/detail/request_text.hpp"
#include "msgbridge/request.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

inline void request_engine::add_text_part(std::string_view escaped) {
    touch();
    const auto first = static_cast<std::uint32_t>(pending_.pieces.size());
    pending_.pieces.push_back({escaped, piece_kind::escaped});
    pending_.parts.push_back({part_kind::text, first, 1, 0, 0});
    estimate_.text_bytes += escaped.size();
}

inline void request_engine::add_plain_part(std::string_view plain) {
    touch();
    const auto first = static_cast<std::uint32_t>(pending_.pieces.size());
    pending_.pieces.push_back({plain, piece_kind::plain});
    pending_.parts.push_back({part_kind::text, first, 1, 0, 0});
}

// A turn's role takes over the pending message only when the turn adds
// something (touch()), so an empty turn between two turns of the other role
// does not split them.
inline void request_engine::begin_turn(message_role role) {
    pending_.turn_role = role;
    pending_.turn_first_part = pending_.role == role ? pending_.parts.size() : 0;
}

inline void request_engine::touch() {
    if (pending_.role == pending_.turn_role) return;
    flush_pending();
    pending_.role = pending_.turn_role;
    pending_.turn_first_part = 0;
}

inline void request_engine::write_pieces(json_writer& writer, const piece* first, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        const piece& item = first[i];
        switch (item.kind) {
            case piece_kind::escaped: writer.raw_piece(item.text); break;
            case piece_kind::plain: writer.string_piece(item.text); break;
            case piece_kind::json_text:
                writer.raw_piece_fill(6 * item.text.size() + 16,
                                      [&](char* out) { return minify_into_string(item.text, out); });
                break;
        }
    }
}

// "key":"<pieces>" in the message being written.
inline void request_engine::write_pieces_member(std::string_view key, const piece* first, std::size_t count) {
    messages_.key(key);
    messages_.begin_string();
    write_pieces(messages_, first, count);
    messages_.end_string();
}

inline void request_engine::write_joined_text(json_writer& writer, std::size_t part_begin, std::size_t part_end) {
    bool first = true;
    for (std::size_t i = part_begin; i < part_end; ++i) {
        const part& item = pending_.parts[i];
        if (item.kind != part_kind::text) continue;
        if (!first) writer.raw_piece("\\n\\n");
        first = false;
        write_pieces(writer, pending_.pieces.data() + item.first, item.count);
    }
}

inline void request_engine::write_system_message(json_writer& writer, const std::vector<piece>& pieces) {
    writer.start_object();
    writer.key("role");
    writer.string("system");
    writer.key("content");
    writer.begin_string();
    write_pieces(writer, pieces.data(), pieces.size());
    writer.end_string();
    writer.end_object();
}

// Writes the pending user content of parts [0, end): a string when it is
// all text, else an array of parts.
inline void request_engine::flush_user_parts(std::size_t end) {
    if (end == 0) return;
    bool only_text = true;
    for (std::size_t i = 0; i < end; ++i) only_text = only_text && pending_.parts[i].kind == part_kind::text;
    messages_.start_object();
    messages_.key("role");
    messages_.string("user");
    messages_.key("content");
    if (only_text) {
        messages_.begin_string();
        write_joined_text(messages_, 0, end);
        messages_.end_string();
    } else {
        messages_.start_array();
        for (std::size_t i = 0; i < end; ++i) write_user_part(pending_.parts[i]);
        messages_.end_array();
    }
    messages_.end_object();
    pending_.wrote_message = pending_.wrote_non_system = true;
    pending_.parts.erase(pending_.parts.begin(), pending_.parts.begin() + static_cast<std::ptrdiff_t>(end));
    if (pending_.parts.empty()) pending_.pieces.clear();
}

inline void request_engine::write_user_part(const part& item) {
    const piece* pieces = pending_.pieces.data();
    // {"type":"<type>","<type>":{ — image_url and file parts nest their fields.
    auto open_nested = [this](std::string_view type) {
        messages_.string(type);
        messages_.key(type);
        messages_.start_object();
    };
    messages_.start_object();
    messages_.key("type");
    switch (item.kind) {
        case part_kind::text:
            messages_.string("text");
            write_pieces_member("text", pieces + item.first, item.count);
            break;
        case part_kind::image_url:
            open_nested("image_url");
            write_pieces_member("url", pieces + item.first, item.count);
            messages_.end_object();
            break;
        case part_kind::file:
            open_nested("file");
            write_pieces_member("filename", pieces + item.name_first, item.name_count);
            write_pieces_member("file_data", pieces + item.first, item.count);
            messages_.end_object();
            break;
    }
    messages_.end_object();
}

inline void request_engine::write_tool_message(const block_fields& block) {
    messages_.start_object();
    messages_.key("role");
    messages_.string("tool");
    messages_.key("tool_call_id");
    messages_.raw_string(quoted(block.tool_use_id));
    messages_.key("content");
    messages_.begin_string();
    // OpenAI's tool message has no error flag; the model must still see it.
    if (block.is_error) messages_.string_piece("Error: ");
    // Chat templates and strict servers reject a tool message without
    // content; a result that had none (or only images) still says so.
    if (pending_.tool_pieces.empty()) messages_.string_piece("(no text content)");
    write_pieces(messages_, pending_.tool_pieces.data(), pending_.tool_pieces.size());
    messages_.end_string();
    messages_.end_object();
    pending_.wrote_message = pending_.wrote_non_system = true;
}

inline void request_engine::flush_pending() {
    const message_role role = pending_.role;
    pending_.role = message_role::none;
    pending_.turn_first_part = 0;
    if (role == message_role::user) {
        flush_user_parts(pending_.parts.size());
    } else if (role == message_role::assistant && (!pending_.parts.empty() || pending_.calls_used > 0)) {
        write_assistant_message();
    }
    pending_.parts.clear();
    pending_.pieces.clear();
    pending_.reasoning.clear();
    pending_.calls_used = 0;
}

inline void request_engine::write_assistant_message() {
    const bool has_reasoning = !pending_.reasoning.empty() && profile_->replay != reasoning_replay::drop;
    if (!pending_.wrote_non_system) {
        // Chat templates that insist on a user turn first reject a
        // conversation that opens with the assistant.
        messages_.start_object();
        messages_.key("role");
        messages_.string("user");
        messages_.key("content");
        messages_.string("(continued)");
        messages_.end_object();
        warn("messages: the conversation starts with an assistant turn; a user turn \"(continued)\" was put before it");
    }
    messages_.start_object();
    messages_.key("role");
    messages_.string("assistant");
    messages_.key("content");
    messages_.begin_string();
    if (has_reasoning && profile_->replay == reasoning_replay::think_tags) {
        messages_.raw_piece("<think>\\n");
        write_pieces(messages_, pending_.reasoning.data(), pending_.reasoning.size());
        messages_.raw_piece("\\n</think>\\n\\n");
    }
    write_joined_text(messages_, 0, pending_.parts.size());
    messages_.end_string();
    if (has_reasoning && profile_->replay == reasoning_replay::reasoning_content) {
        write_pieces_member("reasoning_content", pending_.reasoning.data(), pending_.reasoning.size());
    }
    if (pending_.calls_used > 0) write_tool_calls();
    messages_.end_object();
    pending_.wrote_message = pending_.wrote_non_system = true;
}

inline void request_engine::write_tool_calls() {
    messages_.key("tool_calls");
    messages_.start_array();
    for (std::size_t i = 0; i < pending_.calls_used; ++i) {
        const tool_call& call = pending_.calls[i];
        messages_.start_object();
        messages_.key("id");
        messages_.raw_string(quoted(call.id));
        messages_.key("type");
        messages_.string("function");
        messages_.key("function");
        messages_.start_object();
        messages_.key("name");
        write_tool_name(messages_, call.name, call.short_name);
        const piece arguments{call.input_json, piece_kind::json_text};
        write_pieces_member("arguments", &arguments, 1);
        messages_.end_object();
        messages_.end_object();
    }
    messages_.end_array();
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
