// SPDX-License-Identifier: MIT
#pragma once

// The top level of detail::request_engine: one conversion from start to end,
// the top-level fields that are copied or checked on the way, and the OpenAI
// body put together from the parts the other headers write.

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "msgbridge/detail/text.hpp"
#include "msgbridge/detail/request_converter.hpp"
#include "msgbridge/detail/request_text.hpp"
#include "msgbridge/options.hpp"
#include "msgbridge/request.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

inline request_engine::request_engine(request_options options) : options_(std::move(options)) {
    profiles_ = options_.profiles.empty() ? default_profiles() : options_.profiles;
    extras_.reserve(profiles_.size());
    for (const auto& profile : profiles_) extras_.push_back(parse_extra_body(profile.extra_body));
    path_.reserve(16);
}

inline void request_engine::reset(converted_request& out) {
    context_ = &out.context;
    warnings_ = &out.warnings;
    path_.clear();
    system_pieces_.clear();
    seen_fields_ = 0;
    has_messages_ = has_max_tokens_ = stream_ = false;
    max_tokens_ = 0;
    pending_.reset();
    tools_.reset();
    reasoning_.reset();
    estimate_.reset();
    left_out_.reset();
    messages_.reset();
    system_.reset();
    top_.reset();
}

// simdjson reads up to SIMDJSON_PADDING bytes past the end: a body without
// that room is copied once into a buffer this object keeps.
inline const char* request_engine::padded_input(const char* data, std::size_t size, std::size_t& capacity) {
    if (capacity >= size + simdjson::SIMDJSON_PADDING) return data;
    const std::size_t needed = size + simdjson::SIMDJSON_PADDING;
    if (padded_capacity_ < needed) {
        padded_capacity_ = std::max(needed, padded_capacity_ * 2);
        padded_.reset(new char[padded_capacity_]);
    }
    if (size != 0) std::memcpy(padded_.get(), data, size);
    std::memset(padded_.get() + size, 0, simdjson::SIMDJSON_PADDING);
    capacity = padded_capacity_;
    return padded_.get();
}

inline bool request_engine::convert(const char* data, std::size_t size, std::size_t capacity, bool counting,
                                    std::string& body_out, converted_request& out) {
    reset(out);
    data = padded_input(data, size, capacity);
    od::document doc;
    if (auto code = parser_.iterate(data, size, capacity).get(doc)) return fail_json(code, {}, {});
    top_.start_object();
    if (!walk(doc, out)) return false;
    if (!has_messages_) return fail("messages", "required");
    if (!counting && !has_max_tokens_) return fail("max_tokens", "required");
    if (!pending_.wrote_message && system_pieces_.empty())
        return fail("messages", "must contain at least one message with content");
    if (!system_pieces_.empty()) write_system_message(system_, system_pieces_);
    finish_top(out);
    out.stream = stream_;
    // Claude Code's quota check: exactly {"max_tokens":1,"messages":[{"role":
    // "user","content":"quota"}]} (the content may be one text block), no tools.
    constexpr unsigned tools_bit = 1u << 7;
    out.quota_probe = has_max_tokens_ && max_tokens_ == 1 && (seen_fields_ & tools_bit) == 0 &&
                      estimate_.message_count == 1 && estimate_.quota_shaped;
    if (!counting) assemble(body_out);
    return true;
}

inline bool request_engine::walk(od::document& doc, converted_request& out) {
    od::object top;
    if (auto code = doc.get_object().get(top)) {
        if (code != simdjson::INCORRECT_TYPE) return fail_json(code, {}, {});
        // Valid JSON of another type, or not JSON at all?
        std::string_view token;
        if (doc.raw_json_token().get(token)) return fail({}, "invalid JSON (not a JSON value)");
        token = trim_json_space(token);
        const bool json = !token.empty() && (token.front() == '[' || json_text_valid(token));
        return json ? fail({}, "must be a JSON object") : fail({}, "invalid JSON (not a JSON value)");
    }
    if (!read_model(top, out)) return false;
    // `model` decides the profile, which shapes every message, so it is read
    // first; every other field is then visited in document order.
    bool had_fields = false;
    if (auto code = top.reset().get(had_fields)) return fail_json(code, {}, {});
    if (!visit_fields(top, [this](const char* key, od::value& value) { return top_field(key, value); })) return false;
    const char* trailing = nullptr;
    if (doc.current_location().get(trailing) == simdjson::SUCCESS)
        return fail({}, "invalid JSON (content after the top-level object)");
    return true;
}

