// Test helper (stream suites): rebuilds the final Anthropic message from
// our SSE output the way @anthropic-ai/sdk's MessageStream does
// (lib/MessageStream.js, #accumulateMessage), but strict: where the SDK
// silently ignores an event that does not fit (a delta for a block of
// another type, a wrong index), this accumulator reports a violation. It
// also checks the exact Anthropic framing and event skeletons.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>
#include <vector>

#include "response_json_compare.hpp"

namespace msgbridge_test {

struct accumulated_stream {
    std::string violation;     // empty: every rule held
    bool complete = false;     // ended with message_stop
    bool errored = false;      // ended with an error event
    std::string error_type;
    std::string error_message;
    std::string message_json;  // the rebuilt message (when complete)
    std::vector<std::string> events;  // event types in order
    [[nodiscard]] bool legal() const { return violation.empty() && (complete || errored); }
};

class anthropic_stream_accumulator {
public:
    // Tool input that is not a JSON object is a violation unless allowed:
    // when the upstream itself sent broken arguments (mutation tests), we
    // pass its bytes through unchanged and the client's parser decides.
    explicit anthropic_stream_accumulator(bool allow_invalid_tool_input = false)
        : allow_invalid_tool_input_(allow_invalid_tool_input) {}

    accumulated_stream run(std::string_view sse) {
        std::size_t position = 0;
        while (position < sse.size() && result_.violation.empty()) {
            const std::size_t end = sse.find("\n\n", position);
            if (end == std::string_view::npos) return fail("unterminated event at byte " + std::to_string(position));
            on_frame(sse.substr(position, end - position));
            position = end + 2;
        }
        if (result_.violation.empty() && !result_.complete && !result_.errored) {
            fail("stream ended without message_stop or error");
        }
        if (result_.complete && result_.violation.empty()) {
            rapidjson::StringBuffer buffer;
            rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
            message_.Accept(writer);
            result_.message_json = buffer.GetString();
        }
        return result_;
    }

private:
    using value = rapidjson::Value;

    accumulated_stream fail(std::string why) {
        if (result_.violation.empty()) result_.violation = std::move(why);
        return result_;
    }

    void on_frame(std::string_view frame) {
        if (finished_) {
            fail("event after the end of the stream: " + std::string(frame));
            return;
        }
        const std::size_t newline = frame.find('\n');
        if (frame.substr(0, 7) != "event: " || newline == std::string_view::npos ||
            frame.substr(newline + 1, 6) != "data: " || frame.find('\n', newline + 1) != std::string_view::npos) {
            fail("bad framing: " + std::string(frame));
            return;
        }
        const std::string type(frame.substr(7, newline - 7));
        const std::string_view data = frame.substr(newline + 7);
        rapidjson::Document event(&message_.GetAllocator());
        parse_json(event, data);
        if (event.HasParseError() || !event.IsObject() || !event.HasMember("type") || !event["type"].IsString() ||
            type != event["type"].GetString()) {
            fail("data is not a JSON object whose type is the event name: " + std::string(frame));
            return;
        }
        result_.events.push_back(type);
        if (type == "message_start") return message_start(event);
        if (type == "error") return error(event);
        if (!started_) return (void)fail("first event is " + type + ", not message_start");
        if (type == "ping") return;
        if (type == "content_block_start") return block_start(event);
        if (type == "content_block_delta") return block_delta(event);
        if (type == "content_block_stop") return block_stop(event);
        if (type == "message_delta") return message_delta(event);
        if (type == "message_stop") return message_stop();
        fail("unknown event type " + type);
    }

    static bool is_string(const value& object, const char* name) {
        return object.HasMember(name) && object[name].IsString();
    }
    static bool is_empty_string(const value& object, const char* name) {
        return is_string(object, name) && object[name].GetStringLength() == 0;
    }

