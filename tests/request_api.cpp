// SPDX-License-Identifier: MIT
#include "support/request_test_util.hpp"

namespace {
const std::string body = R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"system":"s",
    "messages":[{"role":"user","content":"hello there"},{"role":"assistant","content":"hi"},{"role":"user","content":"bye"}]})";
}

TEST_CASE("request api: a converter reused across requests gives the same output", "[request][api]") {
    msgbridge::request_converter converter;
    const auto first = converter.convert(body);
    REQUIRE(first.has_value());
    const auto failed = converter.convert(R"({"model":"x"})");
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().message == "messages: required");
    const auto again = converter.convert(body);
    REQUIRE(again.has_value());
    CHECK(first->body == again->body);
    CHECK(first->body == msgbridge::convert_request(body)->body);
}

TEST_CASE("request api: convert_into appends to the caller's buffer", "[request][api]") {
    msgbridge::request_converter converter;
    msgbridge::converted_request out;
    out.body = "prefix:";
    out.warnings.push_back("stale");
    auto done = converter.convert_into(body, out);
    REQUIRE(done.has_value());
    REQUIRE(out.body.rfind("prefix:", 0) == 0);
    request_test::require_same_json(out.body.substr(7), msgbridge::convert_request(body)->body);
    CHECK(out.warnings.empty());
    CHECK(out.upstream_model == "moonshotai/kimi-k2.5");
    const std::size_t size = out.body.size();
    auto failed = converter.convert_into("{", out);
    REQUIRE_FALSE(failed.has_value());
    CHECK(out.body.size() == size);
}

TEST_CASE("request api: a buffer with room for simdjson's padding is parsed in place", "[request][api]") {
    std::string padded = body;
    padded.reserve(body.size() + 64);
    msgbridge::request_converter converter;
    auto in_place = converter.convert(padded, padded.capacity());
    REQUIRE(in_place.has_value());
    CHECK(in_place->body == msgbridge::convert_request(body)->body);
}

TEST_CASE("request api: count_tokens gives the estimate convert puts in the context", "[request][api]") {
    auto converted = msgbridge::convert_request(body);
    REQUIRE(converted.has_value());
    auto counted = msgbridge::count_tokens(body);
    REQUIRE(counted.has_value());
    CHECK(*counted == converted->context.estimated_input_tokens);
    // text bytes: "s" 1 + "hello there" 11 + "hi" 2 + "bye" 3 = 17 -> 5 tokens; 3 messages x 4.
    CHECK(*counted == 5 + 12);
    SECTION("max_tokens may be absent when counting") {
        auto no_max = msgbridge::count_tokens(R"({"model":"m","messages":[{"role":"user","content":"abcdefgh"}]})");
        REQUIRE(no_max.has_value());
        CHECK(*no_max == 2 + 4);
    }
    SECTION("images count 1600 tokens each") {
        auto image = msgbridge::count_tokens(R"({"model":"m","messages":[{"role":"user","content":[
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}]})");
        REQUIRE(image.has_value());
        CHECK(*image == 1600 + 4);
    }
    SECTION("errors are the same as convert's") {
        auto bad = msgbridge::count_tokens(R"({"model":"m"})");
        REQUIRE_FALSE(bad.has_value());
        CHECK(bad.error().message == "messages: required");
    }
}

TEST_CASE("request api: Claude Code's quota probe is recognised while converting", "[request][api]") {
    auto probe = [](std::string_view body) {
        const auto converted = msgbridge::convert_request(body);
        REQUIRE(converted.has_value());
        return converted->quota_probe;
    };
    SECTION("content as a string or as one text block") {
        CHECK(probe(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"quota"}]})"));
        CHECK(probe(R"({"messages":[{"content":[{"type":"text","text":"quota"}],"role":"user"}],"max_tokens":1,"model":"m"})"));
    }
    SECTION("anything else is a real request") {
        CHECK_FALSE(probe(R"({"model":"m","max_tokens":2,"messages":[{"role":"user","content":"quota"}]})"));
        CHECK_FALSE(probe(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"quota!"}]})"));
        CHECK_FALSE(probe(R"({"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":"quota"}]})"));
        CHECK_FALSE(probe(R"({"model":"m","max_tokens":1,"messages":[{"role":"system","content":"quota"}]})"));
        CHECK_FALSE(probe(R"({"model":"m","max_tokens":1,"tools":[],"messages":[{"role":"user","content":"quota"}]})"));
        CHECK_FALSE(probe(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"quota"},{"role":"user","content":"quota"}]})"));
        CHECK_FALSE(probe(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"quota"},{"type":"text","text":"x"}]}]})"));
        CHECK_FALSE(probe(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"text","text":"quota"}]}]})"));
    }
    SECTION("a converter reused after a probe forgets it") {
        msgbridge::request_converter converter;
        REQUIRE(converter.convert(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"quota"}]})")->quota_probe);
        CHECK_FALSE(converter.convert(body)->quota_probe);
    }
}
