#include <catch2/catch.hpp>
#include <msgbridge/json_writer.hpp>

#include <cstdint>
#include <limits>
#include <string>

TEST_CASE("json_writer: writes a document in call order", "[response][json_writer]") {
    msgbridge::json_writer w;
    w.start_object();
    w.key("name");
    w.string("proxy");
    w.key("ok");
    w.boolean(true);
    w.key("none");
    w.null();
    w.key("counts");
    w.start_array();
    w.uint64(std::numeric_limits<std::uint64_t>::max());
    w.int64(-3);
    w.number(0.5);
    w.end_array();
    w.end_object();
    CHECK(w.complete());
    CHECK(w.view() == R"({"name":"proxy","ok":true,"none":null,"counts":[18446744073709551615,-3,0.5]})");
    CHECK(w.str() == std::string(w.view()));

    SECTION("reset starts a new document") {
        w.reset();
        CHECK_FALSE(w.complete());
        w.start_array();
        w.end_array();
        CHECK(w.view() == "[]");
    }
}

TEST_CASE("json_writer: strings are escaped as JSON requires", "[response][json_writer]") {
    msgbridge::json_writer w;
    w.start_object();
    w.key("quote\"key");
    w.string("line\nbreak \\ \"quoted\" \x01 é");
    w.end_object();
    CHECK(w.view() == "{\"quote\\\"key\":\"line\\nbreak \\\\ \\\"quoted\\\" \\u0001 é\"}");
}

TEST_CASE("json_writer: raw copies a finished JSON value as it is", "[response][json_writer]") {
    msgbridge::json_writer w;
    w.start_object();
    w.key("stats");
    w.raw(R"([{"id":"k…0001","uses":2}])");
    w.key("after");
    w.uint64(1);
    w.end_object();
    CHECK(w.complete());
    CHECK(w.view() == R"({"stats":[{"id":"k…0001","uses":2}],"after":1})");
}

TEST_CASE("json_writer: complete() is false until the top-level value closes", "[response][json_writer]") {
    msgbridge::json_writer w;
    CHECK_FALSE(w.complete());
    w.start_object();
    w.key("a");
    w.start_array();
    CHECK_FALSE(w.complete());
    w.end_array();
    w.end_object();
    CHECK(w.complete());
}
