// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <simdjson.h>

#include "msgbridge/detail/text.hpp"
#include "msgbridge/detail/ids.hpp"
#include "msgbridge/detail/json_writer.hpp"
#include "msgbridge/detail/response_common.hpp"
#include "msgbridge/detail/response_reader.hpp"
#include "msgbridge/detail/think_tags.hpp"
#include "msgbridge/response.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

inline simdjson::error_code response_converter::read(std::string_view openai_body, std::size_t readable_capacity) {
    const char* data = openai_body.data();
    std::size_t capacity = readable_capacity;
    if (capacity < openai_body.size() + simdjson::SIMDJSON_PADDING) {
        // simdjson reads up to SIMDJSON_PADDING bytes past the end.
        padded_.assign(openai_body);
        padded_.append(simdjson::SIMDJSON_PADDING, '\0');
        data = padded_.data();
        capacity = padded_.size();
    }
    fields_.clear();
    simdjson::ondemand::document document;
    auto err = parser_.iterate(data, openai_body.size(), capacity).get(document);
    if (!err) err = detail::reader::read_body(document, fields_);
    return err;
}

inline result<converted_response> response_converter::convert(std::string_view openai_body,
                                                              const response_context& context,
                                                              std::size_t readable_capacity) {
    if (auto err = read(openai_body, readable_capacity)) {
        return make_error(error_type::api_error,
                          std::string("upstream response is not valid JSON: ") + simdjson::error_message(err));
    }
    const detail::openai_fields& body = fields_;
    if (body.error.present) return detail::classify_upstream_error(0, body.error, "upstream reported an error");
    if (!body.has_choice) return make_error(error_type::api_error, "upstream response: choices.0: required");

    // Thinking, then text, then tool use: Anthropic's block order.
    std::string_view thinking = body.reasoning_text();
    std::string_view text = body.content.empty() ? body.refusal : body.content;
    if (context.think_tags_in_content && thinking.empty()) split_think_tags(thinking, text);

    detail::id_generator ids(options_.id_seed != 0 ? options_.id_seed : detail::fresh_id_seed());
    const std::string message_id = options_.message_id.empty() ? ids.make("msg_") : options_.message_id;

    writer_.reset();
    writer_.start_object();
    writer_.key("id");
    writer_.string(message_id);
    writer_.key("type");
    writer_.string("message");
    writer_.key("role");
    writer_.string("assistant");
    writer_.key("model");
    writer_.string(context.client_model.empty() ? body.model : std::string_view(context.client_model));
    writer_.key("content");
    writer_.start_array();
    const std::uint64_t output_bytes = write_content(thinking, text, context, ids);
    writer_.end_array();

    converted_response out;
    const detail::stop_info stop =
        detail::map_finish_reason(body.finish_reason, body.stop_string, !body.tool_calls.empty() || salvaged_, context);
    out.stop_reason = stop.stop_reason;
    out.empty_answer = detail::is_blank(text) && body.tool_calls.empty();
    writer_.key("stop_reason");
    writer_.string(stop.stop_reason);
    writer_.key("stop_sequence");
    if (stop.stop_sequence.empty()) writer_.null();
    else writer_.string(stop.stop_sequence);
    writer_.key("usage");
    write_usage(context, output_bytes, out);
    writer_.end_object();
    out.body.assign(writer_.view());
    return out;
}

inline void response_converter::split_think_tags(std::string_view& thinking, std::string_view& text) {
    split_thinking_.clear();
    split_text_.clear();
    detail::think_tag_splitter splitter;
    auto sink = [&](detail::content_kind kind, std::string_view piece) {
        (kind == detail::content_kind::thinking ? split_thinking_ : split_text_).append(piece.data(), piece.size());
    };
    splitter.feed(text, sink);
    splitter.finish(sink);
    thinking = split_thinking_;
    text = split_text_;
}

// Returns the bytes of answer written, for the output estimate when the
// upstream reports no usage.
inline std::uint64_t response_converter::write_content(std::string_view thinking, std::string_view text,
                                                       const response_context& context, detail::id_generator& ids) {
    salvaged_ = false;
    std::uint64_t output_bytes = write_salvaging(detail::content_kind::thinking, thinking, context, ids);
    output_bytes += write_salvaging(detail::content_kind::text, text, context, ids);
    for (const auto& call : fields_.tool_calls) {
        // Ids go back verbatim: Kimi's `functions.<name>:<n>` must return unchanged.
        if (call.id.empty()) {
            tool_id_.clear();
            ids.append_id(tool_id_, "toolu_");
            start_tool_use(tool_id_, call.name, context);
        } else {
            start_tool_use(call.id, call.name, context);
        }
        write_tool_input(call.arguments);
        writer_.end_object();
        output_bytes += call.arguments.size();
    }
    return output_bytes;
}

