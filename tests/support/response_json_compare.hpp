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

inline std::string pretty_json(std::string_view json) {
    rapidjson::Document document;
    document.Parse(json.data(), json.size());
    if (document.HasParseError()) return "<not JSON> " + std::string(json);
    rapidjson::StringBuffer buffer;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
    document.Accept(writer);
    return buffer.GetString();
}

inline bool json_equal(std::string_view a, std::string_view b) {
    rapidjson::Document left;
    rapidjson::Document right;
    left.Parse(a.data(), a.size());
    right.Parse(b.data(), b.size());
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
