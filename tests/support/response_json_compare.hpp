// Test helper (response/stream suites): compare JSON documents as parsed
// values, so member order and number spelling do not matter.
#pragma once

#include <catch2/catch.hpp>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace msgbridge_test {

// RapidJSON is built with RAPIDJSON_SSE2 here, and its SSE2 string scan reads
// whole 16-byte blocks, past the end of a tight buffer (AddressSanitizer
// reports it). Tests therefore parse from a copy with 16 bytes of padding.
inline void parse_json(rapidjson::Document& document, std::string_view json) {
    std::string padded(json);
    padded.append(16, '\0');
    document.Parse(padded.c_str());
}

inline std::string pretty_json(std::string_view json) {
    rapidjson::Document document;
    parse_json(document, json);
    if (document.HasParseError()) return "<not JSON> " + std::string(json);
    rapidjson::StringBuffer buffer;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
    document.Accept(writer);
    return buffer.GetString();
}

inline bool json_equal(std::string_view a, std::string_view b) {
    rapidjson::Document left;
    rapidjson::Document right;
    parse_json(left, a);
    parse_json(right, b);
    if (left.HasParseError() || right.HasParseError()) return false;
    return left == right;
}

inline std::string read_test_file(const std::string& relative) {
    std::ifstream in(std::string(MSGBRIDGE_TEST_DATA_DIR) + "/" + relative, std::ios::binary);
    if (!in) FAIL("cannot read test data file " << relative);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace msgbridge_test

// Compares two JSON texts as values; on failure prints both, pretty.
#define CHECK_JSON_EQ(actual, expected)                                        \
    do {                                                                       \
        const std::string actual_json_(actual);                                \
        const std::string expected_json_(expected);                            \
        INFO("actual:\n" << msgbridge_test::pretty_json(actual_json_)          \
                         << "\nexpected:\n" << msgbridge_test::pretty_json(expected_json_)); \
        CHECK(msgbridge_test::json_equal(actual_json_, expected_json_));       \
    } while (false)
