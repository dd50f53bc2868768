// SPDX-License-Identifier: MIT
#pragma once

// `system`, `messages` and their content blocks, each block dispatched on
// its decoded type (block_type, request_state.hpp). Images and documents are
// in request_media.hpp; how the collected content becomes OpenAI messages is
// in request_message_writer.hpp.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "msgbridge/detail/request_converter.hpp"
#include "msgbridge/detail/request_text.hpp"
#include "msgbridge/request.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

inline constexpr std::string_view billing_header_prefix = "x-anthropic-billing-header:";

// Calls each(block) for every block of a nested array (a system array, a
// system turn's or a tool_result's content), after checking it has a type.
template <class Each>
bool request_engine::for_each_nested_block(od::array blocks, Each&& each) {
    block_fields block;
    return for_each_element(blocks, [&](od::value value) {
        block = block_fields{};
        if (!capture_block(value, block, true)) return false;
        if (block.type == block_type::missing) return fail("type", "required");
        return each(block);
    });
}

inline bool request_engine::convert_system(od::value value) {
    auto guard = push("system");
    od::json_type type;
    if (auto code = value.type().get(type)) return fail_json(code, {}, {});
    auto add = [this](std::string_view text) {
        if (text.empty()) return;
        if (options_.drop_billing_header && text.substr(0, billing_header_prefix.size()) == billing_header_prefix)
            return;
        if (!system_pieces_.empty()) system_pieces_.push_back({paragraph, piece_kind::plain});
        system_pieces_.push_back({text, piece_kind::escaped});
        estimate_.text_bytes += text.size();
    };
    if (type == od::json_type::string) {
        std::string_view text;
        if (!raw_string(value, {}, text)) return false;
        add(text);
    } else if (type == od::json_type::array) {
        od::array blocks;
        if (auto code = value.get_array().get(blocks)) return fail_json(code, {}, {});
        return for_each_nested_block(blocks, [&](const block_fields& block) {
            if (block.type != block_type::text) return fail("type", R"(must be "text")");
            if (block.text.data() == nullptr) return fail("text", "required");
            add(block.text);
            return true;
        });
    } else if (type != od::json_type::null) {
        return fail({}, "must be a string or an array of text blocks");
    }
    return true;
}

inline bool request_engine::convert_messages(od::value value) {
    auto guard = push("messages");
    od::array messages;
    if (auto code = value.get_array().get(messages)) return fail_json(code, {}, "must be an array");
    if (has_messages_) return fail({}, "appears twice");
    has_messages_ = true;
    messages_.start_array();
    std::size_t index = 0;
    for (auto item : messages) {
        od::value message;
        if (auto code = item.get(message)) return fail_json(code, {}, {});
        if (!convert_message(message, index)) return false;
        ++index;
    }
    if (index == 0) return fail({}, "must not be empty");
    flush_pending();
    messages_.end_array();
    return true;
}

inline bool request_engine::convert_message(od::value value, std::size_t index) {
    auto guard = push(index);
    od::object message;
    if (auto code = value.get_object().get(message)) return fail_json(code, {}, "must be an object");
    od::value role_value;
    if (auto code = message.find_field_unordered("role").get(role_value)) return fail_json(code, "role", {});
    std::string_view role_text;
    constexpr std::string_view role_problem = R"(must be one of "user", "assistant", "system")";
    if (auto code = role_value.get_string().get(role_text)) return fail_json(code, "role", role_problem);
    if (role_text != "user" && role_text != "assistant" && role_text != "system") return fail("role", role_problem);
    const message_role role = role_text == "assistant" ? message_role::assistant : message_role::user;
    od::value content;
    if (auto code = message.find_field_unordered("content").get(content)) return fail_json(code, "content", {});
    od::json_type type;
    if (auto code = content.type().get(type)) return fail_json(code, "content", {});
    ++estimate_.message_count;
    if (role_text == "system") return convert_system_turn(content, type);

    begin_turn(role);
    if (type == od::json_type::string) {
        auto content_guard = push("content");
        std::string_view text;
        if (!raw_string(content, {}, text)) return false;
        if (!text.empty()) add_text_part(text);
        estimate_.quota_shaped = role == message_role::user && text == "quota";
        return true;
    }
    if (type != od::json_type::array) return fail("content", "must be a string or an array of content blocks");
    od::array blocks;
    if (auto code = content.get_array().get(blocks)) return fail_json(code, "content", {});
    return convert_blocks(blocks, role);
}

