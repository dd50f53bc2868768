// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

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

inline error_code read_usage(od::value& value, openai_usage& usage) {
    od::json_type type;
    if (auto err = value.type().get(type)) return err;
    if (type != od::json_type::object) return simdjson::SUCCESS;  // "usage": null
    od::object object;
    if (auto err = value.get_object().get(object)) return err;
    usage.present = true;
    for (auto field_result : object) {
        od::field field;
        if (auto err = std::move(field_result).get(field)) return err;
        const auto key = field.key();
        error_code err = simdjson::SUCCESS;
        if (key == "prompt_tokens") {
            err = optional_uint(field.value(), usage.prompt_tokens);
        } else if (key == "completion_tokens") {
            err = optional_uint(field.value(), usage.completion_tokens);
        } else if (key == "prompt_cache_hit_tokens") {  // DeepSeek's spelling
            err = optional_uint(field.value(), usage.cached_tokens);
        } else if (key == "prompt_tokens_details") {
            od::json_type details_type;
            if ((err = field.value().type().get(details_type))) return err;
            if (details_type != od::json_type::object) continue;
            od::object details;
            if ((err = field.value().get_object().get(details))) return err;
            for (auto detail_result : details) {
                od::field detail;
                if ((err = std::move(detail_result).get(detail))) return err;
                if (detail.key() == "cached_tokens") {
                    if ((err = optional_uint(detail.value(), usage.cached_tokens))) return err;
                }
            }
        }
        if (err) return err;
    }
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
    od::object object;
    if (auto err = value.get_object().get(object)) return err;
    for (auto field_result : object) {
        od::field field;
        if (auto err = std::move(field_result).get(field)) return err;
        const auto key = field.key();
        error_code err = simdjson::SUCCESS;
        if (key == "message") {
            err = optional_string(field.value(), error.message);
        } else if (key == "type") {
            err = optional_string(field.value(), error.type);
        } else if (key == "code") {
            od::json_type code_type;
            if ((err = field.value().type().get(code_type))) return err;
            if (code_type == od::json_type::number) {
                err = field.value().get_int64().get(error.code_number);
            } else {
                err = optional_string(field.value(), error.code_text);
            }
        }
        if (err) return err;
    }
    return simdjson::SUCCESS;
}

inline error_code read_tool_call(od::value& value, openai_tool_call& call) {
    od::object object;
    if (auto err = value.get_object().get(object)) return err;
    for (auto field_result : object) {
        od::field field;
        if (auto err = std::move(field_result).get(field)) return err;
        const auto key = field.key();
        error_code err = simdjson::SUCCESS;
        if (key == "index") {
            od::json_type type;
            if ((err = field.value().type().get(type))) return err;
            if (type == od::json_type::number) err = field.value().get_int64().get(call.index);
        } else if (key == "id") {
            err = optional_string(field.value(), call.id);
        } else if (key == "function") {
            od::json_type type;
            if ((err = field.value().type().get(type))) return err;
            if (type != od::json_type::object) continue;
            od::object function;
            if ((err = field.value().get_object().get(function))) return err;
            for (auto inner_result : function) {
                od::field inner;
                if ((err = std::move(inner_result).get(inner))) return err;
                if (inner.key() == "name") {
                    err = optional_string(inner.value(), call.name);
                } else if (inner.key() == "arguments") {
                    // Some servers send arguments as an object, not a string.
                    od::json_type arguments_type;
                    if ((err = inner.value().type().get(arguments_type))) return err;
                    if (arguments_type == od::json_type::object) {
                        od::object arguments;
                        if ((err = inner.value().get_object().get(arguments))) return err;
                        err = arguments.raw_json().get(call.arguments);
                    } else {
                        err = optional_string(inner.value(), call.arguments);
                    }
                }
                if (err) return err;
            }
        }
        if (err) return err;
    }
    return simdjson::SUCCESS;
}

