// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "msgbridge/detail/ondemand_walk.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// What the converters need from one OpenAI `chat.completion` body or one
// `chat.completion.chunk`. Strings are views into the simdjson parser's
// buffers and live until that parser parses again. One reader serves both
// shapes (`message` in a completion, `delta` in a chunk), so the streaming
// and non-streaming paths cannot disagree about a field.

struct openai_usage {
    bool present = false;
    std::uint64_t prompt_tokens = 0;
    std::uint64_t completion_tokens = 0;
    std::uint64_t cached_tokens = 0;
};

struct openai_tool_call {
    std::int64_t index = 0;
    std::string_view id;
    std::string_view name;
    std::string_view arguments;
};

// The fields of an upstream error, wherever the upstream put them:
// `{"error":{…}}`, `{"error":"…"}`, vLLM's `{"object":"error","message":…}`,
// FastAPI's `{"detail":…}`, NVIDIA's `{"title":…,"detail":…}`.
struct upstream_error_fields {
    bool present = false;
    std::string_view message;
    std::string_view detail;
    std::string_view title;
    std::string_view type;
    std::string_view code_text;
    std::int64_t code_number = 0;
};

struct openai_fields {
    bool has_choice = false;
    std::string_view reasoning_content;  // `reasoning_content` (DeepSeek, vLLM, NIM)
    std::string_view reasoning;          // `reasoning` (OpenRouter, newer vLLM)
    std::string_view content;
    std::string_view refusal;
    std::string_view finish_reason;
    std::string_view stop_string;  // vLLM's `stop_reason` when it names a stop string
    std::string_view model;
    std::vector<openai_tool_call> tool_calls;  // capacity reused between chunks
    openai_usage usage;
    upstream_error_fields error;
    bool content_parts = false;  // content arrived as an array of parts (see content_scratch)
    bool want_model = true;      // the stream never needs the upstream's model name
    std::string content_scratch;

    void clear() noexcept {
        has_choice = false;
        reasoning_content = reasoning = content = refusal = finish_reason = stop_string = model = {};
        tool_calls.clear();
        usage = {};
        error = {};
        content_parts = false;
        content_scratch.clear();
    }
    // The reasoning text, whichever field carried it (never both: some
    // servers mirror one into the other).
    [[nodiscard]] std::string_view reasoning_text() const noexcept {
        return reasoning_content.empty() ? reasoning : reasoning_content;
    }
};