// Claude Code puts system turns between user turns. In place, unless the
// model's chat template rejects a system message after the first: then in a
// user turn, or in the leading system message.
inline bool request_engine::convert_system_turn(od::value content, od::json_type type) {
    const bool late = pending_.wrote_non_system || pending_.role != message_role::none;
    const late_system_placement placement = late ? profile_->late_system : late_system_placement::in_place;
    std::vector<piece>& collected = pending_.tool_pieces;
    collected.clear();
    if (type == od::json_type::string) {
        auto content_guard = push("content");
        std::string_view text;
        if (!raw_string(content, {}, text)) return false;
        if (!text.empty()) collected.push_back({text, piece_kind::escaped});
    } else if (type == od::json_type::array) {
        od::array blocks;
        if (auto code = content.get_array().get(blocks)) return fail_json(code, "content", {});
        auto content_guard = push("content");
        const bool read = for_each_nested_block(blocks, [&](const block_fields& block) {
            if (block.type != block_type::text) {
                left_out_.dropped_blocks.emplace_back(block.type_name);
                return true;
            }
            if (block.text.data() == nullptr) return fail("text", "required");
            if (!block.text.empty()) add_tool_text(block.text, piece_kind::escaped);
            return true;
        });
        if (!read) return false;
    } else {
        return fail("content", "must be a string or an array of content blocks");
    }
    for (const auto& item : collected) estimate_.text_bytes += item.text.size();
    if (collected.empty()) return true;
    if (placement == late_system_placement::leading_system) {
        if (!system_pieces_.empty()) system_pieces_.push_back({paragraph, piece_kind::plain});
        system_pieces_.insert(system_pieces_.end(), collected.begin(), collected.end());
    } else if (placement == late_system_placement::user_turn) {
        begin_turn(message_role::user);
        touch();
        const auto first = static_cast<std::uint32_t>(pending_.pieces.size());
        pending_.pieces.push_back({"System guidance:\n\n", piece_kind::plain});
        pending_.pieces.insert(pending_.pieces.end(), collected.begin(), collected.end());
        pending_.parts.push_back(
            {part_kind::text, first, static_cast<std::uint32_t>(pending_.pieces.size() - first), 0, 0});
    } else {
        flush_pending();
        write_system_message(messages_, collected);
        pending_.wrote_message = true;
    }
    return true;
}

inline bool request_engine::convert_blocks(od::array blocks, message_role role) {
    auto guard = push("content");
    std::size_t count = 0;
    block_fields block;
    const bool read = for_each_element(blocks, [&](od::value value) {
        ++count;
        block = block_fields{};
        pending_.tool_pieces.clear();
        // A user block may add parts while it is read (a tool_result's images).
        if (role == message_role::user) touch();
        const std::size_t parts_before = pending_.parts.size();
        const std::size_t pieces_before = pending_.pieces.size();
        if (!capture_block(value, block, false)) return false;
        if (block.type == block_type::missing) return fail("type", "required");
        if (role == message_role::assistant && pending_.parts.size() > parts_before) {
            // Images read from a misplaced tool_result in an assistant turn
            // have no place in any message.
            pending_.parts.resize(parts_before);
            pending_.pieces.resize(pieces_before);
        }
        return role == message_role::user ? user_block(block, parts_before, pieces_before) : assistant_block(block);
    });
    if (!read) return false;
    estimate_.quota_shaped =
        role == message_role::user && count == 1 && block.type == block_type::text && block.text == "quota";
    return true;
}

// Text for the tool message being read, paragraphs apart.
inline void request_engine::add_tool_text(std::string_view text, piece_kind kind) {
    if (!pending_.tool_pieces.empty()) pending_.tool_pieces.push_back({paragraph, piece_kind::plain});
    pending_.tool_pieces.push_back({text, kind});
}

