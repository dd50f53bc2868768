// SPDX-License-Identifier: MIT
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "msgbridge/detail/json_writer.hpp"
#include "msgbridge/error.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// Writes Anthropic SSE events exactly as api.anthropic.com frames them:
// `event: <type>\ndata: <json>\n\n`, with the JSON shapes of the SDK's
// RawMessageStreamEvent types. The writer's buffer is reused, so writing an
// event allocates only if `out` must grow.
class event_writer {
public:
    void message_start(std::string& out, std::string_view id, std::string_view model, std::uint64_t input_tokens) {
        begin();
        w_.key("type");
        w_.string("message_start");
        w_.key("message");
        w_.start_object();
        w_.key("id");
        w_.string(id);
        w_.key("type");
        w_.string("message");
        w_.key("role");
        w_.string("assistant");
        w_.key("model");
        w_.string(model);
        w_.key("content");
        w_.start_array();
        w_.end_array();
        w_.key("stop_reason");
        w_.null();
        w_.key("stop_sequence");
        w_.null();
        w_.key("usage");
        usage(input_tokens, 0, 0);
        w_.end_object();
        w_.end_object();
        end(out, "message_start");
    }

    void text_start(std::string& out, std::uint64_t index) {
        block_start_head(index, "text");
        w_.key("text");
        w_.string("");
        block_start_tail(out);
    }

    void thinking_start(std::string& out, std::uint64_t index) {
        block_start_head(index, "thinking");
        w_.key("thinking");
        w_.string("");
        w_.key("signature");
        w_.string("");
        block_start_tail(out);
    }

    void tool_use_start(std::string& out, std::uint64_t index, std::string_view id, std::string_view name) {
        block_start_head(index, "tool_use");
        w_.key("id");
        w_.string(id);
        w_.key("name");
        w_.string(name);
        w_.key("input");
        w_.start_object();
        w_.end_object();
        block_start_tail(out);
    }

    // A delta whose one string field is `head` followed by `text`; `head`
    // is usually empty (it carries held-back leading whitespace). Deltas
    // and stops are most of a stream, so they are written straight into
    // `out` from fixed templates: only the text needs escaping.
    static void delta(std::string& out, std::uint64_t index, std::string_view delta_type, std::string_view field,
                      std::string_view head, std::string_view text) {
        // The fixed part is assembled on the stack and appended once.
        static constexpr std::string_view start = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":";
        static constexpr std::string_view middle = ",\"delta\":{\"type\":\"";
        char prefix[256];  // start (~75) + 20 digits + middle + two names of at most 24
        char* p = prefix;
        auto put = [&p](std::string_view piece) {
            std::memcpy(p, piece.data(), piece.size());
            p += piece.size();
        };
        put(start);
        p = std::to_chars(p, p + 20, index).ptr;
        put(middle);
        put(delta_type.substr(0, 24));
        put("\",\"");
        put(field.substr(0, 24));
        put("\":\"");
        out.append(prefix, static_cast<std::size_t>(p - prefix));
        append_escaped(out, head);
        append_escaped(out, text);
        out += "\"}}\n\n";
    }

    static void block_stop(std::string& out, std::uint64_t index) {
        out += "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":";
        append_number(out, index);
        out += "}\n\n";
    }

    void message_delta(std::string& out, std::string_view stop_reason, std::string_view stop_sequence,
                       std::uint64_t input_tokens, std::uint64_t cached_tokens, std::uint64_t output_tokens) {
        begin();
        w_.key("type");
        w_.string("message_delta");
        w_.key("delta");
        w_.start_object();
        w_.key("stop_reason");
        w_.string(stop_reason);
        w_.key("stop_sequence");
        if (stop_sequence.empty()) w_.null();
        else w_.string(stop_sequence);
        w_.end_object();
        w_.key("usage");
        usage(input_tokens, cached_tokens, output_tokens);
        w_.end_object();
        end(out, "message_delta");
    }

    static void message_stop(std::string& out) {
        out += "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    }

    static void append_escaped(std::string& out, std::string_view text) { append_json_escaped(out, text); }

    static void append_number(std::string& out, std::uint64_t value) {
        char digits[20];
        const auto result = std::to_chars(digits, digits + sizeof digits, value);
        out.append(digits, static_cast<std::size_t>(result.ptr - digits));
    }

private:
    void begin() {
        w_.reset();
        w_.start_object();
    }
    void end(std::string& out, std::string_view type) {
        const std::string_view json = w_.view();
        out += "event: ";
        out += type;
        out += "\ndata: ";
        out += json;
        out += "\n\n";
    }
    void usage(std::uint64_t input_tokens, std::uint64_t cached_tokens, std::uint64_t output_tokens) {
        w_.start_object();
        w_.key("input_tokens");
        w_.uint64(input_tokens);
        w_.key("cache_creation_input_tokens");
        w_.uint64(0);
        w_.key("cache_read_input_tokens");
        w_.uint64(cached_tokens);
        w_.key("output_tokens");
        w_.uint64(output_tokens);
        w_.end_object();
    }
    void block_start_head(std::uint64_t index, std::string_view type) {
        begin();
        w_.key("type");
        w_.string("content_block_start");
        w_.key("index");
        w_.uint64(index);
        w_.key("content_block");
        w_.start_object();
        w_.key("type");
        w_.string(type);
    }
    void block_start_tail(std::string& out) {
        w_.end_object();
        w_.end_object();
        end(out, "content_block_start");
    }

    json_writer w_;
};

// Whether the arguments streamed so far for one tool call form a complete
// JSON value. Lets a tool's block close when the next tool starts without
// risking a late fragment for a closed block (docs/streaming.md).
class json_end_tracker {
public:
    void feed(std::string_view bytes) noexcept {
        for (char c : bytes) {
            if (complete_) return;
            if (in_string_) {
                if (escape_) escape_ = false;
                else if (c == '\\') escape_ = true;
                else if (c == '"') {
                    in_string_ = false;
                    if (depth_ == 0) complete_ = true;
                }
            } else if (c == '"') {
                in_string_ = true;
            } else if (c == '{' || c == '[') {
                ++depth_;
            } else if (c == '}' || c == ']') {
                if (--depth_ <= 0) complete_ = true;
            }
        }
    }
    [[nodiscard]] bool complete() const noexcept { return complete_; }

private:
    int depth_ = 0;
    bool in_string_ = false;
    bool escape_ = false;
    bool complete_ = false;
};

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
