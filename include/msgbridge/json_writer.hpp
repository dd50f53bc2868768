// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "msgbridge/detail/json_writer.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// Writes one JSON document in order, without a DOM: the small bodies a
/// server makes around the converters (health, model lists, token counts).
/// Strings are escaped as JSON requires. Calls must follow the document's
/// shape (a key before each member value); complete() says whether they did.
/// Holds a buffer that points into itself: construct it in place.
class json_writer {
public:
    /// Forgets the output but keeps the buffer's capacity for the next document.
    void reset() { impl_.reset(); }

    void start_object() { impl_.start_object(); }
    void end_object() { impl_.end_object(); }
    void start_array() { impl_.start_array(); }
    void end_array() { impl_.end_array(); }

    void key(std::string_view name) { impl_.key(name); }
    void string(std::string_view text) { impl_.string(text); }
    void boolean(bool value) { impl_.boolean(value); }
    void null() { impl_.null(); }
    void int64(std::int64_t value) { impl_.int64(value); }
    void uint64(std::uint64_t value) { impl_.uint64(value); }
    void number(double value) { impl_.number(value); }

    /// Writes `json` as the next value, byte for byte: it must already be one
    /// valid JSON value (e.g. what msgbridge::to_json returned).
    void raw(std::string_view json) { impl_.raw(json); }

    /// The document so far; valid until the next call that writes or resets.
    [[nodiscard]] std::string_view view() const noexcept { return impl_.view(); }
    /// A copy of the document, for a caller that keeps it.
    [[nodiscard]] std::string str() const { return std::string(impl_.view()); }
    /// True once the top-level value is closed.
    [[nodiscard]] bool complete() const { return impl_.complete(); }

private:
    detail::json_writer impl_;
};

MSGBRIDGE_END_NAMESPACE