// Text of a tool_result (or a document's content source) goes to the tool
// pieces; images go to the current turn's parts, so they reach the model in
// the user message that follows the tool messages.
inline bool request_engine::capture_content(od::value value) {
    od::json_type type;
    if (auto code = value.type().get(type)) return fail_json(code, {}, {});
    auto add_text = [this](std::string_view text) {
        if (text.empty()) return;
        add_tool_text(text, piece_kind::escaped);
        estimate_.text_bytes += text.size();
    };
    if (type == od::json_type::string) {
        std::string_view text;
        if (!raw_string(value, {}, text)) return false;
        add_text(text);
        return true;
    }
    if (type == od::json_type::null) return true;
    if (type != od::json_type::array) return fail({}, "must be a string or an array of content blocks");
    od::array blocks;
    if (auto code = value.get_array().get(blocks)) return fail_json(code, {}, {});
    bool listing_tools = false;  // the block before was a tool_reference too
    return for_each_nested_block(blocks, [&](const block_fields& inner) {
        const bool continues_list = listing_tools;
        listing_tools = inner.type == block_type::tool_reference;
        switch (inner.type) {
            case block_type::text:
                if (inner.text.data() == nullptr) return fail("text", "required");
                add_text(inner.text);
                return true;
            case block_type::tool_reference:
                if (inner.tool_name.data() == nullptr) return fail("tool_name", "required");
                add_tool_reference(inner.tool_name, continues_list);
                return true;
            case block_type::image:
                return image_part(inner, true);
            case block_type::document:
                if (inner.source_type == "text" && inner.source_data.data() != nullptr) {
                    add_text(inner.source_data);
                    return true;
                }
                break;
            default:
                break;
        }
        left_out_.dropped_blocks.emplace_back(inner.type_name);
        return true;
    });
}

// ToolSearch answers with tool_reference blocks, which make deferred tools
// available on Anthropic's side. The upstream already has every tool (see
// forward_deferred_tools) but must still be told which ones were found, under
// the names it knows them by; neighbouring references make one list.
inline void request_engine::add_tool_reference(std::string_view escaped_name, bool continues_list) {
    if (continues_list) {
        pending_.tool_pieces.push_back({", ", piece_kind::plain});
    } else {
        add_tool_text("Tools loaded: ", piece_kind::plain);
    }
    std::string shortened;
    const std::string_view name = upstream_tool_name(escaped_name, shortened);
    if (shortened.empty()) {
        pending_.tool_pieces.push_back({name, piece_kind::escaped});
    } else {
        pending_.referenced_names.push_back(std::move(shortened));
        pending_.tool_pieces.push_back({pending_.referenced_names.back(), piece_kind::plain});
    }
    estimate_.text_bytes += escaped_name.size();
}

inline bool request_engine::user_block(block_fields& block, std::size_t parts_before, std::size_t pieces_before) {
    switch (block.type) {
        case block_type::text:
            if (block.text.data() == nullptr) return fail("text", "required");
            if (!block.text.empty()) add_text_part(block.text);
            return true;
        case block_type::tool_result:
            if (block.tool_use_id.data() == nullptr) return fail("tool_use_id", "required");
            // OpenAI wants the tool messages right after the assistant's
            // tool_calls: user content still held from earlier turns goes
            // first, this turn's text and images go after.
            if (pending_.turn_first_part > 0) {
                flush_user_parts(pending_.turn_first_part);
                pending_.turn_first_part = 0;
            }
            write_tool_message(block);
            return true;
        case block_type::document:
            return document_part(block);
        default:
            break;
    }
    // Parts read from a `content` this block has no use for are not sent.
    pending_.parts.resize(parts_before);
    pending_.pieces.resize(pieces_before);
    if (block.type == block_type::image) return image_part(block, false);
    left_out_.dropped_blocks.emplace_back(block.type_name);
    return true;
}

inline bool request_engine::assistant_block(block_fields& block) {
    switch (block.type) {
        case block_type::text:
            if (block.text.data() == nullptr) return fail("text", "required");
            if (!block.text.empty()) add_text_part(block.text);
            return true;
        case block_type::tool_use: {
            if (block.id.data() == nullptr) return fail("id", "required");
            if (block.name.data() == nullptr) return fail("name", "required");
            touch();
            if (pending_.calls_used == pending_.calls.size()) pending_.calls.emplace_back();
            tool_call& call = pending_.calls[pending_.calls_used++];
            call.id = block.id;
            call.name = upstream_tool_name(block.name, call.short_name);
            call.input_json = block.has_input ? block.input : std::string_view("{}");
            estimate_.text_bytes += call.input_json.size() + block.name.size();
            return true;
        }
        case block_type::thinking:
            if (block.thinking.data() != nullptr && !block.thinking.empty()) {
                touch();
                if (!pending_.reasoning.empty()) pending_.reasoning.push_back({paragraph, piece_kind::plain});
                pending_.reasoning.push_back({block.thinking, piece_kind::escaped});
                estimate_.text_bytes += block.thinking.size();
            }
            return true;
        case block_type::redacted_thinking:
            ++left_out_.redacted_dropped;
            return true;
        default:
            left_out_.dropped_blocks.emplace_back(block.type_name);
            return true;
    }
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