inline bool request_engine::read_model(od::object& top, converted_request& out) {
    od::value value;
    if (auto code = top.find_field_unordered("model").get(value)) return fail_json(code, "model", {});
    std::string_view model;
    if (auto code = value.get_string().get(model)) return fail_json(code, "model", "must be a string");
    if (model.empty()) return fail("model", "must not be empty");
    context_->client_model.assign(model.data(), model.size());

    const std::string_view upstream = map_model(options_, model);
    out.upstream_model.assign(upstream.data(), upstream.size());

    select_profile(out.upstream_model);
    if (extra_ != nullptr && !extra_->error.empty()) {
        error_ = make_error(error_type::api_error,
                            "options: profile \"" + profile_->match + "\" extra_body: " + extra_->error);
        return false;
    }
    context_->think_tags_in_content = profile_->think_tags_in_content;
    top_.key("model");
    top_.string(out.upstream_model);
    return true;
}

inline void request_engine::select_profile(const std::string& upstream_model) {
    profile_ = nullptr;
    extra_ = nullptr;
    for (std::size_t i = 0; i < profiles_.size(); ++i) {
        if (glob_match(profiles_[i].match, upstream_model)) {
            profile_ = &profiles_[i];
            extra_ = &extras_[i];
            return;
        }
    }
    profile_ = &find_profile({}, upstream_model);
}

inline bool request_engine::top_field(const char* key, od::value& value) {
    // A field given twice would be half-applied (a second `tools` array after
    // the first was closed); JSON leaves duplicates undefined, so refuse them.
    auto first = [this](unsigned bit, std::string_view name) {
        if (seen_fields_ & (1u << bit)) return fail(name, "appears more than once");
        seen_fields_ |= 1u << bit;
        return true;
    };
    switch (key[0]) {
        case 'm':
            if (key_is(key, "model")) return first(0, "model");
            if (key_is(key, "messages")) return first(1, "messages") && convert_messages(value);
            if (key_is(key, "max_tokens")) return first(2, "max_tokens") && read_max_tokens(value);
            if (key_is(key, "metadata")) return first(3, "metadata") && convert_metadata(value);
            break;
        case 's':
            if (key_is(key, "system")) return first(4, "system") && convert_system(value);
            if (key_is(key, "stream")) {
                if (!first(5, "stream")) return false;
                if (auto code = value.get_bool().get(stream_)) return fail_json(code, "stream", "must be a boolean");
                return true;
            }
            if (key_is(key, "stop_sequences")) return first(6, "stop_sequences") && convert_stop_sequences(value);
            break;
        case 't':
            if (key_is(key, "tools")) return first(7, "tools") && convert_tools(value);
            if (key_is(key, "tool_choice")) return first(8, "tool_choice") && convert_tool_choice(value);
            if (key_is(key, "temperature")) return first(9, "temperature") && copy_number(value, "temperature", false);
            if (key_is(key, "top_p")) return first(10, "top_p") && copy_number(value, "top_p", false);
            if (key_is(key, "top_k")) return first(11, "top_k") && copy_number(value, "top_k", true);
            if (key_is(key, "thinking")) return first(12, "thinking") && convert_thinking(value);
            break;
        case 'o':
            if (key_is(key, "output_config")) return first(13, "output_config") && convert_output_config(value);
            break;
        default:
            break;
    }
    // Clients add top-level fields all the time: never an error, always named.
    left_out_.ignored_fields.emplace_back(unescape_json_string(raw_key_content(key)));
    return true;
}

inline bool request_engine::read_max_tokens(od::value& value) {
    auto code = value.get_uint64().get(max_tokens_);
    if (code && !is_parse_type_error(code)) return fail_json(code, "max_tokens", {});
    if (code || max_tokens_ == 0) return fail("max_tokens", "must be a positive integer");
    has_max_tokens_ = true;
    return true;
}