    void message_start(rapidjson::Document& event) {
        if (started_) return (void)fail("second message_start");
        if (!event.HasMember("message") || !event["message"].IsObject()) return (void)fail("message_start without message");
        value& message = event["message"];
        if (!is_string(message, "id") || std::string_view(message["id"].GetString()).substr(0, 4) != "msg_")
            return (void)fail("message_start: id must be msg_…");
        if (!is_string(message, "type") || std::string_view(message["type"].GetString()) != "message")
            return (void)fail("message_start: type must be message");
        if (!is_string(message, "role") || std::string_view(message["role"].GetString()) != "assistant")
            return (void)fail("message_start: role must be assistant");
        if (!is_string(message, "model")) return (void)fail("message_start: model must be a string");
        if (!message.HasMember("content") || !message["content"].IsArray() || !message["content"].Empty())
            return (void)fail("message_start: content must be []");
        if (!message.HasMember("stop_reason") || !message["stop_reason"].IsNull() ||
            !message.HasMember("stop_sequence") || !message["stop_sequence"].IsNull())
            return (void)fail("message_start: stop_reason and stop_sequence must be null");
        if (!message.HasMember("usage") || !message["usage"].IsObject() ||
            !message["usage"].HasMember("input_tokens") || !message["usage"]["input_tokens"].IsUint64() ||
            message["usage"]["input_tokens"].GetUint64() == 0 || !message["usage"].HasMember("output_tokens") ||
            !message["usage"]["output_tokens"].IsUint64())
            return (void)fail("message_start: usage needs a non-zero input_tokens and output_tokens");
        message_.CopyFrom(message, message_.GetAllocator());
        started_ = true;
    }

    bool check_open(const rapidjson::Document& event, const char* what) {
        if (!event.HasMember("index") || !event["index"].IsUint64()) return fail(std::string(what) + " without index"), false;
        if (!open_) return fail(std::string(what) + " with no open block"), false;
        if (event["index"].GetUint64() != message_["content"].Size() - 1)
            return fail(std::string(what) + " for index " + std::to_string(event["index"].GetUint64()) +
                        ", but the open block is " + std::to_string(message_["content"].Size() - 1)),
                   false;
        return true;
    }

    void block_start(rapidjson::Document& event) {
        if (delta_seen_) return (void)fail("content_block_start after message_delta");
        if (open_) return (void)fail("content_block_start while a block is open");
        if (!event.HasMember("index") || !event["index"].IsUint64() ||
            event["index"].GetUint64() != message_["content"].Size())
            return (void)fail("content_block_start index must be " + std::to_string(message_["content"].Size()));
        if (!event.HasMember("content_block") || !event["content_block"].IsObject())
            return (void)fail("content_block_start without content_block");
        value& block = event["content_block"];
        const std::string type = is_string(block, "type") ? block["type"].GetString() : "";
        if (type == "text") {
            if (block.MemberCount() != 2 || !is_empty_string(block, "text"))
                return (void)fail("text block must start as {type, text: \"\"}");
        } else if (type == "thinking") {
            if (block.MemberCount() != 3 || !is_empty_string(block, "thinking") || !is_empty_string(block, "signature"))
                return (void)fail("thinking block must start as {type, thinking: \"\", signature: \"\"}");
        } else if (type == "tool_use") {
            if (block.MemberCount() != 4 || !is_string(block, "id") || block["id"].GetStringLength() == 0 ||
                !is_string(block, "name") || !block.HasMember("input") || !block["input"].IsObject() ||
                !block["input"].ObjectEmpty())
                return (void)fail("tool_use block must start as {type, id, name, input: {}}");
        } else {
            return (void)fail("unknown block type " + type);
        }
        value copy;
        copy.CopyFrom(block, message_.GetAllocator());
        message_["content"].PushBack(copy, message_.GetAllocator());
        open_ = true;
        block_type_ = type;
        json_buffer_.clear();
        signed_ = false;
    }

    void append(value& block, const char* field, const value& piece) {
        std::string joined = block[field].GetString();
        joined += piece.GetString();
        block[field].SetString(joined.c_str(), static_cast<rapidjson::SizeType>(joined.size()), message_.GetAllocator());
    }

    void block_delta(rapidjson::Document& event) {
        if (!check_open(event, "content_block_delta")) return;
        if (!event.HasMember("delta") || !event["delta"].IsObject() || !is_string(event["delta"], "type"))
            return (void)fail("content_block_delta without delta.type");
        const value& delta = event["delta"];
        const std::string type = delta["type"].GetString();
        value& block = message_["content"][message_["content"].Size() - 1];
        if (delta.MemberCount() != 2) return (void)fail(type + " must have exactly two members");
        if (type == "text_delta" && block_type_ == "text" && is_string(delta, "text")) {
            append(block, "text", delta["text"]);
        } else if (type == "thinking_delta" && block_type_ == "thinking" && is_string(delta, "thinking")) {
            if (signed_) return (void)fail("thinking_delta after signature_delta");
            append(block, "thinking", delta["thinking"]);
        } else if (type == "signature_delta" && block_type_ == "thinking" && is_string(delta, "signature")) {
            if (delta["signature"].GetStringLength() == 0) return (void)fail("empty signature");
            block["signature"].SetString(delta["signature"].GetString(), delta["signature"].GetStringLength(),
                                         message_.GetAllocator());
            signed_ = true;
        } else if (type == "input_json_delta" && block_type_ == "tool_use" && is_string(delta, "partial_json")) {
            json_buffer_ += delta["partial_json"].GetString();
        } else {
            return (void)fail(type + " does not fit a " + block_type_ + " block");
        }
    }

