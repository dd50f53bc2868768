// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "msgbridge/detail/json_writer.hpp"
#include "msgbridge/detail/ondemand_walk.hpp"
#include "msgbridge/detail/request_text.hpp"
#include "msgbridge/error.hpp"
#include "msgbridge/options.hpp"
#include "msgbridge/request.hpp"
#include "msgbridge/version.hpp"

// Included from msgbridge/request.hpp after the public types it fills.
MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

namespace od = simdjson::ondemand;

// A piece of a string value we will write: bytes from the input that are
// already escaped, our own text that still needs escaping, or JSON text that
// becomes a string (tool_use input -> function.arguments).
enum class piece_kind : std::uint8_t { escaped, plain, json_text };

struct piece {
    std::string_view text;
    piece_kind kind;
};

enum class part_kind : std::uint8_t { text, image_url, file };

// One OpenAI content part of the message being collected; its bytes are
// pieces [first, first + count) of the converter's piece list, and for a file
// part the filename is pieces [name_first, name_first + name_count).
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

// The fields of one content block, captured as spans while its object is
// visited once, in whatever order the client wrote them.
struct block_fields {
    std::string_view type;  // decoded
    std::string_view text, thinking, id, name, tool_use_id, data, title, context;  // escaped
    std::string_view input;                                                        // raw JSON
    bool has_input = false;
    bool is_error = false;
    bool has_source = false;
    bool source_not_object = false;
    std::string_view source_type;  // decoded
    std::string_view media_type, source_data, url, file_id;  // escaped
    bool has_content = false;
};

struct path_segment {
    std::string_view name;
    std::size_t index;
    bool is_index;
};

// extra_body of one profile, parsed once when the converter is made.
struct parsed_extra {
    std::vector<std::pair<std::string, std::string>> members;  // key (decoded), raw JSON value
    bool has_template_kwargs = false;
    std::string template_kwargs_inner;  // members of extra_body.chat_template_kwargs, raw
    std::vector<std::string> template_kwargs_keys;
    std::string error;
};

enum class message_role : std::uint8_t { none, user, assistant };

// The request converter's engine. One object per thread; reused across
// requests so every buffer keeps its capacity.
class request_engine {
public:
    explicit request_engine(request_options options);

    // Converts `size` bytes at `data`; `capacity` bytes are readable there.
    bool convert(const char* data, std::size_t size, std::size_t capacity, bool counting,
                 std::string& body_out, converted_request& out);
    [[nodiscard]] const error& failure() const noexcept { return error_; }

    const request_options& options() const noexcept { return options_; }

private:
    // ---- walking the request ----
    bool walk(od::document& doc, converted_request& out);
    bool read_model(od::object& top, converted_request& out);
    bool top_field(const char* key, od::value& value);
    bool convert_system(od::value value);
    bool convert_messages(od::value value);
    bool convert_message(od::value value, std::size_t index);
    bool convert_blocks(od::array blocks, message_role role);
    bool capture_block(od::value value, block_fields& block, bool nested);
    bool capture_source(od::value value, block_fields& block);
    bool capture_content(od::value value);
    bool user_block(block_fields& block, std::size_t parts_before, std::size_t pieces_before);
    bool assistant_block(block_fields& block);
    bool image_part(const block_fields& block, bool into_tool_text);
    bool document_part(const block_fields& block);
    bool convert_tools(od::value value);
    bool convert_tool_choice(od::value value);
    bool convert_stop_sequences(od::value value);
    bool convert_metadata(od::value value);
    bool convert_thinking(od::value value);
    bool convert_output_config(od::value value);
    bool copy_number(od::value value, std::string_view name, bool integer);

    // ---- writing ----
    void begin_turn(message_role role);
    void touch();
    void flush_pending();
    void flush_user_parts(std::size_t end);
    void write_tool_message(const block_fields& block);
    void write_pieces(json_writer& writer, const piece* first, std::size_t count);
    void write_joined_text(json_writer& writer, std::size_t part_begin, std::size_t part_end);
    void write_system_message(json_writer& writer, const std::vector<piece>& pieces);
    void add_text_part(std::string_view escaped);
    void add_plain_part(std::string_view plain);
    void finish_top(converted_request& out);
    void assemble(std::string& body_out) const;
    bool emit(std::string_view key) const;  // false when the profile's extra_body sets `key`