inline bool request_engine::copy_number(od::value value, std::string_view name, bool integer) {
    auto guard = push(name);
    if (integer) {
        std::int64_t number = 0;
        if (auto code = value.get_int64().get(number)) return fail_json(code, {}, "must be an integer");
    } else {
        double number = 0;
        if (auto code = value.get_double().get(number)) return fail_json(code, {}, "must be a number");
    }
    if (name == "top_k" && !profile_->top_k) {
        warn("top_k: left out (not supported by " + context_->client_model + "'s upstream profile \"" +
             profile_->match + "\")");
        return true;
    }
    if (!emit(name)) return true;
    top_.key(name);
    top_.raw(trim_json_space(value.raw_json_token()));
    return true;
}

inline bool request_engine::convert_stop_sequences(od::value value) {
    auto guard = push("stop_sequences");
    od::array sequences;
    if (auto code = value.get_array().get(sequences)) return fail_json(code, {}, "must be an array of strings");
    bool started = false;
    const bool read = for_each_element(sequences, [&](od::value sequence) {
        std::string_view text;
        if (!raw_string(sequence, {}, text)) return false;
        if (text.data() == nullptr) return fail({}, "must be a string");
        if (!started) {
            started = true;
            if (emit("stop")) {
                top_.key("stop");
                top_.start_array();
            }
        }
        if (emit("stop")) top_.raw_string(quoted(text));
        context_->stop_sequences.push_back(unescape_json_string(text));
        return true;
    });
    if (!read) return false;
    if (started && emit("stop")) top_.end_array();
    return true;
}

inline bool request_engine::convert_metadata(od::value value) {
    auto guard = push("metadata");
    if (trim_json_space(value.raw_json_token()) == "null") return true;
    return visit_fields(value, [this](const char* key, od::value& field_value) {
        if (key_is(key, "user_id")) {
            std::string_view user;
            if (!raw_string(field_value, "user_id", user)) return false;
            if (user.data() == nullptr || options_.forward_user_id == user_id_forwarding::off || !emit("user"))
                return true;
            top_.key("user");
            if (options_.forward_user_id == user_id_forwarding::as_is) {
                top_.raw_string(quoted(user));
            } else {
                top_.string(fnv1a64_hex(unescape_json_string(user)));
            }
        } else {
            left_out_.ignored_fields.push_back("metadata." + unescape_json_string(raw_key_content(key)));
        }
        return true;
    });
}

inline bool request_engine::emit(std::string_view key) const {
    if (extra_ == nullptr) return true;
    for (const auto& member : extra_->members) {
        if (member.first == key) return false;
    }
    return true;
}

// The members that depend on more than one field, written once all are read.
inline void request_engine::finish_top(converted_request& out) {
    const std::uint64_t estimate = estimate_.tokens();
    context_->estimated_input_tokens = estimate;
    if (has_max_tokens_) write_max_tokens(out, estimate);
    if (!tools_.dropped.empty())
        warn("tools: server tools left out (no upstream equivalent): " + join_names(tools_.dropped));
    if (tools_.has_choice) write_tool_choice();
    const bool template_kwargs_written = write_reasoning_controls();
    write_stream();
    merge_extra_body(template_kwargs_written);
    top_.end_object();
    warn_left_out();
}

inline void request_engine::write_stream() {
    if (!stream_ || !emit("stream")) return;
    top_.key("stream");
    top_.boolean(true);
    if (profile_->stream_usage && emit("stream_options")) {
        top_.key("stream_options");
        top_.raw(R"({"include_usage":true})");
    }
}

inline void request_engine::merge_extra_body(bool template_kwargs_written) {
    if (extra_ == nullptr) return;
    for (const auto& member : extra_->members) {
        // Already merged into the chat_template_kwargs we wrote.
        if (template_kwargs_written && member.first == "chat_template_kwargs") continue;
        top_.key(member.first);
        top_.raw(member.second);
    }
}

inline void request_engine::assemble(std::string& body_out) const {
    const std::string_view system = system_.view();
    std::string_view messages = messages_.view();
    // messages_ holds a JSON array; only its elements are needed here.
    if (messages.size() >= 2) messages = messages.substr(1, messages.size() - 2);
    const std::string_view top = top_.view();
    body_out.reserve(body_out.size() + system.size() + messages.size() + top.size() + 16);
    body_out += "{\"messages\":[";
    body_out += system;
    if (!system.empty() && !messages.empty()) body_out += ',';
    body_out += messages;
    body_out += ']';
    if (top.size() > 2) {
        body_out += ',';
        body_out.append(top.data() + 1, top.size() - 1);
    } else {
        body_out += '}';
    }
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
