// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// What the request engine holds while it walks one request, one struct per
// Anthropic concept. Every string_view points into the request's bytes or
// the parser's string buffer, both of which outlive the walk.

// A piece of a string value we will write: bytes from the input that are
// already escaped, our own text that still needs escaping, or JSON text that
// becomes a string (tool_use input -> function.arguments).
enum class piece_kind : std::uint8_t { escaped, plain, json_text };

struct piece {
    std::string_view text;
    piece_kind kind;
};

// What separates two texts joined into one: a blank line.
inline constexpr std::string_view paragraph = "\n\n";

enum class part_kind : std::uint8_t { text, image_url, file };

// One OpenAI content part of the message being collected; its bytes are
// pieces [first, first + count) of the pending message, and for a file part
// the filename is pieces [name_first, name_first + name_count).
struct part {
    part_kind kind;
    std::uint32_t first;
    std::uint32_t count;
    std::uint32_t name_first;
    std::uint32_t name_count;
};

struct tool_call {
    std::string_view id;          // escaped
    std::string_view name;        // escaped, when the name is valid upstream as it is
    std::string short_name;       // plain, when it had to be shortened
    std::string_view input_json;  // raw JSON object
};

// A content block's `type`, decoded once when the block is read. `missing`:
// the block has no type; `unknown`: one we do not convert, whose name
// block_fields::type_name keeps for the warning.
enum class block_type : std::uint8_t {
    missing,
    text,
    image,
    document,
    tool_use,
    tool_result,
    thinking,
    redacted_thinking,
    tool_reference,
    unknown
};

inline block_type decode_block_type(std::string_view name) noexcept {
    if (name == "text") return block_type::text;
    if (name == "tool_result") return block_type::tool_result;
    if (name == "tool_use") return block_type::tool_use;
    if (name == "thinking") return block_type::thinking;
    if (name == "image") return block_type::image;
    if (name == "document") return block_type::document;
    if (name == "redacted_thinking") return block_type::redacted_thinking;
    if (name == "tool_reference") return block_type::tool_reference;
    return block_type::unknown;
}

// The fields of one content block, captured as spans while its object is
// visited once, in whatever order the client wrote them.
struct block_fields {
    block_type type = block_type::missing;
    std::string_view type_name;  // decoded
    std::string_view text, thinking, id, name, tool_use_id, data, title, context, tool_name;  // escaped
    std::string_view input;                                                        // raw JSON
    bool has_input = false;
    bool is_error = false;
    bool has_source = false;
    bool source_not_object = false;
    std::string_view source_type;  // decoded
    std::string_view media_type, source_data, url, file_id;  // escaped
    bool has_content = false;
};

enum class message_role : std::uint8_t { none, user, assistant };

// The OpenAI message being collected: consecutive turns of one role merge
// into it, and it is written when a turn of the other role adds something.
struct pending_message {
    message_role role = message_role::none;
    message_role turn_role = message_role::none;  // of the turn being read
    std::vector<piece> pieces;
    std::vector<part> parts;
    std::vector<piece> reasoning;
    std::vector<tool_call> calls;  // [0, calls_used) are this message's; the rest keep their capacity
    std::size_t calls_used = 0;
    std::size_t turn_first_part = 0;  // where this turn's parts start, when it merges into earlier ones
    std::vector<piece> tool_pieces;   // text of the tool_result (or system turn) being read
    // Shortened tool names a tool_reference piece points to; a deque, so
    // that adding one never moves the others.
    std::deque<std::string> referenced_names;
    bool wrote_message = false;
    bool wrote_non_system = false;

    void reset() {
        role = message_role::none;
        pieces.clear();
        parts.clear();
        reasoning.clear();
        calls_used = 0;
        turn_first_part = 0;
        referenced_names.clear();
        wrote_message = wrote_non_system = false;
    }
};

// `tools` and `tool_choice`, which are written only once both are known.
struct tool_state {
    std::size_t written = 0;            // function tools sent upstream
    std::vector<std::string> dropped;   // server tools left out, by name
    std::string_view choice_type;       // decoded
    std::string_view choice_name;       // escaped
    bool has_choice = false;
    bool disable_parallel = false;

    void reset() {
        written = 0;
        dropped.clear();
        choice_type = choice_name = {};
        has_choice = disable_parallel = false;
    }
};

// `thinking` and `output_config.effort`.
struct reasoning_state {
    std::string_view thinking_type;  // decoded
    std::uint64_t budget = 0;
    std::string_view effort;  // decoded

    void reset() { *this = reasoning_state{}; }
};

// What the input-token estimate counts (docs/request-mapping.md), and the
// shape of Claude Code's quota probe, both seen while walking.
struct estimate_counters {
    std::uint64_t text_bytes = 0;
    std::uint64_t media_items = 0;
    std::uint64_t message_count = 0;
    bool quota_shaped = false;  // the latest message was a user turn saying only "quota"

    [[nodiscard]] std::uint64_t tokens() const noexcept {
        return (text_bytes + 3) / 4 + 4 * message_count + 1600 * media_items;
    }
    void reset() { *this = estimate_counters{}; }
};

// What was left out along the way, reported in one warning each at the end.
struct left_out_tally {
    std::vector<std::string> ignored_fields;
    std::vector<std::string> dropped_blocks;  // block types, one entry per block
    std::uint64_t images_replaced = 0;
    std::uint64_t redacted_dropped = 0;

    void reset() {
        ignored_fields.clear();
        dropped_blocks.clear();
        images_replaced = redacted_dropped = 0;
    }
};

struct path_segment {
    std::string_view name;
    std::size_t index;
    bool is_index;
};

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
