// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "msgbridge/detail/json_escape.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// The one place RapidJSON's names appear. A SAX writer over a reusable
// buffer: converters emit JSON in document order, so no DOM is ever built.
// Writer<StringBuffer> (default template arguments) is the instantiation
// RapidJSON speeds up with SSE2 when RAPIDJSON_SSE2 is defined.
class json_writer {
public:
    json_writer() : writer_(buffer_) {}
    json_writer(const json_writer&) = delete;
    json_writer& operator=(const json_writer&) = delete;

    /// Forgets the output but keeps the buffer's capacity for the next document.
    void reset() {
        buffer_.Clear();
        writer_.Reset(buffer_);
    }

    void start_object() { writer_.StartObject(); }
    void end_object() { writer_.EndObject(); }
    void start_array() { writer_.StartArray(); }
    void end_array() { writer_.EndArray(); }

    void key(std::string_view name) { writer_.Key(name.data(), size_of(name)); }
    void string(std::string_view text) { writer_.String(text.data(), size_of(text)); }
    void boolean(bool value) { writer_.Bool(value); }
    void null() { writer_.Null(); }
    void int64(std::int64_t value) { writer_.Int64(value); }
    void uint64(std::uint64_t value) { writer_.Uint64(value); }
    void number(double value) { writer_.Double(value); }

    /// Copies an already valid, already escaped JSON value (a schema, a tool
    /// input, a number token) as bytes: no decode, no re-encode.
    void raw(std::string_view json) {
        // RawValue with no bytes writes the separator and updates the writer's
        // state; the bytes themselves go in with one memcpy instead of the
        // byte-at-a-time copy RawValue would do.
        writer_.RawValue("", 0, rapidjson::kObjectType);
        append_bytes(json);
    }

    /// Copies the *contents* of a JSON string token that is already escaped
    /// (as simdjson's raw_json_token gives it, quotes included).
    void raw_string(std::string_view quoted_json_string) {
        writer_.RawValue("", 0, rapidjson::kStringType);
        append_bytes(quoted_json_string);
    }

    /// Key whose name is already a valid quoted JSON string.
    void raw_key(std::string_view quoted_json_string) {
        writer_.RawValue("", 0, rapidjson::kStringType);
        append_bytes(quoted_json_string);
        // RapidJSON tracks key/value alternation by counting values; the raw
        // key counted as one, so the next value gets ':' as it should.
    }

    /// Appends text to an open JSON string started with begin_string();
    /// lets a converter build one string value from several pieces
    /// (joined text blocks, `<think>` + text) without a temporary.
    void begin_string() {
        writer_.RawValue("", 0, rapidjson::kStringType);
        buffer_.Put('"');
    }
    void string_piece(std::string_view text);
    /// Appends bytes that are already escaped (the inside of a JSON string
    /// token from the input) to an open string.
    void raw_piece(std::string_view escaped) { append_bytes(escaped); }
    /// Lets `fill(char* out) -> std::size_t` write at most `max_bytes` into
    /// the buffer directly (e.g. JSON text escaped into an open string).
    template <class Fill>
    void raw_piece_fill(std::size_t max_bytes, Fill&& fill) {
        char* out = buffer_.Push(max_bytes);
        const std::size_t used = fill(out);
        buffer_.Pop(max_bytes - used);
    }
    void end_string() { buffer_.Put('"'); }

    [[nodiscard]] std::string_view view() const noexcept {
        return {buffer_.GetString(), buffer_.GetSize()};
    }
    [[nodiscard]] bool complete() const { return writer_.IsComplete(); }

private:
    static rapidjson::SizeType size_of(std::string_view text) {
        return static_cast<rapidjson::SizeType>(text.size());
    }
    void append_bytes(std::string_view bytes) {
        if (!bytes.empty()) std::memcpy(buffer_.Push(bytes.size()), bytes.data(), bytes.size());
    }

    rapidjson::StringBuffer buffer_;
    rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

// RapidJSON's writer cannot write part of a string; the shared escaper
// follows its rules, so a string built in pieces reads like one it wrote.
inline void json_writer::string_piece(std::string_view text) {
    escape_json(text, [this](const char* data, std::size_t size) { append_bytes({data, size}); });
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
