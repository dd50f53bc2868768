// SPDX-License-Identifier: MIT
#pragma once

// The walks the request engine makes over every content block, every image
// or document source and every tool definition. They are written out field
// by field instead of going through visit_fields() (request_paths.hpp) like
// the other objects: their visitors are too large for GCC to inline, and a
// call per field made request conversion about 5% slower
// (benchmarks/request_convert). Keep them this way unless a measurement says
// otherwise.

#include <string_view>
#include <utility>

#include <simdjson.h>

#include "msgbridge/detail/text.hpp"
#include "msgbridge/detail/request_converter.hpp"
#include "msgbridge/detail/request_text.hpp"
#include "msgbridge/request.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// Captures one block's fields; a nested block (inside a tool_result or a
// system array) has no `content` of its own to read.
inline bool request_engine::capture_block(od::value value, block_fields& block, bool nested) {
    od::object object;
    if (auto code = value.get_object().get(object)) return fail_json(code, {}, "must be an object");
    for (auto item : object) {
        od::field field;
        if (auto code = std::move(item).get(field)) return fail_json(code, {}, {});
        const char* key = field.key().raw();
        od::value& v = field.value();
        switch (key[0]) {
            case 't':
                if (key_is(key, "type")) {
                    if (auto code = v.get_string().get(block.type_name)) return fail_json(code, "type", "must be a string");
                    block.type = decode_block_type(block.type_name);
                } else if (key_is(key, "text")) {
                    if (!raw_string(v, "text", block.text)) return false;
                } else if (key_is(key, "thinking")) {
                    if (!raw_string(v, "thinking", block.thinking)) return false;
                } else if (key_is(key, "tool_use_id")) {
                    if (!raw_string(v, "tool_use_id", block.tool_use_id)) return false;
                } else if (key_is(key, "title")) {
                    if (!raw_string(v, "title", block.title)) return false;
                } else if (key_is(key, "tool_name")) {
                    if (!raw_string(v, "tool_name", block.tool_name)) return false;
                }
                break;
            case 'i':
                if (key_is(key, "id")) {
                    if (!raw_string(v, "id", block.id)) return false;
                } else if (key_is(key, "input")) {
                    od::object input;
                    if (auto code = v.get_object().get(input)) return fail_json(code, "input", "must be an object");
                    if (auto code = input.raw_json().get(block.input)) return fail_json(code, "input", {});
                    block.input = trim_json_space(block.input);
                    block.has_input = true;
                } else if (key_is(key, "is_error")) {
                    const std::string_view token = trim_json_space(v.raw_json_token());
                    if (token != "null") {
                        if (auto code = v.get_bool().get(block.is_error)) return fail_json(code, "is_error", "must be a boolean");
                    }
                }
                break;
            case 'n':
                if (key_is(key, "name") && !raw_string(v, "name", block.name)) return false;
                break;
            case 'c':
                if (key_is(key, "content") && !nested) {
                    auto guard = push("content");
                    block.has_content = true;
                    if (!capture_content(v)) return false;
                } else if (key_is(key, "context")) {
                    if (!raw_string(v, "context", block.context)) return false;
                }
                break;
            case 's':
                if (key_is(key, "source")) {
                    // search_result blocks carry a string source; only images
                    // and documents need an object, and say so when they see it.
                    const std::string_view token = v.raw_json_token();
                    if (!token.empty() && token.front() != '{') {
                        block.source_not_object = true;
                    } else if (!capture_source(v, block)) {
                        return false;
                    }
                }
                break;
            case 'd':
                if (key_is(key, "data") && !raw_string(v, "data", block.data)) return false;
                break;
            default:
                break;
        }
    }
    return true;
}

inline bool request_engine::capture_source(od::value value, block_fields& block) {
    auto guard = push("source");
    od::object source;
    if (auto code = value.get_object().get(source)) return fail_json(code, {}, "must be an object");
    block.has_source = true;
    for (auto item : source) {
        od::field field;
        if (auto code = std::move(item).get(field)) return fail_json(code, {}, {});
        const char* key = field.key().raw();
        od::value& v = field.value();
        if (key_is(key, "type")) {
            if (auto code = v.get_string().get(block.source_type)) return fail_json(code, "type", "must be a string");
        } else if (key_is(key, "media_type")) {
            if (!raw_string(v, "media_type", block.media_type)) return false;
        } else if (key_is(key, "data")) {
            if (!raw_string(v, "data", block.source_data)) return false;
        } else if (key_is(key, "url")) {
            if (!raw_string(v, "url", block.url)) return false;
        } else if (key_is(key, "file_id")) {
            if (!raw_string(v, "file_id", block.file_id)) return false;
        } else if (key_is(key, "content")) {
            auto content_guard = push("content");
            block.has_content = true;
            if (!capture_content(v)) return false;
        }
    }
    return true;
}

inline bool request_engine::convert_tools(od::value value) {
    auto guard = push("tools");
    od::array tools;
    if (auto code = value.get_array().get(tools)) return fail_json(code, {}, "must be an array");
    std::size_t index = 0;
    for (auto item : tools) {
        od::value tool_value;
        if (auto code = item.get(tool_value)) return fail_json(code, {}, {});
        auto element = push(index++);
        od::object tool;
        if (auto code = tool_value.get_object().get(tool)) return fail_json(code, {}, "must be an object");
        std::string_view type, name, description, schema;
        bool defer = false;
        for (auto field_item : tool) {
            od::field field;
            if (auto code = std::move(field_item).get(field)) return fail_json(code, {}, {});
            const char* key = field.key().raw();
            od::value& field_value = field.value();
            if (key_is(key, "name")) {
                if (!raw_string(field_value, "name", name)) return false;
            } else if (key_is(key, "description")) {
                if (!raw_string(field_value, "description", description)) return false;
            } else if (key_is(key, "input_schema")) {
                od::object schema_object;
                if (auto code = field_value.get_object().get(schema_object))
                    return fail_json(code, "input_schema", "must be an object");
                if (auto code = schema_object.raw_json().get(schema)) return fail_json(code, "input_schema", {});
                schema = trim_json_space(schema);
                // Copied upstream byte for byte, so it must be valid JSON in every byte.
                if (!json_text_valid(schema)) return fail("input_schema", "invalid JSON");
            } else if (key_is(key, "type")) {
                if (!raw_string(field_value, "type", type)) return false;
            } else if (key_is(key, "defer_loading")) {
                if (auto code = field_value.get_bool().get(defer)) return fail_json(code, "defer_loading", "must be a boolean");
            }
        }
        if (is_server_tool_type(type)) {
            if (options_.server_tools == server_tool_policy::reject)
                return fail("type", "server tool \"" + unescape_json_string(type) + "\" has no upstream equivalent");
            tools_.dropped.push_back(unescape_json_string(name.data() != nullptr ? name : type));
            continue;
        }
        if (name.data() == nullptr) return fail("name", "required");
        if (schema.data() == nullptr && !defer) return fail("input_schema", "required");
        if (defer && !options_.forward_deferred_tools) {
            warn(path_string({}) + ": left out (defer_loading, and the options say not to forward deferred tools)");
            continue;
        }
        write_function_tool(name, description, schema);
        estimate_.text_bytes += name.size() + description.size() + schema.size();
    }
    if (tools_.written > 0) top_.end_array();
    return true;
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