// Thinking or text with the tool calls written in it as text taken out, in
// the order the stream converter gives: the content before a call, the
// call, the content after it.
inline std::uint64_t response_converter::write_salvaging(detail::content_kind kind, std::string_view content,
                                                         const response_context& context, detail::id_generator& ids) {
    if (context.offered_tools.empty() || content.find('<') == std::string_view::npos) {
        return write_content_block(kind, content);
    }
    std::uint64_t output_bytes = 0;
    salvage_block_.clear();
    auto text = [this](std::string_view piece) { salvage_block_.append(piece.data(), piece.size()); };
    detail::tool_markup_scanner scanner;
    scanner.feed(content, text, [&](detail::tool_markup shape, std::string_view inner) {
        if (!markup_parser_.parse(shape, inner, context.offered_tools)) return false;
        output_bytes += write_content_block(kind, salvage_block_);
        salvage_block_.clear();
        for (const auto& call : markup_parser_.calls()) {
            tool_id_.clear();
            ids.append_id(tool_id_, "toolu_");
            start_tool_use(tool_id_, call.name, context);
            writer_.raw(call.input);
            writer_.end_object();
            output_bytes += call.input.size();
        }
        salvaged_ = true;
        return true;
    });
    scanner.finish(text);
    return output_bytes + write_content_block(kind, salvage_block_);
}

// Blank blocks are left out: Anthropic rejects them when a client replays
// them. Returns the bytes written.
inline std::uint64_t response_converter::write_content_block(detail::content_kind kind, std::string_view content) {
    if (detail::is_blank(content)) return 0;
    const bool thinking = kind == detail::content_kind::thinking;
    writer_.start_object();
    writer_.key("type");
    writer_.string(thinking ? "thinking" : "text");
    writer_.key(thinking ? "thinking" : "text");
    writer_.string(content);
    if (thinking) {
        writer_.key("signature");
        writer_.string(thinking_signature_placeholder);
    }
    writer_.end_object();
    return content.size();
}

// Opens a tool_use block up to its `input` key; the caller writes the input and closes it.
inline void response_converter::start_tool_use(std::string_view id, std::string_view upstream_name,
                                               const response_context& context) {
    writer_.start_object();
    writer_.key("type");
    writer_.string("tool_use");
    writer_.key("id");
    writer_.string(id);
    writer_.key("name");
    writer_.string(detail::original_tool_name(upstream_name, context));
    writer_.key("input");
}

// A tool call's `arguments` string → the tool_use `input` object.
// Policy (docs/response-mapping.md, "Tool arguments"): empty → {}; a JSON
// object → itself, byte for byte; a JSON string holding an object (double
// encoded, some models do this) → that object; anything else (truncated by
// max_tokens, an array, prose) → {"_raw_arguments": "<the string as sent>"},
// so the client's tool-input validation reports it to the model instead of
// the call silently running with {}.
inline void response_converter::write_tool_input(std::string_view arguments) {
    const std::string_view trimmed = detail::trim_json_space(arguments);
    if (trimmed.empty()) {
        writer_.start_object();
        writer_.end_object();
        return;
    }
    simdjson::dom::element element;
    if (!arguments_parser_.parse(trimmed.data(), trimmed.size()).get(element)) {
        if (element.is_object()) {
            writer_.raw(trimmed);
            return;
        }
        std::string_view inner;
        if (!element.get_string().get(inner)) {
            // `inner` lives in the parser's buffers, which the next parse reuses.
            arguments_.assign(detail::trim_json_space(inner));
            if (!arguments_.empty() && !arguments_parser_.parse(arguments_).get(element) && element.is_object()) {
                writer_.raw(arguments_);
                return;
            }
        }
    }
    writer_.start_object();
    writer_.key("_raw_arguments");
    writer_.string(arguments);
    writer_.end_object();
}

// Usage as the upstream reported it; without it, estimates (never 0 input).
inline void response_converter::write_usage(const response_context& context, std::uint64_t output_bytes,
                                            converted_response& out) {
    const detail::openai_usage& usage = fields_.usage;
    if (usage.present) {
        out.input_tokens = usage.prompt_tokens - usage.cached_tokens;
        out.cache_read_input_tokens = usage.cached_tokens;
        out.output_tokens = usage.completion_tokens;
    } else {
        out.input_tokens = context.estimated_input_tokens == 0 ? 1 : context.estimated_input_tokens;
        out.output_tokens = detail::estimate_tokens(output_bytes);
    }
    writer_.start_object();
    writer_.key("input_tokens");
    writer_.uint64(out.input_tokens);
    writer_.key("cache_creation_input_tokens");
    writer_.uint64(0);
    writer_.key("cache_read_input_tokens");
    writer_.uint64(out.cache_read_input_tokens);
    writer_.key("output_tokens");
    writer_.uint64(out.output_tokens);
    writer_.end_object();
}

inline result<std::string> convert_response(std::string_view openai_body, const response_context& context,
                                            const response_options& options) {
    response_converter converter(options);
    auto converted = converter.convert(openai_body, context);
    if (!converted) return std::move(converted).error();
    return std::move(converted->body);
}

inline result<std::string> convert_response(std::string_view openai_body, const response_context& context) {
    return convert_response(openai_body, context, response_options{});
}

inline error convert_upstream_error(int http_status, std::string_view upstream_body) {
    detail::openai_fields body;
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(upstream_body);
    simdjson::ondemand::document document;
    auto err = parser.iterate(padded).get(document);
    if (!err) err = detail::reader::read_body(document, body);
    if (err) body.error = {};  // not JSON (an HTML page, plain text): the body is the message
    return detail::classify_upstream_error(http_status < 400 ? 500 : http_status, body.error,
                                           err ? upstream_body : std::string_view());
}

MSGBRIDGE_END_NAMESPACE
