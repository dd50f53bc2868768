// SPDX-License-Identifier: MIT
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "msgbridge/detail/json_escape.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// Anthropic's error types, spelled as on the wire (see docs/errors.md).
enum class error_type {
    invalid_request_error,
    authentication_error,
    permission_error,
    not_found_error,
    request_too_large,
    rate_limit_error,
    api_error,
    overloaded_error,
};

/// The wire spelling of `type`, e.g. "invalid_request_error".
[[nodiscard]] constexpr std::string_view to_string(error_type type) noexcept {
    switch (type) {
        case error_type::invalid_request_error: return "invalid_request_error";
        case error_type::authentication_error: return "authentication_error";
        case error_type::permission_error: return "permission_error";
        case error_type::not_found_error: return "not_found_error";
        case error_type::request_too_large: return "request_too_large";
        case error_type::rate_limit_error: return "rate_limit_error";
        case error_type::api_error: return "api_error";
        case error_type::overloaded_error: return "overloaded_error";
    }
    return "api_error";
}

/// The HTTP status Anthropic answers with for `type`.
[[nodiscard]] constexpr int http_status_of(error_type type) noexcept {
    switch (type) {
        case error_type::invalid_request_error: return 400;
        case error_type::authentication_error: return 401;
        case error_type::permission_error: return 403;
        case error_type::not_found_error: return 404;
        case error_type::request_too_large: return 413;
        case error_type::rate_limit_error: return 429;
        case error_type::api_error: return 500;
        case error_type::overloaded_error: return 529;
    }
    return 500;
}

/// The Anthropic error type for an HTTP status an upstream answered with.
[[nodiscard]] constexpr error_type error_type_for_status(int status) noexcept {
    switch (status) {
        case 400: case 422: return error_type::invalid_request_error;
        case 401: return error_type::authentication_error;
        case 403: return error_type::permission_error;
        case 404: return error_type::not_found_error;
        case 413: return error_type::request_too_large;
        case 429: return error_type::rate_limit_error;
        case 503: case 529: return error_type::overloaded_error;
        default: break;
    }
    if (status >= 400 && status < 500) return error_type::invalid_request_error;
    return error_type::api_error;
}

/// An error as Anthropic reports it. `message` names the offending field
/// with its path, e.g. "messages.3.content.1.tool_use_id: required".
struct error {
    error_type type = error_type::api_error;
    int http_status = 500;
    std::string message;
};

/// An error of `type` with the status Anthropic uses for it.
[[nodiscard]] inline error make_error(error_type type, std::string message) {
    return error{type, http_status_of(type), std::move(message)};
}

/// Shorthand for the most common case: the client sent something invalid.
[[nodiscard]] inline error invalid_request(std::string message) {
    return make_error(error_type::invalid_request_error, std::move(message));
}

/// Appends the Anthropic error body
/// `{"type":"error","error":{"type":…,"message":…}}` to `out`.
inline void append_error_json(const error& err, std::string& out) {
    out += R"({"type":"error","error":{"type":")";
    out += to_string(err.type);
    out += R"(","message":)";
    detail::append_json_string(out, err.message);
    out += "}}";
}

/// The Anthropic error body for `err`; the one place error JSON is made.
[[nodiscard]] inline std::string to_json(const error& err) {
    std::string out;
    out.reserve(64 + err.message.size());
    append_error_json(err, out);
    return out;
}

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#  define MSGBRIDGE_HAS_EXCEPTIONS 1
#else
#  define MSGBRIDGE_HAS_EXCEPTIONS 0
#endif

/// Thrown by `result<T>::value()` when the result holds an error (and by
/// `error()` when it holds a value). `what()` is the error's message.
class bad_result_access : public std::exception {
public:
    explicit bad_result_access(::msgbridge::error err) : error_(std::move(err)) {}
    [[nodiscard]] const char* what() const noexcept override { return error_.message.c_str(); }
    [[nodiscard]] const ::msgbridge::error& error() const noexcept { return error_; }

private:
    ::msgbridge::error error_;
};

namespace detail {
// Reading the wrong side of a result is a bug in the caller. With exceptions
// it throws; without, it stops the program with the reason on stderr, never
// reading a value that is not there (which in a Release build would crash
// far from the cause, or worse, not crash).
[[noreturn]] inline void bad_access(const ::msgbridge::error& err) {
#if MSGBRIDGE_HAS_EXCEPTIONS
    throw bad_result_access(err);
#else
    std::fprintf(stderr, "msgbridge: result accessed without checking: %s\n", err.message.c_str());
    std::abort();
#endif
}
}  // namespace detail

/// Holds either a `T` or an `error`. Errors are values on every request
/// path: bad client input and bad upstream output are expected, not exceptional.
/// Check `has_value()` first; `value()` on an error throws `bad_result_access`
/// (or, built without exceptions, aborts with the error's message).
template <class T>
class [[nodiscard]] result {
public:
    using value_type = T;
    using error_value_type = ::msgbridge::error;

    result(T value) : storage_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
    result(error_value_type err) : storage_(std::in_place_index<1>, std::move(err)) {}  // NOLINT: implicit by design

    [[nodiscard]] bool has_value() const noexcept { return storage_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    [[nodiscard]] T& value() & { check_value(); return *std::get_if<0>(&storage_); }
    [[nodiscard]] const T& value() const& { check_value(); return *std::get_if<0>(&storage_); }
    [[nodiscard]] T&& value() && { check_value(); return std::move(*std::get_if<0>(&storage_)); }

    /// The value, or `fallback` when this holds an error.
    template <class U>
    [[nodiscard]] T value_or(U&& fallback) const& {
        return has_value() ? *std::get_if<0>(&storage_) : static_cast<T>(std::forward<U>(fallback));
    }
    template <class U>
    [[nodiscard]] T value_or(U&& fallback) && {
        return has_value() ? std::move(*std::get_if<0>(&storage_)) : static_cast<T>(std::forward<U>(fallback));
    }

    [[nodiscard]] const error_value_type& error() const& { check_error(); return *std::get_if<1>(&storage_); }
    [[nodiscard]] error_value_type&& error() && { check_error(); return std::move(*std::get_if<1>(&storage_)); }

    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

private:
    void check_value() const {
        if (!has_value()) detail::bad_access(*std::get_if<1>(&storage_));
    }
    void check_error() const {
        if (has_value()) detail::bad_access(make_error(error_type::api_error, "error() called on a result that holds a value"));
    }

    std::variant<T, error_value_type> storage_;
};

/// `result<void>`: success carries nothing.
template <>
class [[nodiscard]] result<void> {
public:
    using value_type = void;
    using error_value_type = ::msgbridge::error;

    result() = default;
    result(error_value_type err) : error_(std::move(err)), failed_(true) {}  // NOLINT: implicit by design

    [[nodiscard]] bool has_value() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return has_value(); }
    /// Does nothing on success; on an error, as `result<T>::value()`.
    void value() const {
        if (failed_) detail::bad_access(error_);
    }
    [[nodiscard]] const error_value_type& error() const& {
        if (!failed_) detail::bad_access(make_error(error_type::api_error, "error() called on a result that holds a value"));
        return error_;
    }

private:
    error_value_type error_{};
    bool failed_ = false;
};

MSGBRIDGE_END_NAMESPACE
