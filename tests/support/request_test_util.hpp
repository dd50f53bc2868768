// SPDX-License-Identifier: MIT
// Helpers for the request converter's tests: convert, expect success or an
// exact error, and compare JSON parsed (member order never matters).
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <msgbridge/request.hpp>

namespace request_test {

inline std::string pretty(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
    value.Accept(writer);
    return {buffer.GetString(), buffer.GetSize()};
}

/// Parses `text` into `doc`. RapidJSON's SSE2 reader loads 16 aligned bytes
/// at a time and may read past the terminator, so it gets a padded copy.
inline void parse(rapidjson::Document& doc, std::string_view text) {
    std::string padded;
    padded.reserve(text.size() + 64);
    padded.assign(text.data(), text.size());
    doc.Parse(padded.c_str());
}

/// Fails the test (showing both sides) unless `actual` and `expected` are the
/// same JSON value; objects compare member by member in any order.
inline void require_same_json(std::string_view actual, std::string_view expected) {
    rapidjson::Document a;
    rapidjson::Document e;
    parse(a, actual);
    parse(e, expected);
    INFO("actual: " << actual);
    REQUIRE_FALSE(a.HasParseError());
    REQUIRE_FALSE(e.HasParseError());
    if (a != e) {
        INFO("actual:\n" << pretty(a) << "\nexpected:\n" << pretty(e));
        FAIL("JSON differs");
    }
    SUCCEED("same JSON");
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    INFO("reading " << path);
    REQUIRE(in.good());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

inline std::string data_path(const std::string& name) {
    return std::string(MSGBRIDGE_TEST_DATA_DIR) + "/request/" + name;
}

/// Converts and requires success.
inline msgbridge::converted_request convert_ok(std::string_view body, const msgbridge::request_options& options = {}) {
    auto converted = msgbridge::convert_request(body, options);
    if (!converted) FAIL("conversion failed: " << converted.error().message);
    return std::move(converted).value();
}

/// Converts and requires the OpenAI body to equal `expected` (parsed).
inline msgbridge::converted_request require_converts_to(std::string_view body, std::string_view expected,
                                                       const msgbridge::request_options& options = {}) {
    auto converted = convert_ok(body, options);
    require_same_json(converted.body, expected);
    return converted;
}

/// Converts and requires an invalid_request_error whose message is `message`.
inline void require_error(std::string_view body, std::string_view message,
                          const msgbridge::request_options& options = {}) {
    auto converted = msgbridge::convert_request(body, options);
    INFO("body: " << body);
    REQUIRE_FALSE(converted.has_value());
    CHECK(converted.error().type == msgbridge::error_type::invalid_request_error);
    CHECK(converted.error().http_status == 400);
    CHECK(converted.error().message == message);
}

/// Whether some warning contains `text`.
inline bool has_warning(const msgbridge::converted_request& converted, std::string_view text) {
    for (const auto& warning : converted.warnings) {
        if (warning.find(text) != std::string::npos) return true;
    }
    return false;
}

}  // namespace request_test
