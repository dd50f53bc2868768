// SPDX-License-Identifier: MIT
#pragma once

// Definitions of detail::request_engine (declared in request_converter.hpp).
// The request is visited once, in document order, with simdjson On-Demand;
// strings and JSON values that need no change are copied as escaped bytes.

#include <algorithm>

#include "msgbridge/detail/request_converter.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// ---- small helpers ----

// `raw` points just after a key's opening quote; the padded input makes the
// comparison safe to run past a shorter key.
inline bool key_is(const char* raw, std::string_view name) noexcept {
    return std::memcmp(raw, name.data(), name.size()) == 0 && raw[name.size()] == '"';
}

inline std::string_view raw_key_content(const char* raw) noexcept {
    std::size_t i = 0;
    while (raw[i] != '"') i += raw[i] == '\\' ? 2 : 1;
    return {raw, i};
}

// The quoted token around string content taken from the input.
inline std::string_view quoted(std::string_view content) noexcept {
    return {content.data() - 1, content.size() + 2};
}

inline std::string_view trim_json(std::string_view text) noexcept {
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' ||
                             text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

inline bool is_empty_object(std::string_view json) noexcept {
    if (json.size() < 2 || json.front() != '{' || json.back() != '}') return false;
    for (std::size_t i = 1; i + 1 < json.size(); ++i) {
        const char c = json[i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return false;
    }
    return true;
}

inline bool is_parse_type_error(simdjson::error_code code) noexcept {
    return code == simdjson::INCORRECT_TYPE || code == simdjson::NUMBER_ERROR ||
           code == simdjson::NUMBER_OUT_OF_RANGE;
}

inline std::string_view normalize_effort(std::string_view effort) noexcept {
    if (effort == "low" || effort == "medium" || effort == "high") return effort;
    if (effort == "max" || effort == "xhigh") return "high";
    if (effort == "minimal") return "low";
    return {};
}

// Anthropic's budget_tokens -> OpenAI's reasoning_effort (docs/request-mapping.md).
inline std::string_view effort_for_budget(std::uint64_t budget) noexcept {
    if (budget < 4096) return "low";
    if (budget < 16384) return "medium";
    return "high";
}

inline constexpr std::string_view billing_header_prefix = "x-anthropic-billing-header:";
inline constexpr std::string_view no_vision_placeholder = "[image omitted: this model cannot see images]";
inline constexpr std::string_view paragraph = "\n\n";

inline parsed_extra parse_extra_body(const std::string& extra_body) {
    parsed_extra parsed;
    if (extra_body.empty()) return parsed;
    simdjson::padded_string padded(extra_body);
    od::parser parser;
    od::document doc;
    od::object object;
    if (parser.iterate(padded).get(doc) || doc.get_object().get(object)) {
        parsed.error = "must be a JSON object";
        return parsed;
    }
    for (auto item : object) {
        od::field field;
        std::string_view key;
        od::value value;
        std::string_view raw;
        if (std::move(item).get(field) || field.unescaped_key().get(key)) {
            parsed.error = "invalid JSON";
            return parsed;
        }
        value = field.value();
        od::json_type type;
        if (value.type().get(type)) {
            parsed.error = "invalid JSON";
            return parsed;
        }
        if (type == od::json_type::object) {
            od::object inner;
            if (value.get_object().get(inner) || inner.raw_json().get(raw)) {
                parsed.error = "invalid JSON";
                return parsed;
            }
            raw = trim_json(raw);
        } else if (type == od::json_type::array) {
            od::array inner;
            if (value.get_array().get(inner) || inner.raw_json().get(raw)) {
                parsed.error = "invalid JSON";
                return parsed;
            }
            raw = trim_json(raw);
        } else {
            raw = trim_json(value.raw_json_token());
        }
        if (key == "chat_template_kwargs" && type == od::json_type::object) {
            parsed.has_template_kwargs = true;
            std::string_view inner = raw.substr(1, raw.size() - 2);
            parsed.template_kwargs_inner.assign(trim_json(inner));
            // The keys, so a value set here wins over the one we would generate.
            simdjson::padded_string inner_padded(raw);
            od::parser inner_parser;
            od::document inner_doc;
            od::object kwargs;
            if (!inner_parser.iterate(inner_padded).get(inner_doc) && !inner_doc.get_object().get(kwargs)) {
                for (auto kwarg : kwargs) {
                    od::field kwarg_field;
                    std::string_view kwarg_key;
                    if (std::move(kwarg).get(kwarg_field) || kwarg_field.unescaped_key().get(kwarg_key)) break;
                    parsed.template_kwargs_keys.emplace_back(kwarg_key);
                }
            }
        }
        parsed.members.emplace_back(std::string(key), std::string(raw));
    }
    return parsed;
}

// ---- construction ----

inline request_engine::request_engine(request_options options) : options_(std::move(options)) {
    profiles_ = options_.profiles.empty() ? default_profiles() : options_.profiles;
    extras_.reserve(profiles_.size());
    for (const auto& profile : profiles_) extras_.push_back(parse_extra_body(profile.extra_body));
    path_.reserve(16);
}

// ---- errors ----

inline std::string request_engine::path_string(std::string_view leaf) const {
    std::string out;
    for (const auto& segment : path_) {
        if (!out.empty()) out.push_back('.');
        if (segment.is_index) {
            out += std::to_string(segment.index);
        } else {
            out += segment.name;
        }
    }
    if (!leaf.empty()) {
        if (!out.empty()) out.push_back('.');
        out += leaf;
    }
    if (out.empty()) out = "body";
    return out;
}

inline bool request_engine::fail(std::string_view leaf, std::string_view problem) {
    std::string message = path_string(leaf);
    message += ": ";
    message += problem;
    error_ = invalid_request(std::move(message));
    return false;
}

inline bool request_engine::fail_json(simdjson::error_code code, std::string_view leaf, std::string_view expected) {
    if (code == simdjson::NO_SUCH_FIELD) return fail(leaf, "required");
    if (is_parse_type_error(code) && !expected.empty()) return fail(leaf, expected);
    std::string problem = "invalid JSON (";
    problem += simdjson::error_message(code);
    problem += ")";
    return fail(leaf, problem);
}

template <class Visit>
simdjson_inline bool request_engine::visit_fields(od::object& object, Visit&& visit) {
    bool visit_failed = false;
    const simdjson::error_code code = for_each_field(object, [&](od::raw_json_string key, od::value& value) {
        if (visit(key.raw(), value)) return simdjson::SUCCESS;
        visit_failed = true;
        return simdjson::UNEXPECTED_ERROR;  // only stops the walk: error_ already says why
    });
    if (code == simdjson::SUCCESS) return true;
    return visit_failed ? false : fail_json(code, {}, {});
}

template <class Visit>
simdjson_inline bool request_engine::visit_fields(od::value& value, Visit&& visit) {
    od::object object;
    if (auto code = value.get_object().get(object)) return fail_json(code, {}, "must be an object");
    return visit_fields(object, std::forward<Visit>(visit));
}

inline bool request_engine::raw_string(od::value value, std::string_view name, std::string_view& out) {
    const std::string_view token = value.raw_json_token();
    if (token.empty() || token.front() != '"') {
        if (!token.empty() && token.front() == 'n' && trim_json(token) == "null") return true;
        return fail(name, "must be a string");
    }
    out = string_token_content(token);
    if (!escapes_valid(out)) return fail(name, "invalid escape sequence in string");
    return true;
}

// ---- names ----

inline std::string_view request_engine::upstream_tool_name(std::string_view escaped, std::string& shortened) {
    shortened.clear();
    if (valid_openai_name(escaped)) return escaped;
    std::string original = unescape_json_string(escaped);
    if (valid_openai_name(original)) {
        shortened = std::move(original);
        return {};
    }
    shortened = shorten_tool_name(original);
    auto& names = context_->tool_names;
    const bool known = std::any_of(names.begin(), names.end(),
                                   [&](const auto& entry) { return entry.first == shortened; });
    if (!known) names.emplace_back(shortened, std::move(original));
    return {};
}

// ---- the walk ----

inline bool request_engine::convert(const char* data, std::size_t size, std::size_t capacity, bool counting,
                                    std::string& body_out, converted_request& out) {
    context_ = &out.context;
    warnings_ = &out.warnings;
    path_.clear();
    system_pieces_.clear();
    has_messages_ = has_max_tokens_ = stream_ = false;
    max_tokens_ = 0;
    pending_role_ = message_role::none;
    pieces_.clear();
    parts_.clear();
    reasoning_.clear();
    calls_used_ = 0;
    turn_first_part_ = 0;
    wrote_message_ = wrote_non_system_ = false;
    tools_written_ = 0;
    seen_fields_ = 0;
    dropped_tools_.clear();
    tool_choice_type_ = tool_choice_name_ = {};
    has_tool_choice_ = disable_parallel_ = false;
    thinking_type_ = effort_ = {};
    thinking_budget_ = 0;
    text_bytes_ = media_items_ = message_count_ = images_replaced_ = redacted_dropped_ = 0;
    quota_shaped_ = false;
    ignored_fields_.clear();
    dropped_blocks_.clear();
    messages_.reset();
    system_.reset();
    top_.reset();

    if (capacity < size + simdjson::SIMDJSON_PADDING) {
        // One copy into a buffer this object keeps: simdjson reads up to
        // SIMDJSON_PADDING bytes past the end.
        const std::size_t needed = size + simdjson::SIMDJSON_PADDING;
        if (padded_capacity_ < needed) {
            padded_capacity_ = std::max(needed, padded_capacity_ * 2);
            padded_.reset(new char[padded_capacity_]);
        }
        if (size != 0) std::memcpy(padded_.get(), data, size);
        std::memset(padded_.get() + size, 0, simdjson::SIMDJSON_PADDING);
        data = padded_.get();
        capacity = padded_capacity_;
    }
    od::document doc;
    if (auto code = parser_.iterate(data, size, capacity).get(doc)) return fail_json(code, {}, {});
    top_.start_object();
    if (!walk(doc, out)) return false;
    if (!has_messages_) return fail("messages", "required");
    if (!counting && !has_max_tokens_) return fail("max_tokens", "required");
    if (!wrote_message_ && system_pieces_.empty())
        return fail("messages", "must contain at least one message with content");
    if (!system_pieces_.empty()) write_system_message(system_, system_pieces_);
    finish_top(out);
    out.stream = stream_;
    // Claude Code's quota check: exactly {"max_tokens":1,"messages":[{"role":
    // "user","content":"quota"}]} (the content may be one text block), no tools.
    constexpr unsigned tools_bit = 1u << 7;
    out.quota_probe = has_max_tokens_ && max_tokens_ == 1 && (seen_fields_ & tools_bit) == 0 &&
                      message_count_ == 1 && quota_shaped_;
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
        token = trim_json(token);
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

    std::string_view upstream = model;
    bool mapped = false;
    for (const auto& alias : options_.model_map) {
        if (glob_match(alias.pattern, model)) {
            upstream = alias.upstream_model;
            mapped = true;
            break;
        }
    }
    if (!mapped && !options_.default_model.empty() && model.substr(0, 6) == "claude")
        upstream = options_.default_model;
    out.upstream_model.assign(upstream.data(), upstream.size());

    profile_ = nullptr;
    extra_ = nullptr;
    for (std::size_t i = 0; i < profiles_.size(); ++i) {
        if (glob_match(profiles_[i].match, out.upstream_model)) {
            profile_ = &profiles_[i];
            extra_ = &extras_[i];
            break;
        }
    }
    if (profile_ == nullptr) profile_ = &find_profile({}, out.upstream_model);
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
            if (key_is(key, "max_tokens")) {
                if (!first(2, "max_tokens")) return false;
                auto code = value.get_uint64().get(max_tokens_);
                if (code && !is_parse_type_error(code)) return fail_json(code, "max_tokens", {});
                if (code || max_tokens_ == 0) return fail("max_tokens", "must be a positive integer");
                has_max_tokens_ = true;
                return true;
            }
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
    ignored_fields_.emplace_back(unescape_json_string(raw_key_content(key)));
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
    top_.raw(trim_json(value.raw_json_token()));
    return true;
}

inline bool request_engine::convert_stop_sequences(od::value value) {
    auto guard = push("stop_sequences");
    od::array sequences;
    if (auto code = value.get_array().get(sequences)) return fail_json(code, {}, "must be an array of strings");
    std::size_t index = 0;
    bool started = false;
    for (auto item : sequences) {
        od::value sequence;
        if (auto code = item.get(sequence)) return fail_json(code, {}, {});
        auto element = push(index++);
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
    }
    if (started && emit("stop")) top_.end_array();
    return true;
}

inline bool request_engine::convert_metadata(od::value value) {
    auto guard = push("metadata");
    if (trim_json(value.raw_json_token()) == "null") return true;
    return visit_fields(value, [this](const char* key, od::value& field_value) {
        if (key_is(key, "user_id")) {
            std::string_view user;
            if (!raw_string(field_value, "user_id", user)) return false;
            if (user.data() != nullptr && emit("user")) {
                top_.key("user");
                top_.raw_string(quoted(user));
            }
        } else {
            ignored_fields_.push_back("metadata." + unescape_json_string(raw_key_content(key)));
        }
        return true;
    });
}

inline bool request_engine::convert_thinking(od::value value) {
    auto guard = push("thinking");
    bool has_budget = false;
    const bool read = visit_fields(value, [&](const char* key, od::value& field_value) {
        if (key_is(key, "type")) {
            if (auto code = field_value.get_string().get(thinking_type_)) return fail_json(code, "type", "must be a string");
        } else if (key_is(key, "budget_tokens")) {
            if (auto code = field_value.get_uint64().get(thinking_budget_))
                return fail_json(code, "budget_tokens", "must be a non-negative integer");
            has_budget = true;
        }
        return true;
    });
    if (!read) return false;
    if (thinking_type_.data() == nullptr) return fail("type", "required");
    if (thinking_type_ != "enabled" && thinking_type_ != "adaptive" && thinking_type_ != "disabled")
        return fail("type", R"(must be one of "enabled", "adaptive", "disabled")");
    if (thinking_type_ == "enabled" && !has_budget) return fail("budget_tokens", "required");
    return true;
}

inline bool request_engine::convert_output_config(od::value value) {
    auto guard = push("output_config");
    return visit_fields(value, [this](const char* key, od::value& field_value) {
        if (key_is(key, "effort")) {
            if (auto code = field_value.get_string().get(effort_)) return fail_json(code, "effort", "must be a string");
        } else {
            ignored_fields_.push_back("output_config." + unescape_json_string(raw_key_content(key)));
        }
        return true;
    });
}

inline bool request_engine::convert_tool_choice(od::value value) {
    auto guard = push("tool_choice");
    const bool read = visit_fields(value, [this](const char* key, od::value& field_value) {
        if (key_is(key, "type")) {
            if (auto code = field_value.get_string().get(tool_choice_type_)) return fail_json(code, "type", "must be a string");
        } else if (key_is(key, "name")) {
            if (!raw_string(field_value, "name", tool_choice_name_)) return false;
        } else if (key_is(key, "disable_parallel_tool_use")) {
            if (auto code = field_value.get_bool().get(disable_parallel_))
                return fail_json(code, "disable_parallel_tool_use", "must be a boolean");
        }
        return true;
    });
    if (!read) return false;
    if (tool_choice_type_.data() == nullptr) return fail("type", "required");
    if (tool_choice_type_ != "auto" && tool_choice_type_ != "any" && tool_choice_type_ != "tool" &&
        tool_choice_type_ != "none")
        return fail("type", R"(must be one of "auto", "any", "tool", "none")");
    if (tool_choice_type_ == "tool" && tool_choice_name_.data() == nullptr) return fail("name", "required");
    has_tool_choice_ = true;
    return true;
}

inline bool request_engine::convert_tools(od::value value) {
    auto guard = push("tools");
    od::array tools;
    if (auto code = value.get_array().get(tools)) return fail_json(code, {}, "must be an array");
    std::size_t index = 0;
    std::string shortened;
    for (auto item : tools) {
        od::value tool_value;
        if (auto code = item.get(tool_value)) return fail_json(code, {}, {});
        auto element = push(index++);
        od::object tool;
        if (auto code = tool_value.get_object().get(tool)) return fail_json(code, {}, "must be an object");
        std::string_view type, name, description, schema;
        bool defer = false;
        // Written out, not visit_fields(): this walk is hot (see its declaration).
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
                schema = trim_json(schema);
                // Copied upstream byte for byte, so it must be valid JSON in every byte.
                if (!json_text_valid(schema)) return fail("input_schema", "invalid JSON");
            } else if (key_is(key, "type")) {
                std::string_view raw_type;
                if (!raw_string(field_value, "type", raw_type)) return false;
                type = raw_type;
            } else if (key_is(key, "defer_loading")) {
                if (auto code = field_value.get_bool().get(defer)) return fail_json(code, "defer_loading", "must be a boolean");
            }
        }
        if (is_server_tool_type(type)) {
            if (options_.server_tools == server_tool_policy::reject)
                return fail("type", "server tool \"" + unescape_json_string(type) + "\" has no upstream equivalent");
            dropped_tools_.push_back(unescape_json_string(name.data() != nullptr ? name : type));
            continue;
        }
        if (name.data() == nullptr) return fail("name", "required");
        if (schema.data() == nullptr && !defer) return fail("input_schema", "required");
        if (defer && !options_.forward_deferred_tools) {
            warn(path_string({}) + ": left out (defer_loading, and the options say not to forward deferred tools)");
            continue;
        }
        if (tools_written_++ == 0) {
            top_.key("tools");
            top_.start_array();
        }
        top_.start_object();
        top_.key("type");
        top_.string("function");
        top_.key("function");
        top_.start_object();
        top_.key("name");
        const std::string_view upstream_name = upstream_tool_name(name, shortened);
        if (shortened.empty()) {
            top_.raw_string(quoted(upstream_name));
        } else {
            top_.string(shortened);
        }
        if (description.data() != nullptr) {
            top_.key("description");
            top_.raw_string(quoted(description));
        }
        top_.key("parameters");
        // An empty schema (deferred tools) is not a schema strict servers accept.
        if (schema.data() == nullptr || is_empty_object(schema)) {
            top_.raw(R"({"type":"object","properties":{}})");
        } else {
            top_.raw(schema);
        }
        top_.end_object();
        top_.end_object();
        text_bytes_ += name.size() + description.size() + schema.size();
    }
    if (tools_written_ > 0) top_.end_array();
    return true;
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
        text_bytes_ += text.size();
    };
    if (type == od::json_type::string) {
        std::string_view text;
        if (!raw_string(value, {}, text)) return false;
        add(text);
    } else if (type == od::json_type::array) {
        od::array blocks;
        if (auto code = value.get_array().get(blocks)) return fail_json(code, {}, {});
        std::size_t index = 0;
        block_fields block;
        for (auto item : blocks) {
            od::value block_value;
            if (auto code = item.get(block_value)) return fail_json(code, {}, {});
            auto element = push(index++);
            block = block_fields{};
            if (!capture_block(block_value, block, true)) return false;
            if (block.type.data() == nullptr) return fail("type", "required");
            if (block.type != "text") return fail("type", R"(must be "text")");
            if (block.text.data() == nullptr) return fail("text", "required");
            add(block.text);
        }
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
    message_role role;
    bool system_turn = false;
    if (role_text == "user") {
        role = message_role::user;
    } else if (role_text == "assistant") {
        role = message_role::assistant;
    } else if (role_text == "system") {
        role = message_role::user;
        system_turn = true;
    } else {
        return fail("role", role_problem);
    }
    od::value content;
    if (auto code = message.find_field_unordered("content").get(content)) return fail_json(code, "content", {});
    od::json_type type;
    if (auto code = content.type().get(type)) return fail_json(code, "content", {});
    ++message_count_;

    if (system_turn) {
        // Claude Code puts system turns between user turns. In place, unless
        // the model's chat template rejects a system message after the first.
        const bool as_user = profile_->late_system_as_user && (wrote_non_system_ || pending_role_ != message_role::none);
        std::vector<piece>& collected = tool_pieces_;
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
            std::size_t block_index = 0;
            block_fields block;
            for (auto item : blocks) {
                od::value block_value;
                if (auto code = item.get(block_value)) return fail_json(code, {}, {});
                auto element = push(block_index++);
                block = block_fields{};
                if (!capture_block(block_value, block, true)) return false;
                if (block.type.data() == nullptr) return fail("type", "required");
                if (block.type != "text") {
                    dropped_blocks_.emplace_back(block.type);
                    continue;
                }
                if (block.text.data() == nullptr) return fail("text", "required");
                if (block.text.empty()) continue;
                if (!collected.empty()) collected.push_back({paragraph, piece_kind::plain});
                collected.push_back({block.text, piece_kind::escaped});
            }
        } else {
            return fail("content", "must be a string or an array of content blocks");
        }
        for (const auto& item : collected) text_bytes_ += item.text.size();
        if (collected.empty()) return true;
        if (as_user) {
            begin_turn(message_role::user);
            touch();
            const auto first = static_cast<std::uint32_t>(pieces_.size());
            pieces_.push_back({"System guidance:\n\n", piece_kind::plain});
            pieces_.insert(pieces_.end(), collected.begin(), collected.end());
            parts_.push_back({part_kind::text, first, static_cast<std::uint32_t>(pieces_.size() - first), 0, 0});
        } else {
            flush_pending();
            write_system_message(messages_, collected);
            wrote_message_ = true;
        }
        return true;
    }

    begin_turn(role);
    if (type == od::json_type::string) {
        auto content_guard = push("content");
        std::string_view text;
        if (!raw_string(content, {}, text)) return false;
        if (!text.empty()) add_text_part(text);
        quota_shaped_ = role == message_role::user && text == "quota";
        return true;
    }
    if (type != od::json_type::array) return fail("content", "must be a string or an array of content blocks");
    od::array blocks;
    if (auto code = content.get_array().get(blocks)) return fail_json(code, "content", {});
    return convert_blocks(blocks, role);
}