// `message` (completion) or `delta` (chunk).
inline error_code read_message(od::value& value, openai_fields& body) {
    od::json_type type;
    if (auto err = value.type().get(type)) return err;
    if (type != od::json_type::object) return simdjson::SUCCESS;
    od::object object;
    if (auto err = value.get_object().get(object)) return err;
    for (auto field_result : object) {
        od::field field;
        if (auto err = std::move(field_result).get(field)) return err;
        const auto key = field.key();
        error_code err = simdjson::SUCCESS;
        if (key == "content") {
            od::json_type content_type;
            if ((err = field.value().type().get(content_type))) return err;
            if (content_type == od::json_type::array) {
                // Content as parts: the text parts, joined.
                body.content_parts = true;
                od::array parts;
                if ((err = field.value().get_array().get(parts))) return err;
                for (auto part_result : parts) {
                    od::value part;
                    if ((err = std::move(part_result).get(part))) return err;
                    od::object part_object;
                    if (part.get_object().get(part_object)) continue;
                    for (auto part_field_result : part_object) {
                        od::field part_field;
                        if ((err = std::move(part_field_result).get(part_field))) return err;
                        if (part_field.key() == "text") {
                            std::string_view text;
                            if ((err = optional_string(part_field.value(), text))) return err;
                            body.content_scratch.append(text.data(), text.size());
                        }
                    }
                }
                body.content = body.content_scratch;
            } else {
                err = optional_string(field.value(), body.content);
            }
        } else if (key == "reasoning_content") {
            err = optional_string(field.value(), body.reasoning_content);
        } else if (key == "reasoning") {
            err = optional_string(field.value(), body.reasoning);
        } else if (key == "refusal") {
            err = optional_string(field.value(), body.refusal);
        } else if (key == "tool_calls") {
            od::json_type calls_type;
            if ((err = field.value().type().get(calls_type))) return err;
            if (calls_type != od::json_type::array) continue;
            od::array calls;
            if ((err = field.value().get_array().get(calls))) return err;
            std::int64_t position = 0;
            for (auto call_result : calls) {
                od::value call_value;
                if ((err = std::move(call_result).get(call_value))) return err;
                openai_tool_call call;
                call.index = position++;  // when the upstream leaves `index` out
                if ((err = read_tool_call(call_value, call))) return err;
                body.tool_calls.push_back(call);
            }
        } else if (key == "function_call") {
            // The legacy single-function form: one call at index 0.
            od::json_type call_type;
            if ((err = field.value().type().get(call_type))) return err;
            if (call_type != od::json_type::object) continue;
            openai_tool_call call;
            od::object function;
            if ((err = field.value().get_object().get(function))) return err;
            for (auto inner_result : function) {
                od::field inner;
                if ((err = std::move(inner_result).get(inner))) return err;
                if (inner.key() == "name") err = optional_string(inner.value(), call.name);
                else if (inner.key() == "arguments") err = optional_string(inner.value(), call.arguments);
                if (err) return err;
            }
            body.tool_calls.push_back(call);
        }
        if (err) return err;
    }
    return simdjson::SUCCESS;
}

inline error_code read_choice(od::value& value, openai_fields& body) {
    od::object object;
    if (auto err = value.get_object().get(object)) return err;
    std::int64_t index = 0;
    for (auto field_result : object) {
        od::field field;
        if (auto err = std::move(field_result).get(field)) return err;
        const auto key = field.key();
        error_code err = simdjson::SUCCESS;
        if (key == "index") {
            od::json_type type;
            if ((err = field.value().type().get(type))) return err;
            if (type == od::json_type::number) err = field.value().get_int64().get(index);
        } else if (key == "delta" || key == "message") {
            err = read_message(field.value(), body);
        } else if (key == "finish_reason") {
            err = optional_string(field.value(), body.finish_reason);
        } else if (key == "stop_reason") {
            err = optional_string(field.value(), body.stop_string);  // a token id (number) is ignored
        }
        if (err) return err;
    }
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
    od::object object;
    if (auto err = document.get_object().get(object)) return err;
    bool object_is_error = false;
    for (auto field_result : object) {
        od::field field;
        if (auto err = std::move(field_result).get(field)) return err;
        const auto key = field.key();
        error_code err = simdjson::SUCCESS;
        if (key == "choices") {
            od::json_type type;
            if ((err = field.value().type().get(type))) return err;
            if (type != od::json_type::array) continue;
            od::array choices;
            if ((err = field.value().get_array().get(choices))) return err;
            // Only the first element is read; later ones (n > 1) are skipped.
            for (auto choice_result : choices) {
                od::value choice;
                if ((err = std::move(choice_result).get(choice))) return err;
                if ((err = read_choice(choice, body))) return err;
                break;
            }
        } else if (key == "usage") {
            err = read_usage(field.value(), body.usage);
        } else if (key == "model") {
            if (body.want_model) err = optional_string(field.value(), body.model);
        } else if (key == "error") {
            err = read_error(field.value(), body.error);
        } else if (key == "object") {
            // Compared raw: every chunk has "object", and it is never escaped.
            od::json_type type;
            if ((err = field.value().type().get(type))) return err;
            if (type == od::json_type::string) {
                od::raw_json_string text;
                if ((err = field.value().get_raw_json_string().get(text))) return err;
                object_is_error = text == "error";
            }
        } else if (key == "message") {
            err = optional_string(field.value(), body.error.message);
        } else if (key == "detail") {
            err = optional_string(field.value(), body.error.detail);
        } else if (key == "title") {
            err = optional_string(field.value(), body.error.title);
        } else if (key == "type") {
            err = optional_string(field.value(), body.error.type);
        } else if (key == "code") {
            od::json_type type;
            if ((err = field.value().type().get(type))) return err;
            if (type == od::json_type::number) err = field.value().get_int64().get(body.error.code_number);
            else err = optional_string(field.value(), body.error.code_text);
        }
        if (err) return err;
    }
    // A top-level message/detail without choices is an error body.
    if (object_is_error || (!body.has_choice && (!body.error.message.empty() || !body.error.detail.empty()))) {
        body.error.present = true;
    }
    return simdjson::SUCCESS;
}

}  // namespace reader
}  // namespace detail
MSGBRIDGE_END_NAMESPACE