    void block_stop(rapidjson::Document& event) {
        if (!check_open(event, "content_block_stop")) return;
        if (event.MemberCount() != 2) return (void)fail("content_block_stop must be {type, index}");
        value& block = message_["content"][message_["content"].Size() - 1];
        if (block_type_ == "thinking" && !signed_) return (void)fail("thinking block closed without a signature");
        if (block_type_ == "text") {
            const std::string_view text = block["text"].GetString();
            if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return (void)fail("blank text block");
        }
        if (block_type_ == "tool_use" && !json_buffer_.empty()) {
            rapidjson::Document input(&message_.GetAllocator());
            parse_json(input, json_buffer_);
            // A stream that then fails may close a tool block mid-arguments
            // (the client discards that message); a completed one may not.
            if (input.HasParseError() || !input.IsObject()) {
                if (invalid_input_.empty()) invalid_input_ = "tool input is not a JSON object: " + json_buffer_;
            } else {
                block["input"].CopyFrom(input, message_.GetAllocator());
            }
        }
        open_ = false;
    }

    void message_delta(rapidjson::Document& event) {
        if (open_) return (void)fail("message_delta while a block is open");
        if (delta_seen_) return (void)fail("second message_delta");
        if (!event.HasMember("delta") || !event["delta"].IsObject() || !event.HasMember("usage") ||
            !event["usage"].IsObject())
            return (void)fail("message_delta needs delta and usage");
        const value& delta = event["delta"];
        static const char* const reasons[] = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"};
        bool known = false;
        if (is_string(delta, "stop_reason")) {
            for (const char* reason : reasons) known = known || std::string_view(delta["stop_reason"].GetString()) == reason;
        }
        if (!known) return (void)fail("message_delta: unknown stop_reason");
        if (!delta.HasMember("stop_sequence") || !(delta["stop_sequence"].IsNull() || delta["stop_sequence"].IsString()))
            return (void)fail("message_delta: stop_sequence must be null or a string");
        const value& usage = event["usage"];
        if (!usage.HasMember("output_tokens") || !usage["output_tokens"].IsUint64())
            return (void)fail("message_delta: usage.output_tokens required");
        message_["stop_reason"].CopyFrom(delta["stop_reason"], message_.GetAllocator());
        message_["stop_sequence"].CopyFrom(delta["stop_sequence"], message_.GetAllocator());
        // As the SDK: output_tokens always, the other counters when present.
        for (const char* counter : {"output_tokens", "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}) {
            if (usage.HasMember(counter) && !usage[counter].IsNull()) {
                if (!usage[counter].IsUint64()) return (void)fail(std::string("usage.") + counter + " must be a count");
                value& target = message_["usage"];
                if (target.HasMember(counter)) target[counter].SetUint64(usage[counter].GetUint64());
                else target.AddMember(value(counter, message_.GetAllocator()), value(usage[counter].GetUint64()), message_.GetAllocator());
            }
        }
        delta_seen_ = true;
    }

    void message_stop() {
        if (!delta_seen_) return (void)fail("message_stop before message_delta");
        if (!invalid_input_.empty() && !allow_invalid_tool_input_) return (void)fail(invalid_input_);
        result_.complete = true;
        finished_ = true;
    }

    void error(rapidjson::Document& event) {
        if (open_) return (void)fail("error event while a block is open");
        if (!event.HasMember("error") || !event["error"].IsObject() || !is_string(event["error"], "type") ||
            !is_string(event["error"], "message") || event.MemberCount() != 2)
            return (void)fail("error event must be {type: error, error: {type, message}}");
        result_.errored = true;
        result_.error_type = event["error"]["type"].GetString();
        result_.error_message = event["error"]["message"].GetString();
        finished_ = true;
    }

    rapidjson::Document message_;
    accumulated_stream result_;
    std::string block_type_;
    std::string json_buffer_;
    std::string invalid_input_;
    bool started_ = false;
    bool open_ = false;
    bool signed_ = false;
    bool delta_seen_ = false;
    bool finished_ = false;
    bool allow_invalid_tool_input_ = false;
};

inline accumulated_stream accumulate_anthropic_stream(std::string_view sse, bool allow_invalid_tool_input = false) {
    return anthropic_stream_accumulator(allow_invalid_tool_input).run(sse);
}

}  // namespace msgbridge_test