inline bool request_engine::convert_blocks(od::array blocks, message_role role) {
    auto guard = push("content");
    std::size_t index = 0;
    block_fields block;
    for (auto item : blocks) {
        od::value value;
        if (auto code = item.get(value)) return fail_json(code, {}, {});
        auto element = push(index++);
        block = block_fields{};
        tool_pieces_.clear();
        // A user block may add parts while it is read (a tool_result's images).
        if (role == message_role::user) touch();
        const std::size_t parts_before = parts_.size();
        const std::size_t pieces_before = pieces_.size();
        if (!capture_block(value, block, false)) return false;
        if (block.type.data() == nullptr) return fail("type", "required");
        if (role == message_role::assistant && parts_.size() > parts_before) {
            // Images read from a misplaced tool_result in an assistant turn
            // have no place in any message.
            parts_.resize(parts_before);
            pieces_.resize(pieces_before);
        }
        const bool ok = role == message_role::user ? user_block(block, parts_before, pieces_before)
                                                   : assistant_block(block);
        if (!ok) return false;
    }
    quota_shaped_ = role == message_role::user && index == 1 && block.type == "text" && block.text == "quota";
    return true;
}

inline bool request_engine::capture_block(od::value value, block_fields& block, bool nested) {
    od::object object;
    if (auto code = value.get_object().get(object)) return fail_json(code, {}, "must be an object");
    // Written out, not visit_fields(): this walk is hot (see its declaration).
    for (auto item : object) {
        od::field field;
        if (auto code = std::move(item).get(field)) return fail_json(code, {}, {});
        const char* key = field.key().raw();
        od::value& v = field.value();
        switch (key[0]) {
            case 't':
                if (key_is(key, "type")) {
                    if (auto code = v.get_string().get(block.type)) return fail_json(code, "type", "must be a string");
                } else if (key_is(key, "text")) {
                    if (!raw_string(v, "text", block.text)) return false;
                } else if (key_is(key, "thinking")) {
                    if (!raw_string(v, "thinking", block.thinking)) return false;
                } else if (key_is(key, "tool_use_id")) {
                    if (!raw_string(v, "tool_use_id", block.tool_use_id)) return false;
                } else if (key_is(key, "title")) {
                    if (!raw_string(v, "title", block.title)) return false;
                }
                break;
            case 'i':
                if (key_is(key, "id")) {
                    if (!raw_string(v, "id", block.id)) return false;
                } else if (key_is(key, "input")) {
                    od::object input;
                    if (auto code = v.get_object().get(input)) return fail_json(code, "input", "must be an object");
                    if (auto code = input.raw_json().get(block.input)) return fail_json(code, "input", {});
                    block.input = trim_json(block.input);
                    block.has_input = true;
                } else if (key_is(key, "is_error")) {
                    const std::string_view token = trim_json(v.raw_json_token());
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
    // Written out, not visit_fields(): this walk is hot (see its declaration).
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

// Text of a tool_result (or a document's content source) goes to
// tool_pieces_; images go to the current turn's parts, so they reach the
// model in the user message that follows the tool messages.
inline bool request_engine::capture_content(od::value value) {
    od::json_type type;
    if (auto code = value.type().get(type)) return fail_json(code, {}, {});
    auto add_text = [this](std::string_view text) {
        if (text.empty()) return;
        if (!tool_pieces_.empty()) tool_pieces_.push_back({paragraph, piece_kind::plain});
        tool_pieces_.push_back({text, piece_kind::escaped});
        text_bytes_ += text.size();
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
    std::size_t index = 0;
    block_fields inner;
    for (auto item : blocks) {
        od::value block_value;
        if (auto code = item.get(block_value)) return fail_json(code, {}, {});
        auto element = push(index++);
        inner = block_fields{};
        if (!capture_block(block_value, inner, true)) return false;
        if (inner.type.data() == nullptr) return fail("type", "required");
        if (inner.type == "text") {
            if (inner.text.data() == nullptr) return fail("text", "required");
            add_text(inner.text);
        } else if (inner.type == "image") {
            if (!image_part(inner, true)) return false;
        } else if (inner.type == "document" && inner.source_type == "text" && inner.source_data.data() != nullptr) {
            add_text(inner.source_data);
        } else {
            dropped_blocks_.emplace_back(inner.type);
        }
    }
    return true;
}

inline bool request_engine::image_part(const block_fields& block, bool into_tool_text) {
    if (block.source_not_object) return fail("source", "must be an object");
    if (block.source_not_object) return fail("source", "must be an object");
    if (!block.has_source) return fail("source", "required");
    auto guard = push("source");
    const std::string_view type = block.source_type;
    if (type.data() == nullptr) return fail("type", "required");
    const bool base64 = type == "base64";
    if (base64) {
        if (block.media_type.data() == nullptr) return fail("media_type", "required");
        if (block.source_data.data() == nullptr || block.source_data.empty()) return fail("data", "required");
    } else if (type == "url") {
        if (block.url.data() == nullptr || block.url.empty()) return fail("url", "required");
    } else if (type == "file") {
        if (block.file_id.data() == nullptr) return fail("file_id", "required");
    } else {
        return fail("type", R"(must be one of "base64", "url", "file")");
    }
    ++media_items_;
    std::string_view placeholder;
    if (!profile_->vision) {
        ++images_replaced_;
        placeholder = no_vision_placeholder;
    } else if (type == "file") {
        warn(path_string({}) + ": file ids cannot be sent upstream; replaced by a placeholder");
        placeholder = "[image omitted: an Anthropic file id cannot be sent upstream]";
    }
    if (!placeholder.empty()) {
        if (into_tool_text) {
            if (!tool_pieces_.empty()) tool_pieces_.push_back({paragraph, piece_kind::plain});
            tool_pieces_.push_back({placeholder, piece_kind::plain});
        } else {
            add_plain_part(placeholder);
        }
        return true;
    }
    const auto first = static_cast<std::uint32_t>(pieces_.size());
    if (base64) {
        pieces_.push_back({"data:", piece_kind::plain});
        pieces_.push_back({block.media_type, piece_kind::escaped});
        pieces_.push_back({";base64,", piece_kind::plain});
        pieces_.push_back({block.source_data, piece_kind::escaped});
    } else {
        pieces_.push_back({block.url, piece_kind::escaped});
    }
    parts_.push_back({part_kind::image_url, first, static_cast<std::uint32_t>(pieces_.size() - first), 0, 0});
    return true;
}

inline bool request_engine::document_part(const block_fields& block) {
    if (block.source_not_object) return fail("source", "must be an object");
    if (block.source_not_object) return fail("source", "must be an object");
    if (!block.has_source) return fail("source", "required");
    auto guard = push("source");
    const std::string_view type = block.source_type;
    if (type.data() == nullptr) return fail("type", "required");
    const auto first = static_cast<std::uint32_t>(pieces_.size());
    auto title_prefix = [&] {
        if (block.title.data() != nullptr && !block.title.empty()) {
            pieces_.push_back({block.title, piece_kind::escaped});
            pieces_.push_back({paragraph, piece_kind::plain});
        }
    };
    auto close_text_part = [&] {
        parts_.push_back({part_kind::text, first, static_cast<std::uint32_t>(pieces_.size() - first), 0, 0});
    };
    if (type == "text") {
        if (block.source_data.data() == nullptr) return fail("data", "required");
        title_prefix();
        pieces_.push_back({block.source_data, piece_kind::escaped});
        text_bytes_ += block.source_data.size();
        close_text_part();
    } else if (type == "content") {
        title_prefix();
        pieces_.insert(pieces_.end(), tool_pieces_.begin(), tool_pieces_.end());
        close_text_part();
    } else if (type == "base64") {
        if (block.media_type.data() == nullptr) return fail("media_type", "required");
        if (block.source_data.data() == nullptr || block.source_data.empty()) return fail("data", "required");
        ++media_items_;
        if (!profile_->file_parts) {
            warn(path_string({}) + ": this model takes no file parts; the document was replaced by a placeholder");
            add_plain_part("[document omitted: this model cannot read PDF files]");
            return true;
        }
        pieces_.push_back({"data:", piece_kind::plain});
        pieces_.push_back({block.media_type, piece_kind::escaped});
        pieces_.push_back({";base64,", piece_kind::plain});
        pieces_.push_back({block.source_data, piece_kind::escaped});
        const auto name_first = static_cast<std::uint32_t>(pieces_.size());
        if (block.title.data() != nullptr && !block.title.empty()) {
            pieces_.push_back({block.title, piece_kind::escaped});
        } else {
            pieces_.push_back({"document.pdf", piece_kind::plain});
        }
        parts_.push_back({part_kind::file, first, name_first - first, name_first, 1});
    } else if (type == "url") {
        if (block.url.data() == nullptr || block.url.empty()) return fail("url", "required");
        warn(path_string({}) + ": the upstream cannot fetch documents; sent as a link in the text");
        pieces_.push_back({"[document: ", piece_kind::plain});
        pieces_.push_back({block.url, piece_kind::escaped});
        pieces_.push_back({"]", piece_kind::plain});
        close_text_part();
    } else if (type == "file") {
        warn(path_string({}) + ": file ids cannot be sent upstream; replaced by a placeholder");
        add_plain_part("[document omitted: an Anthropic file id cannot be sent upstream]");
    } else {
        return fail("type", R"(must be one of "base64", "text", "content", "url", "file")");
    }
    return true;
}

inline bool request_engine::user_block(block_fields& block, std::size_t parts_before, std::size_t pieces_before) {
    const std::string_view type = block.type;
    if (type == "text") {
        if (block.text.data() == nullptr) return fail("text", "required");
        if (!block.text.empty()) add_text_part(block.text);
        return true;
    }
    if (type == "tool_result") {
        if (block.tool_use_id.data() == nullptr) return fail("tool_use_id", "required");
        // OpenAI wants the tool messages right after the assistant's
        // tool_calls: user content still held from earlier turns goes first,
        // this turn's text and images go after.
        if (turn_first_part_ > 0) {
            flush_user_parts(turn_first_part_);
            turn_first_part_ = 0;
        }
        write_tool_message(block);
        return true;
    }
    if (type == "document") return document_part(block);
    parts_.resize(parts_before);
    pieces_.resize(pieces_before);
    if (type == "image") return image_part(block, false);
    dropped_blocks_.emplace_back(type);
    return true;
}

inline bool request_engine::assistant_block(block_fields& block) {
    const std::string_view type = block.type;
    if (type == "text") {
        if (block.text.data() == nullptr) return fail("text", "required");
        if (!block.text.empty()) add_text_part(block.text);
    } else if (type == "tool_use") {
        if (block.id.data() == nullptr) return fail("id", "required");
        if (block.name.data() == nullptr) return fail("name", "required");
        touch();
        if (calls_used_ == calls_.size()) calls_.emplace_back();
        tool_call& call = calls_[calls_used_++];
        call.id = block.id;
        call.name = upstream_tool_name(block.name, call.short_name);
        call.input_json = block.has_input ? block.input : std::string_view("{}");
        text_bytes_ += call.input_json.size() + block.name.size();
    } else if (type == "thinking") {
        if (block.thinking.data() != nullptr && !block.thinking.empty()) {
            touch();
            if (!reasoning_.empty()) reasoning_.push_back({paragraph, piece_kind::plain});
            reasoning_.push_back({block.thinking, piece_kind::escaped});
            text_bytes_ += block.thinking.size();
        }
    } else if (type == "redacted_thinking") {
        ++redacted_dropped_;
    } else {
        dropped_blocks_.emplace_back(type);
    }
    return true;
}

// ---- collecting and writing messages ----

inline void request_engine::add_text_part(std::string_view escaped) {
    touch();
    const auto first = static_cast<std::uint32_t>(pieces_.size());
    pieces_.push_back({escaped, piece_kind::escaped});
    parts_.push_back({part_kind::text, first, 1, 0, 0});
    text_bytes_ += escaped.size();
}

inline void request_engine::add_plain_part(std::string_view plain) {
    touch();
    const auto first = static_cast<std::uint32_t>(pieces_.size());
    pieces_.push_back({plain, piece_kind::plain});
    parts_.push_back({part_kind::text, first, 1, 0, 0});
}

// A turn's role takes over the pending message only when the turn adds
// something (touch()), so an empty turn between two turns of the other role
// does not split them.
inline void request_engine::begin_turn(message_role role) {
    turn_role_ = role;
    turn_first_part_ = pending_role_ == role ? parts_.size() : 0;
}

inline void request_engine::touch() {
    if (pending_role_ == turn_role_) return;
    flush_pending();
    pending_role_ = turn_role_;
    turn_first_part_ = 0;
}

inline void request_engine::write_pieces(json_writer& writer, const piece* first, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        const piece& item = first[i];
        switch (item.kind) {
            case piece_kind::escaped: writer.raw_piece(item.text); break;
            case piece_kind::plain: writer.string_piece(item.text); break;
            case piece_kind::json_text:
                writer.raw_piece_fill(6 * item.text.size() + 16,
                                      [&](char* out) { return minify_into_string(item.text, out); });
                break;
        }
    }
}

inline void request_engine::write_joined_text(json_writer& writer, std::size_t part_begin, std::size_t part_end) {
    bool first = true;
    for (std::size_t i = part_begin; i < part_end; ++i) {
        const part& item = parts_[i];
        if (item.kind != part_kind::text) continue;
        if (!first) writer.raw_piece("\\n\\n");
        first = false;
        write_pieces(writer, pieces_.data() + item.first, item.count);
    }
}

inline void request_engine::write_system_message(json_writer& writer, const std::vector<piece>& pieces) {
    writer.start_object();
    writer.key("role");
    writer.string("system");
    writer.key("content");
    writer.begin_string();
    write_pieces(writer, pieces.data(), pieces.size());
    writer.end_string();
    writer.end_object();
}

inline void request_engine::flush_user_parts(std::size_t end) {
    if (end == 0) return;
    bool only_text = true;
    for (std::size_t i = 0; i < end; ++i) only_text = only_text && parts_[i].kind == part_kind::text;
    messages_.start_object();
    messages_.key("role");
    messages_.string("user");
    messages_.key("content");
    if (only_text) {
        messages_.begin_string();
        write_joined_text(messages_, 0, end);
        messages_.end_string();
    } else {
        messages_.start_array();
        for (std::size_t i = 0; i < end; ++i) {
            const part& item = parts_[i];
            messages_.start_object();
            messages_.key("type");
            switch (item.kind) {
                case part_kind::text:
                    messages_.string("text");
                    messages_.key("text");
                    messages_.begin_string();
                    write_pieces(messages_, pieces_.data() + item.first, item.count);
                    messages_.end_string();
                    break;
                case part_kind::image_url:
                    messages_.string("image_url");
                    messages_.key("image_url");
                    messages_.start_object();
                    messages_.key("url");
                    messages_.begin_string();
                    write_pieces(messages_, pieces_.data() + item.first, item.count);
                    messages_.end_string();
                    messages_.end_object();
                    break;
                case part_kind::file:
                    messages_.string("file");
                    messages_.key("file");
                    messages_.start_object();
                    messages_.key("filename");
                    messages_.begin_string();
                    write_pieces(messages_, pieces_.data() + item.name_first, item.name_count);
                    messages_.end_string();
                    messages_.key("file_data");
                    messages_.begin_string();
                    write_pieces(messages_, pieces_.data() + item.first, item.count);
                    messages_.end_string();
                    messages_.end_object();
                    break;
            }
            messages_.end_object();
        }
        messages_.end_array();
    }
    messages_.end_object();
    wrote_message_ = wrote_non_system_ = true;
    parts_.erase(parts_.begin(), parts_.begin() + static_cast<std::ptrdiff_t>(end));
    if (parts_.empty()) pieces_.clear();
}

inline void request_engine::write_tool_message(const block_fields& block) {
    messages_.start_object();
    messages_.key("role");
    messages_.string("tool");
    messages_.key("tool_call_id");
    messages_.raw_string(quoted(block.tool_use_id));
    messages_.key("content");
    messages_.begin_string();
    // OpenAI's tool message has no error flag; the model must still see it.
    if (block.is_error) messages_.string_piece("Error: ");
    write_pieces(messages_, tool_pieces_.data(), tool_pieces_.size());
    messages_.end_string();
    messages_.end_object();
    wrote_message_ = wrote_non_system_ = true;
}

inline void request_engine::flush_pending() {
    const message_role role = pending_role_;
    pending_role_ = message_role::none;
    turn_first_part_ = 0;
    if (role == message_role::user) {
        flush_user_parts(parts_.size());
    } else if (role == message_role::assistant) {
        const bool has_text = !parts_.empty();
        const bool has_calls = calls_used_ > 0;
        const bool has_reasoning = !reasoning_.empty() && profile_->replay != reasoning_replay::drop;
        if (has_text || has_calls) {
            if (!wrote_non_system_) {
                // Chat templates that insist on a user turn first reject a
                // conversation that opens with the assistant.
                messages_.start_object();
                messages_.key("role");
                messages_.string("user");
                messages_.key("content");
                messages_.string("(continued)");
                messages_.end_object();
                warn("messages: the conversation starts with an assistant turn; a user turn \"(continued)\" was put before it");
            }
            messages_.start_object();
            messages_.key("role");
            messages_.string("assistant");
            messages_.key("content");
            messages_.begin_string();
            if (has_reasoning && profile_->replay == reasoning_replay::think_tags) {
                messages_.raw_piece("<think>\\n");
                write_pieces(messages_, reasoning_.data(), reasoning_.size());
                messages_.raw_piece("\\n</think>\\n\\n");
            }
            write_joined_text(messages_, 0, parts_.size());
            messages_.end_string();
            if (has_reasoning && profile_->replay == reasoning_replay::reasoning_content) {
                messages_.key("reasoning_content");
                messages_.begin_string();
                write_pieces(messages_, reasoning_.data(), reasoning_.size());
                messages_.end_string();
            }
            if (has_calls) {
                messages_.key("tool_calls");
                messages_.start_array();
                for (std::size_t i = 0; i < calls_used_; ++i) {
                    const tool_call& call = calls_[i];
                    messages_.start_object();
                    messages_.key("id");
                    messages_.raw_string(quoted(call.id));
                    messages_.key("type");
                    messages_.string("function");
                    messages_.key("function");
                    messages_.start_object();
                    messages_.key("name");
                    if (call.short_name.empty()) {
                        messages_.raw_string(quoted(call.name));
                    } else {
                        messages_.string(call.short_name);
                    }
                    messages_.key("arguments");
                    messages_.begin_string();
                    const piece arguments{call.input_json, piece_kind::json_text};
                    write_pieces(messages_, &arguments, 1);
                    messages_.end_string();
                    messages_.end_object();
                    messages_.end_object();
                }
                messages_.end_array();
            }
            messages_.end_object();
            wrote_message_ = wrote_non_system_ = true;
        }
    }
    parts_.clear();
    pieces_.clear();
    reasoning_.clear();
    calls_used_ = 0;
}

// ---- the rest of the top level ----

inline bool request_engine::emit(std::string_view key) const {
    if (extra_ == nullptr) return true;
    for (const auto& member : extra_->members) {
        if (member.first == key) return false;
    }
    return true;
}

inline void request_engine::finish_top(converted_request& out) {
    const std::uint64_t estimate = (text_bytes_ + 3) / 4 + 4 * message_count_ + 1600 * media_items_;
    context_->estimated_input_tokens = estimate;

    if (has_max_tokens_) {
        std::uint64_t limit = max_tokens_;
        std::string reason;
        if (profile_->max_output_tokens && limit > *profile_->max_output_tokens) {
            limit = *profile_->max_output_tokens;
            reason = "the output cap";
        }
        if (profile_->context_window) {
            // vLLM-style servers reject prompt + max_tokens > context window.
            const std::uint64_t window = *profile_->context_window;
            const std::uint64_t room = window > estimate ? window - estimate : 0;
            const std::uint64_t floor = std::min<std::uint64_t>(limit, 1024);
            if (limit > room) {
                limit = std::max(room, floor);
                reason = "the context window minus the estimated input";
            }
        }
        if (limit != max_tokens_) {
            warn("max_tokens: " + std::to_string(max_tokens_) + " lowered to " + std::to_string(limit) + " (" +
                 reason + " of profile \"" + profile_->match + "\")");
        }
        out.max_tokens = limit;
        if (emit("max_tokens")) {
            top_.key("max_tokens");
            top_.uint64(limit);
        }
    }

    if (!dropped_tools_.empty()) {
        std::string names;
        for (const auto& name : dropped_tools_) {
            if (!names.empty()) names += ", ";
            names += name;
        }
        warn("tools: server tools left out (no upstream equivalent): " + names);
    }

    if (has_tool_choice_) {
        const std::string_view type = tool_choice_type_;
        if (tools_written_ == 0) {
            if (type != "auto" && type != "none") warn("tool_choice: left out (no tools are sent upstream)");
        } else if (type == "auto") {
            if (profile_->tool_choice_auto && emit("tool_choice")) {
                top_.key("tool_choice");
                top_.string("auto");
            }
        } else if (type == "none") {
            if (emit("tool_choice")) {
                top_.key("tool_choice");
                top_.string("none");
            }
        } else {
            const std::string wanted = type == "tool" ? unescape_json_string(tool_choice_name_) : std::string();
            const bool dropped = type == "tool" && std::find(dropped_tools_.begin(), dropped_tools_.end(), wanted) !=
                                                       dropped_tools_.end();
            if (dropped) {
                warn("tool_choice: left out (it forces \"" + wanted + "\", a server tool that was left out)");
            } else if (!profile_->tool_choice_required) {
                warn("tool_choice: \"" + std::string(type) + "\" not supported by profile \"" + profile_->match +
                     "\"; sent as \"auto\"");
                if (profile_->tool_choice_auto && emit("tool_choice")) {
                    top_.key("tool_choice");
                    top_.string("auto");
                }
            } else if (emit("tool_choice")) {
                top_.key("tool_choice");
                if (type == "any") {
                    top_.string("required");
                } else {
                    top_.start_object();
                    top_.key("type");
                    top_.string("function");
                    top_.key("function");
                    top_.start_object();
                    top_.key("name");
                    std::string shortened;
                    const std::string_view name = upstream_tool_name(tool_choice_name_, shortened);
                    if (shortened.empty()) {
                        top_.raw_string(quoted(name));
                    } else {
                        top_.string(shortened);
                    }
                    top_.end_object();
                    top_.end_object();
                }
            }
        }
        if (disable_parallel_ && tools_written_ > 0) {
            if (profile_->parallel_tool_calls) {
                if (emit("parallel_tool_calls")) {
                    top_.key("parallel_tool_calls");
                    top_.boolean(false);
                }
            } else {
                warn("tool_choice.disable_parallel_tool_use: not supported by profile \"" + profile_->match +
                     "\"; left out");
            }
        }
    }

    // Reasoning controls.
    std::string_view effort;
    if (effort_.data() != nullptr) {
        effort = normalize_effort(effort_);
        if (effort.empty()) warn("output_config.effort: unknown value \"" + std::string(effort_) + "\"; left out");
    }
    if (effort.empty() && thinking_type_ == "enabled") effort = effort_for_budget(thinking_budget_);
    const bool has_thinking = thinking_type_.data() != nullptr;
    const bool thinking_off = thinking_type_ == "disabled";
    bool template_kwargs_written = false;
    switch (profile_->reasoning) {
        case reasoning_control::reasoning_effort:
            if (!thinking_off && !effort.empty() && emit("reasoning_effort")) {
                top_.key("reasoning_effort");
                top_.string(effort);
            }
            break;
        case reasoning_control::chat_template_kwargs:
            if (has_thinking) {
                std::string kwargs = "{";
                const auto& keys = extra_ != nullptr ? extra_->template_kwargs_keys : std::vector<std::string>{};
                if (std::find(keys.begin(), keys.end(), profile_->thinking_kwarg) == keys.end()) {
                    append_json_string(kwargs, profile_->thinking_kwarg);
                    kwargs += thinking_off ? ":false" : ":true";
                }
                if (extra_ != nullptr && !extra_->template_kwargs_inner.empty()) {
                    if (kwargs.size() > 1) kwargs += ',';
                    kwargs += extra_->template_kwargs_inner;
                }
                kwargs += '}';
                top_.key("chat_template_kwargs");
                top_.raw(kwargs);
                template_kwargs_written = true;
            }
            if (effort_.data() != nullptr)
                warn("output_config.effort: no upstream equivalent in profile \"" + profile_->match + "\"; left out");
            break;
        case reasoning_control::none:
            if (has_thinking || effort_.data() != nullptr)
                warn("thinking/output_config.effort: profile \"" + profile_->match +
                     "\" has no reasoning control; left out");
            break;
    }

    if (stream_ && emit("stream")) {
        top_.key("stream");
        top_.boolean(true);
        if (profile_->stream_usage && emit("stream_options")) {
            top_.key("stream_options");
            top_.raw(R"({"include_usage":true})");
        }
    }

    if (extra_ != nullptr) {
        for (const auto& member : extra_->members) {
            if (template_kwargs_written && member.first == "chat_template_kwargs") continue;
            top_.key(member.first);
            top_.raw(member.second);
        }
    }
    top_.end_object();

    if (!ignored_fields_.empty()) {
        std::string names;
        for (const auto& name : ignored_fields_) {
            if (!names.empty()) names += ", ";
            names += name;
        }
        warn("ignored (no upstream equivalent): " + names);
    }
    if (!dropped_blocks_.empty()) {
        std::sort(dropped_blocks_.begin(), dropped_blocks_.end());
        std::string names;
        for (std::size_t i = 0; i < dropped_blocks_.size();) {
            std::size_t j = i;
            while (j < dropped_blocks_.size() && dropped_blocks_[j] == dropped_blocks_[i]) ++j;
            if (!names.empty()) names += ", ";
            names += dropped_blocks_[i] + " x" + std::to_string(j - i);
            i = j;
        }
        warn("content blocks left out (no upstream equivalent): " + names);
    }
    if (redacted_dropped_ > 0)
        warn("redacted_thinking: " + std::to_string(redacted_dropped_) +
             " block(s) left out (encrypted for Anthropic models only)");
    if (images_replaced_ > 0)
        warn("images: " + std::to_string(images_replaced_) + " replaced by a text placeholder (profile \"" +
             profile_->match + "\" has no vision)");
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
