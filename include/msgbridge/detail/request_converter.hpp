// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "msgbridge/detail/json_writer.hpp"
#include "msgbridge/detail/ondemand_walk.hpp"
#include "msgbridge/detail/request_extra_body.hpp"
#include "msgbridge/detail/request_state.hpp"
#include "msgbridge/detail/request_text.hpp"
#include "msgbridge/error.hpp"
#include "msgbridge/options.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

struct converted_request;
struct response_context;

namespace detail {

namespace od = simdjson::ondemand;

inline bool is_parse_type_error(simdjson::error_code code) noexcept {
    return code == simdjson::INCORRECT_TYPE || code == simdjson::NUMBER_ERROR ||
           code == simdjson::NUMBER_OUT_OF_RANGE;
}

// The request converter's engine. One object per thread; reused across
// requests so every buffer keeps its capacity. The request is visited once,
// in document order, with simdjson On-Demand; strings and JSON values that
// need no change are copied as escaped bytes. Its members are defined by
// concept, one header each:
//   request_assembly.hpp        convert(), the top-level fields, the body's assembly
//   request_paths.hpp           field paths, errors, field walks
//   request_messages.hpp        system, messages and their content blocks
//   request_media.hpp           image and document blocks
//   request_message_writer.hpp  the pending message and the OpenAI messages written from it
//   request_tools.hpp           tool names, tool_choice
//   request_reasoning.hpp       thinking, output_config.effort
//   request_limits.hpp          max_tokens against the profile and the token estimate
//   request_warnings.hpp        what was left out, one warning each
//   request_hot_walks.hpp       capture_block, capture_source, convert_tools (written out on purpose)
class request_engine {
public:
    explicit request_engine(request_options options);

    // Converts `size` bytes at `data`; `capacity` bytes are readable there.
    bool convert(const char* data, std::size_t size, std::size_t capacity, bool counting,
                 std::string& body_out, converted_request& out);
    [[nodiscard]] const error& failure() const noexcept { return error_; }

    const request_options& options() const noexcept { return options_; }

private:
    // ---- the top level (request_assembly.hpp) ----
    void reset(converted_request& out);
    const char* padded_input(const char* data, std::size_t size, std::size_t& capacity);
    bool walk(od::document& doc, converted_request& out);
    bool read_model(od::object& top, converted_request& out);
    void select_profile(const std::string& upstream_model);
    bool top_field(const char* key, od::value& value);
    bool read_max_tokens(od::value& value);
    bool copy_number(od::value value, std::string_view name, bool integer);
    bool convert_stop_sequences(od::value value);
    bool convert_metadata(od::value value);
    void finish_top(converted_request& out);
    void write_stream();
    void merge_extra_body(bool template_kwargs_written);
    void assemble(std::string& body_out) const;
    bool emit(std::string_view key) const;  // false when the profile's extra_body sets `key`

    // ---- messages and content blocks (request_messages.hpp, request_media.hpp) ----
    bool convert_system(od::value value);
    bool convert_messages(od::value value);
    bool convert_message(od::value value, std::size_t index);
    bool convert_system_turn(od::value content, od::json_type type);
    bool convert_blocks(od::array blocks, message_role role);
    template <class Each>
    bool for_each_element(od::array array, Each&& each);
    template <class Each>
    bool for_each_nested_block(od::array blocks, Each&& each);
    bool capture_content(od::value value);
    void add_tool_text(std::string_view text, piece_kind kind);
    void add_tool_reference(std::string_view escaped_name, bool continues_list);
    bool user_block(block_fields& block, std::size_t parts_before, std::size_t pieces_before);
    bool assistant_block(block_fields& block);
    bool source_present(const block_fields& block);
    bool base64_source_complete(const block_fields& block);
    void add_data_url(const block_fields& block);
    bool image_part(const block_fields& block, bool into_tool_text);
    bool document_part(const block_fields& block);
    bool document_file_part(const block_fields& block, std::uint32_t first);

    // ---- the hot walks (request_hot_walks.hpp) ----
    bool capture_block(od::value value, block_fields& block, bool nested);
    bool capture_source(od::value value, block_fields& block);
    bool convert_tools(od::value value);

    // ---- the pending message and writing (request_message_writer.hpp) ----
    void begin_turn(message_role role);
    void touch();
    void flush_pending();
    void flush_user_parts(std::size_t end);
    void write_user_part(const part& item);
    void write_assistant_message();
    void write_tool_calls();
    void write_tool_message(const block_fields& block);
    void write_pieces(json_writer& writer, const piece* first, std::size_t count);
    void write_pieces_member(std::string_view key, const piece* first, std::size_t count);
    void write_joined_text(json_writer& writer, std::size_t part_begin, std::size_t part_end);
    void write_system_message(json_writer& writer, const std::vector<piece>& pieces);
    void add_text_part(std::string_view escaped);
    void add_plain_part(std::string_view plain);

    // ---- tools and tool_choice (request_tools.hpp) ----
    void start_function(std::string_view escaped_name, bool offered);
    void write_function_tool(std::string_view name, std::string_view description, std::string_view schema);
    std::string_view upstream_tool_name(std::string_view escaped, std::string& shortened);
    static void write_tool_name(json_writer& writer, std::string_view escaped, const std::string& shortened);
    bool convert_tool_choice(od::value value);
    void write_tool_choice();
    void write_forced_tool_choice(std::string_view type);
    void write_tool_choice_string(std::string_view choice);

    // ---- reasoning and limits (request_reasoning.hpp, request_limits.hpp) ----
    bool convert_thinking(od::value value);
    bool convert_output_config(od::value value);
    bool write_reasoning_controls();  // true when it wrote chat_template_kwargs
    void write_max_tokens(converted_request& out, std::uint64_t estimate);

    // ---- warnings (request_warnings.hpp) ----
    void warn_left_out();

    // ---- paths, errors, field walks (request_paths.hpp) ----
    bool raw_string(od::value value, std::string_view name, std::string_view& out);
    bool fail(std::string_view leaf, std::string_view problem);
    bool fail_json(simdjson::error_code code, std::string_view leaf, std::string_view expected);
    // detail::for_each_field with this engine's errors: a value that is not
    // an object and a malformed field are reported at the current path, and
    // visit(raw key, value) reports its own failure and returns false. The
    // walks over every tool and content block do not use it: see
    // request_hot_walks.hpp.
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
    std::unique_ptr<char[]> padded_;  // a padded copy of a body that has no room to be parsed in place
    std::size_t padded_capacity_ = 0;

    // per request
    const model_profile* profile_ = nullptr;
    const parsed_extra* extra_ = nullptr;
    error error_;
    std::vector<path_segment> path_;
    std::vector<std::string>* warnings_ = nullptr;
    response_context* context_ = nullptr;
    std::uint32_t seen_fields_ = 0;  // top-level fields met so far, one bit each
    bool has_messages_ = false;
    bool has_max_tokens_ = false;
    std::uint64_t max_tokens_ = 0;
    bool stream_ = false;
    json_writer messages_;  // the conversation's messages, as a JSON array
    json_writer system_;    // the system message from `system`, if any
    json_writer top_;       // every other member of the body, as a JSON object
    std::vector<piece> system_pieces_;
    pending_message pending_;
    tool_state tools_;
    reasoning_state reasoning_;
    estimate_counters estimate_;
    left_out_tally left_out_;
};

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