    // ---- names, errors ----
    std::string_view upstream_tool_name(std::string_view escaped, std::string& shortened);
    bool raw_string(od::value value, std::string_view name, std::string_view& out);
    bool fail(std::string_view leaf, std::string_view problem);
    bool fail_json(simdjson::error_code code, std::string_view leaf, std::string_view expected);
    // detail::for_each_field with this engine's errors: a value that is not
    // an object and a malformed field are reported at the current path, and
    // visit(raw key, value) reports its own failure and returns false.
    // The walks over every tool and content block (convert_tools,
    // capture_block, capture_source) stay written out: their visitors are
    // too large for GCC to inline, and a call per field made request
    // conversion about 5% slower (benchmarks/request_convert).
    template <class Visit>
    bool visit_fields(od::value& value, Visit&& visit);
    template <class Visit>
    bool visit_fields(od::object& object, Visit&& visit);
    std::string path_string(std::string_view leaf) const;
    void warn(std::string message) { warnings_->push_back(std::move(message)); }

    struct path_guard {
        std::vector<path_segment>* path;
        ~path_guard() { path->pop_back(); }
    };
    [[nodiscard]] path_guard push(std::string_view name) {
        path_.push_back({name, 0, false});
        return {&path_};
    }
    [[nodiscard]] path_guard push(std::size_t index) {
        path_.push_back({{}, index, true});
        return {&path_};
    }

    request_options options_;
    std::vector<model_profile> profiles_;
    std::vector<parsed_extra> extras_;
    od::parser parser_;
    std::unique_ptr<char[]> padded_;
    std::size_t padded_capacity_ = 0;

    // per request
    const model_profile* profile_ = nullptr;
    const parsed_extra* extra_ = nullptr;
    error error_;
    std::vector<path_segment> path_;
    std::vector<std::string>* warnings_ = nullptr;
    response_context* context_ = nullptr;
    json_writer messages_;
    json_writer system_;
    json_writer top_;
    std::vector<piece> system_pieces_;
    bool has_messages_ = false;
    bool has_max_tokens_ = false;
    std::uint64_t max_tokens_ = 0;
    bool stream_ = false;

    // the message being collected (consecutive turns of one role merge)
    message_role pending_role_ = message_role::none;
    message_role turn_role_ = message_role::none;
    std::vector<piece> pieces_;
    std::vector<part> parts_;
    std::vector<piece> reasoning_;
    std::vector<tool_call> calls_;
    std::size_t calls_used_ = 0;
    std::size_t turn_first_part_ = 0;
    std::vector<piece> tool_pieces_;  // text of the tool_result being read
    bool wrote_message_ = false;
    bool wrote_non_system_ = false;

    // tools and tool_choice
    std::size_t tools_written_ = 0;
    std::uint32_t seen_fields_ = 0;  // top-level fields met so far, one bit each
    std::vector<std::string> dropped_tools_;
    std::string_view tool_choice_type_;
    std::string_view tool_choice_name_;  // escaped
    bool has_tool_choice_ = false;
    bool disable_parallel_ = false;

    // reasoning controls
    std::string_view thinking_type_;
    std::uint64_t thinking_budget_ = 0;
    std::string_view effort_;

    // estimate
    std::uint64_t text_bytes_ = 0;
    std::uint64_t media_items_ = 0;
    std::uint64_t message_count_ = 0;
    bool quota_shaped_ = false;  // the latest message was a user turn saying only "quota"
    std::uint64_t images_replaced_ = 0;
    std::uint64_t redacted_dropped_ = 0;
    std::vector<std::string> ignored_fields_;
    std::vector<std::string> dropped_blocks_;
};

}  // namespace detail
MSGBRIDGE_END_NAMESPACE

#include "msgbridge/detail/request_engine_impl.hpp"
