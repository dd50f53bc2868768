#include <catch2/catch.hpp>
#include <msgbridge/error.hpp>

#include <string>

using namespace msgbridge;

TEST_CASE("error: every type has its wire name and Anthropic status", "[error]") {
    CHECK(to_string(error_type::invalid_request_error) == "invalid_request_error");
    CHECK(to_string(error_type::authentication_error) == "authentication_error");
    CHECK(to_string(error_type::permission_error) == "permission_error");
    CHECK(to_string(error_type::not_found_error) == "not_found_error");
    CHECK(to_string(error_type::request_too_large) == "request_too_large");
    CHECK(to_string(error_type::rate_limit_error) == "rate_limit_error");
    CHECK(to_string(error_type::api_error) == "api_error");
    CHECK(to_string(error_type::overloaded_error) == "overloaded_error");

    CHECK(http_status_of(error_type::invalid_request_error) == 400);
    CHECK(http_status_of(error_type::authentication_error) == 401);
    CHECK(http_status_of(error_type::permission_error) == 403);
    CHECK(http_status_of(error_type::not_found_error) == 404);
    CHECK(http_status_of(error_type::request_too_large) == 413);
    CHECK(http_status_of(error_type::rate_limit_error) == 429);
    CHECK(http_status_of(error_type::api_error) == 500);
    CHECK(http_status_of(error_type::overloaded_error) == 529);
}

TEST_CASE("error: upstream statuses map to Anthropic types", "[error]") {
    CHECK(error_type_for_status(400) == error_type::invalid_request_error);
    CHECK(error_type_for_status(422) == error_type::invalid_request_error);
    CHECK(error_type_for_status(401) == error_type::authentication_error);
    CHECK(error_type_for_status(403) == error_type::permission_error);
    CHECK(error_type_for_status(404) == error_type::not_found_error);
    CHECK(error_type_for_status(413) == error_type::request_too_large);
    CHECK(error_type_for_status(429) == error_type::rate_limit_error);
    CHECK(error_type_for_status(500) == error_type::api_error);
    CHECK(error_type_for_status(502) == error_type::api_error);
    CHECK(error_type_for_status(503) == error_type::overloaded_error);
    CHECK(error_type_for_status(529) == error_type::overloaded_error);
    CHECK(error_type_for_status(418) == error_type::invalid_request_error);
}

TEST_CASE("error: the body has Anthropic's shape and escapes the message", "[error]") {
    SECTION("plain message") {
        CHECK(to_json(invalid_request("model: required")) ==
              R"({"type":"error","error":{"type":"invalid_request_error","message":"model: required"}})");
    }
    SECTION("quotes, backslashes and control bytes are escaped") {
        const std::string body = to_json(make_error(error_type::api_error, "a \"b\" \\ \n\x01"));
        CHECK(body == R"({"type":"error","error":{"type":"api_error","message":"a \"b\" \\ \n\u0001"}})");
    }
    SECTION("append_error_json appends") {
        std::string out = "data: ";
        append_error_json(make_error(error_type::overloaded_error, "busy"), out);
        CHECK(out == R"(data: {"type":"error","error":{"type":"overloaded_error","message":"busy"}})");
    }
}

TEST_CASE("error: result holds a value or an error", "[error]") {
    SECTION("value") {
        result<int> r = 42;
        REQUIRE(r.has_value());
        CHECK(*r == 42);
    }
    SECTION("error") {
        result<std::string> r = invalid_request("messages: required");
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().http_status == 400);
        CHECK(r.error().message == "messages: required");
    }
    SECTION("void") {
        result<void> ok;
        CHECK(ok.has_value());
        result<void> bad = make_error(error_type::rate_limit_error, "slow down");
        CHECK_FALSE(bad.has_value());
        CHECK(bad.error().http_status == 429);
    }
}

TEST_CASE("error: reading the wrong side of a result is reported, never undefined", "[error]") {
    const result<int> failed = invalid_request("messages: required");
    const result<int> ok = 7;
    SECTION("value() on an error throws bad_result_access carrying the error") {
        REQUIRE_THROWS_AS(failed.value(), bad_result_access);
        try {
            (void)failed.value();
        } catch (const bad_result_access& e) {
            CHECK(std::string(e.what()) == "messages: required");
            CHECK(e.error().type == error_type::invalid_request_error);
            CHECK(e.error().http_status == 400);
        }
        CHECK_THROWS_AS(*failed, bad_result_access);
        CHECK_THROWS_AS(result<std::string>(invalid_request("x"))->size(), bad_result_access);
    }
    SECTION("error() on a value throws too") {
        CHECK_THROWS_AS(ok.error(), bad_result_access);
        CHECK_THROWS_AS(result<void>().error(), bad_result_access);
    }
    SECTION("value_or gives the fallback only for an error") {
        CHECK(failed.value_or(3) == 3);
        CHECK(ok.value_or(3) == 7);
        CHECK(result<std::string>(invalid_request("x")).value_or("fallback") == "fallback");
        CHECK(result<std::string>(std::string("kept")).value_or("fallback") == "kept");
    }
    SECTION("result<void>::value() throws only on an error") {
        CHECK_NOTHROW(result<void>().value());
        CHECK_THROWS_AS(result<void>(invalid_request("x")).value(), bad_result_access);
    }
}
