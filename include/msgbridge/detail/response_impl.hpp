// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>

#include <simdjson.h>

#include "msgbridge/detail/ids.hpp"
#include "msgbridge/detail/json_writer.hpp"
#include "msgbridge/detail/response_common.hpp"
#include "msgbridge/detail/response_reader.hpp"
#include "msgbridge/detail/think_tags.hpp"
#include "msgbridge/response.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

inline std::string_view trim_json_space(std::string_view text) noexcept {
    while (!text.empty() && is_json_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_json_space(text.back())) text.remove_suffix(1);
    return text;
}

// A tool call's `arguments` string → the tool_use `input` object.
// Policy (docs/response-mapping.md, "Tool arguments"): empty → {}; a JSON
// object → itself, byte for byte; a JSON string holding an object (double
// encoded, some models do this) → that object; anything else (truncated by
// max_tokens, an array, prose) → {"_raw_arguments": "<the string as sent>"},
// so the client's tool-input validation reports it to the model instead of
// the call silently running with {}.
inline void write_tool_input(json_writer& writer, std::string_view arguments) {
    const std::string_view trimmed = trim_json_space(arguments);
    if (trimmed.empty()) {
        writer.start_object();
        writer.end_object();
        return;
    }
    simdjson::dom::parser parser;
    simdjson::padded_string padded(trimmed);
    simdjson::dom::element element;
    if (!parser.parse(padded).get(element)) {
        if (element.is_object()) {
            writer.raw(trimmed);
            return;
        }
        std::string_view inner;
        if (!element.get_string().get(inner)) {
            const std::string_view inner_trimmed = trim_json_space(inner);
            simdjson::dom::parser inner_parser;
            simdjson::padded_string inner_padded(inner_trimmed);
            simdjson::dom::element inner_element;
            if (!inner_trimmed.empty() && !inner_parser.parse(inner_padded).get(inner_element) &&
                inner_element.is_object()) {
                writer.raw(inner_trimmed);
                return;
            }
        }
    }
    writer.start_object();
    writer.key("_raw_arguments");
    writer.string(arguments);
    writer.end_object();
}

inline void write_usage(json_writer& writer, std::uint64_t input_tokens, std::uint64_t cached_tokens,
                        std::uint64_t output_tokens) {
    writer.start_object();
    writer.key("input_tokens");
    writer.uint64(input_tokens);
    writer.key("cache_creation_input_tokens");
    writer.uint64(0);
    writer.key("cache_read_input_tokens");
    writer.uint64(cached_tokens);
    writer.key("output_tokens");
    writer.uint64(output_tokens);
    writer.end_object();
}

inline result<std::string> convert_response_impl(std::string_view openai_body, const response_context& context,
                                                  const response_options& options) {
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(openai_body);
    simdjson::ondemand::document document;
    openai_fields body;
    auto err = parser.iterate(padded).get(document);
    if (!err) err = reader::read_body(document, body);
    if (err) {
        return make_error(error_type::api_error,
                          std::string("upstream response is not valid JSON: ") + simdjson::error_message(err));
    }
    if (body.error.present) return classify_upstream_error(0, body.error, "upstream reported an error");
    if (!body.has_choice) return make_error(error_type::api_error, "upstream response: choices.0: required");

    // Thinking, then text, then tool use: Anthropic's block order.
    std::string_view thinking = body.reasoning_text();
    std::string_view text = body.content.empty() ? body.refusal : body.content;
    std::string split_thinking;
    std::string split_text;
    if (context.think_tags_in_content && thinking.empty()) {
        think_tag_splitter splitter;
        auto sink = [&](content_kind kind, std::string_view piece) {
            (kind == content_kind::thinking ? split_thinking : split_text).append(piece.data(), piece.size());
        };
        splitter.feed(text, sink);
        splitter.finish(sink);
        thinking = split_thinking;
        text = split_text;
    }

    id_generator ids(options.id_seed != 0 ? options.id_seed : fresh_id_seed());
    std::string message_id = options.message_id.empty() ? ids.make("msg_") : options.message_id;

    json_writer writer;
    writer.start_object();
    writer.key("id");
    writer.string(message_id);
    writer.key("type");
    writer.string("message");
    writer.key("role");
    writer.string("assistant");
    writer.key("model");
    writer.string(context.client_model.empty() ? body.model : std::string_view(context.client_model));
    writer.key("content");
    writer.start_array();
    std::uint64_t output_bytes = 0;
    // Blank blocks are left out: Anthropic rejects them when a client replays them.
    if (!is_blank(thinking)) {
        writer.start_object();
        writer.key("type");
        writer.string("thinking");
        writer.key("thinking");
        writer.string(thinking);
        writer.key("signature");
        writer.string(thinking_signature_placeholder);
        writer.end_object();
        output_bytes += thinking.size();
    }
    if (!is_blank(text)) {
        writer.start_object();
        writer.key("type");
        writer.string("text");
        writer.key("text");
        writer.string(text);
        writer.end_object();
        output_bytes += text.size();
    }
    std::string tool_id;
    for (const auto& call : body.tool_calls) {
        writer.start_object();
        writer.key("type");
        writer.string("tool_use");
        writer.key("id");
        // Ids go back verbatim: Kimi's `functions.<name>:<n>` must return unchanged.
        if (call.id.empty()) {
            tool_id.clear();
            ids.append_id(tool_id, "toolu_");
            writer.string(tool_id);
        } else {
            writer.string(call.id);
        }
        writer.key("name");
        writer.string(original_tool_name(call.name, context));
        writer.key("input");
        write_tool_input(writer, call.arguments);
        writer.end_object();
        output_bytes += call.arguments.size();
    }
    writer.end_array();

    const stop_info stop = map_finish_reason(body.finish_reason, body.stop_string, !body.tool_calls.empty(), context);
    writer.key("stop_reason");
    writer.string(stop.stop_reason);
    writer.key("stop_sequence");
    if (stop.stop_sequence.empty()) writer.null();
    else writer.string(stop.stop_sequence);
    writer.key("usage");
    if (body.usage.present) {
        write_usage(writer, body.usage.prompt_tokens - body.usage.cached_tokens, body.usage.cached_tokens,
                    body.usage.completion_tokens);
    } else {
        write_usage(writer, context.estimated_input_tokens == 0 ? 1 : context.estimated_input_tokens, 0,
                    estimate_tokens(output_bytes));
    }
    writer.end_object();
    return std::string(writer.view());
}

}  // namespace detail

inline result<std::string> convert_response(std::string_view openai_body, const response_context& context,
                                            const response_options& options) {
    return detail::convert_response_impl(openai_body, context, options);
}

inline result<std::string> convert_response(std::string_view openai_body, const response_context& context) {
    return detail::convert_response_impl(openai_body, context, response_options{});
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