namespace reader {

using simdjson::error_code;
namespace od = simdjson::ondemand;

// A string, or nothing for null / a value of another type (an upstream
// quirk we tolerate rather than fail a whole answer for).
inline error_code optional_string(od::value& value, std::string_view& out) {
    od::json_type type;
    if (auto err = value.type().get(type)) return err;
    if (type != od::json_type::string) return simdjson::SUCCESS;
    return value.get_string().get(out);
}

inline error_code optional_uint(od::value& value, std::uint64_t& out) {
    od::json_type type;
    if (auto err = value.type().get(type)) return err;
    if (type != od::json_type::number) return simdjson::SUCCESS;
    std::int64_t number = 0;
    if (auto err = value.get_int64().get(number)) return err;
    out = number > 0 ? static_cast<std::uint64_t>(number) : 0;
    return simdjson::SUCCESS;
}

// The fields of an object, or nothing for null / a value of another type.
template <class Visit>
error_code optional_object(od::value& value, Visit&& visit) {
    od::json_type type;
    if (auto err = value.type().get(type)) return err;
    if (type != od::json_type::object) return simdjson::SUCCESS;
    return for_each_field(value, std::forward<Visit>(visit));
}

inline error_code read_usage(od::value& value, openai_usage& usage) {
    od::json_type type;
    if (auto err = value.type().get(type)) return err;
    if (type != od::json_type::object) return simdjson::SUCCESS;  // "usage": null
    od::object object;
    if (auto err = value.get_object().get(object)) return err;
    usage.present = true;
    auto err = for_each_field(object, [&](od::raw_json_string key, od::value& field_value) {
        if (key == "prompt_tokens") return optional_uint(field_value, usage.prompt_tokens);
        if (key == "completion_tokens") return optional_uint(field_value, usage.completion_tokens);
        // DeepSeek's spelling:
        if (key == "prompt_cache_hit_tokens") return optional_uint(field_value, usage.cached_tokens);
        if (key == "prompt_tokens_details") {
            return optional_object(field_value, [&](od::raw_json_string detail_key, od::value& detail) {
                if (detail_key == "cached_tokens") return optional_uint(detail, usage.cached_tokens);
                return simdjson::SUCCESS;
            });
        }
        return simdjson::SUCCESS;
    });
    if (err) return err;
    if (usage.cached_tokens > usage.prompt_tokens) usage.cached_tokens = usage.prompt_tokens;
    return simdjson::SUCCESS;
}

inline error_code read_error(od::value& value, upstream_error_fields& error) {
    od::json_type type;
    if (auto err = value.type().get(type)) return err;
    if (type == od::json_type::null) return simdjson::SUCCESS;
    error.present = true;
    if (type == od::json_type::string) return value.get_string().get(error.message);
    if (type != od::json_type::object) return simdjson::SUCCESS;
    return for_each_field(value, [&](od::raw_json_string key, od::value& field_value) {
        if (key == "message") return optional_string(field_value, error.message);
        if (key == "type") return optional_string(field_value, error.type);
        if (key == "code") {
            od::json_type code_type;
            if (auto err = field_value.type().get(code_type)) return err;
            if (code_type == od::json_type::number) return field_value.get_int64().get(error.code_number);
            return optional_string(field_value, error.code_text);
        }
        return simdjson::SUCCESS;
    });
}

inline error_code read_tool_call(od::value& value, openai_tool_call& call) {
    return for_each_field(value, [&](od::raw_json_string key, od::value& field_value) {
        if (key == "index") {
            od::json_type type;
            if (auto err = field_value.type().get(type)) return err;
            if (type == od::json_type::number) return field_value.get_int64().get(call.index);
            return simdjson::SUCCESS;
        }
        if (key == "id") return optional_string(field_value, call.id);
        if (key == "function") {
            return optional_object(field_value, [&](od::raw_json_string inner_key, od::value& inner) {
                if (inner_key == "name") return optional_string(inner, call.name);
                if (inner_key == "arguments") {
                    // Some servers send arguments as an object, not a string.
                    od::json_type arguments_type;
                    if (auto err = inner.type().get(arguments_type)) return err;
                    if (arguments_type == od::json_type::object) {
                        od::object arguments;
                        if (auto err = inner.get_object().get(arguments)) return err;
                        return arguments.raw_json().get(call.arguments);
                    }
                    return optional_string(inner, call.arguments);
                }
                return simdjson::SUCCESS;
            });
        }
        return simdjson::SUCCESS;
    });
}

// `message` (completion) or `delta` (chunk).
inline error_code read_message(od::value& value, openai_fields& body) {
    od::json_type type;
    if (auto err = value.type().get(type)) return err;
    if (type != od::json_type::object) return simdjson::SUCCESS;
    return for_each_field(value, [&](od::raw_json_string key, od::value& field_value) {
        if (key == "content") {
            od::json_type content_type;
            if (auto err = field_value.type().get(content_type)) return err;
            if (content_type != od::json_type::array) return optional_string(field_value, body.content);
            // Content as parts: the text parts, joined.
            body.content_parts = true;
            od::array parts;
            if (auto err = field_value.get_array().get(parts)) return err;
            for (auto part_result : parts) {
                od::value part;
                if (auto err = std::move(part_result).get(part)) return err;
                od::object part_object;
                if (part.get_object().get(part_object)) continue;
                auto err = for_each_field(part_object, [&](od::raw_json_string part_key, od::value& part_value) {
                    if (part_key != "text") return simdjson::SUCCESS;
                    std::string_view text;
                    if (auto text_err = optional_string(part_value, text)) return text_err;
                    body.content_scratch.append(text.data(), text.size());
                    return simdjson::SUCCESS;
                });
                if (err) return err;
            }
            body.content = body.content_scratch;
            return simdjson::SUCCESS;
        }
        if (key == "reasoning_content") return optional_string(field_value, body.reasoning_content);
        if (key == "reasoning") return optional_string(field_value, body.reasoning);
        if (key == "refusal") return optional_string(field_value, body.refusal);
        if (key == "tool_calls") {
            od::json_type calls_type;
            if (auto err = field_value.type().get(calls_type)) return err;
            if (calls_type != od::json_type::array) return simdjson::SUCCESS;
            od::array calls;
            if (auto err = field_value.get_array().get(calls)) return err;
            std::int64_t position = 0;
            for (auto call_result : calls) {
                od::value call_value;
                if (auto err = std::move(call_result).get(call_value)) return err;
                openai_tool_call call;
                call.index = position++;  // when the upstream leaves `index` out
                if (auto err = read_tool_call(call_value, call)) return err;
                body.tool_calls.push_back(call);
            }
            return simdjson::SUCCESS;
        }
        if (key == "function_call") {
            // The legacy single-function form: one call at index 0.
            od::json_type call_type;
            if (auto err = field_value.type().get(call_type)) return err;
            if (call_type != od::json_type::object) return simdjson::SUCCESS;
            openai_tool_call call;
            auto err = for_each_field(field_value, [&](od::raw_json_string inner_key, od::value& inner) {
                if (inner_key == "name") return optional_string(inner, call.name);
                if (inner_key == "arguments") return optional_string(inner, call.arguments);
                return simdjson::SUCCESS;
            });
            if (err) return err;
            body.tool_calls.push_back(call);
        }
        return simdjson::SUCCESS;
    });
}

inline error_code read_choice(od::value& value, openai_fields& body) {
    std::int64_t index = 0;
    auto err = for_each_field(value, [&](od::raw_json_string key, od::value& field_value) {
        if (key == "index") {
            od::json_type type;
            if (auto type_err = field_value.type().get(type)) return type_err;
            if (type == od::json_type::number) return field_value.get_int64().get(index);
            return simdjson::SUCCESS;
        }
        if (key == "delta" || key == "message") return read_message(field_value, body);
        if (key == "finish_reason") return optional_string(field_value, body.finish_reason);
        // vLLM's stop_reason: a stop string is kept, a token id (number) ignored.
        if (key == "stop_reason") return optional_string(field_value, body.stop_string);
        return simdjson::SUCCESS;
    });
    if (err) return err;
    body.has_choice = true;
    if (index != 0) {
        // Anthropic has no `n`: only choice 0 is converted.
        std::string scratch;
        scratch.swap(body.content_scratch);
        std::vector<openai_tool_call> calls;
        calls.swap(body.tool_calls);
        const openai_usage usage = body.usage;
        const upstream_error_fields error = body.error;
        const std::string_view model = body.model;
        body.clear();
        body.usage = usage;
        body.error = error;
        body.model = model;
        scratch.clear();
        calls.clear();
        body.content_scratch.swap(scratch);
        body.tool_calls.swap(calls);
    }
    return simdjson::SUCCESS;
}

// The top level of a completion, a chunk, or an error body.
inline error_code read_body(od::document& document, openai_fields& body) {
    bool object_is_error = false;
    auto err = for_each_field(document, [&](od::raw_json_string key, od::value& field_value) {
        if (key == "choices") {
            od::json_type type;
            if (auto type_err = field_value.type().get(type)) return type_err;
            if (type != od::json_type::array) return simdjson::SUCCESS;
            od::array choices;
            if (auto array_err = field_value.get_array().get(choices)) return array_err;
            // Only the first element is read; later ones (n > 1) are skipped.
            for (auto choice_result : choices) {
                od::value choice;
                if (auto choice_err = std::move(choice_result).get(choice)) return choice_err;
                return read_choice(choice, body);
            }
            return simdjson::SUCCESS;
        }
        if (key == "usage") return read_usage(field_value, body.usage);
        if (key == "model") {
            if (!body.want_model) return simdjson::SUCCESS;
            return optional_string(field_value, body.model);
        }
        if (key == "error") return read_error(field_value, body.error);
        if (key == "object") {
            // Compared raw: every chunk has "object", and it is never escaped.
            od::json_type type;
            if (auto type_err = field_value.type().get(type)) return type_err;
            if (type != od::json_type::string) return simdjson::SUCCESS;
            od::raw_json_string text;
            if (auto text_err = field_value.get_raw_json_string().get(text)) return text_err;
            object_is_error = text == "error";
            return simdjson::SUCCESS;
        }
        if (key == "message") return optional_string(field_value, body.error.message);
        if (key == "detail") return optional_string(field_value, body.error.detail);
        if (key == "title") return optional_string(field_value, body.error.title);
        if (key == "type") return optional_string(field_value, body.error.type);
        if (key == "code") {
            od::json_type type;
            if (auto type_err = field_value.type().get(type)) return type_err;
            if (type == od::json_type::number) return field_value.get_int64().get(body.error.code_number);
            return optional_string(field_value, body.error.code_text);
        }
        return simdjson::SUCCESS;
    });
    if (err) return err;
    // A top-level message/detail without choices is an error body.
    if (object_is_error || (!body.has_choice && (!body.error.message.empty() || !body.error.detail.empty()))) {
        body.error.present = true;
    }
    return simdjson::SUCCESS;
}

}  // namespace reader
}  // namespace detail
MSGBRIDGE_END_NAMESPACE
