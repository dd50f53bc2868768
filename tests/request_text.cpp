// SPDX-License-Identifier: MIT
#include "support/request_test_util.hpp"

using request_test::require_converts_to;

namespace {
// These tests use a Kimi name: a profile with vision and reasoning replay on
// that leaves the text as sent.
constexpr const char* model = R"("model":"moonshotai/kimi-k2.5","max_tokens":1000)";
std::string body(const std::string& messages, const std::string& extra = "") {
    return std::string("{") + model + extra + R"(,"messages":)" + messages + "}";
}
}  // namespace

TEST_CASE("request: a plain text conversation keeps its turns and text", "[request]") {
    require_converts_to(body(R"([{"role":"user","content":"Hello \"world\"\n"},
                                 {"role":"assistant","content":"Hi! \u00e9\ud83d\ude00"},
                                 {"role":"user","content":"Bye"}])"),
                        R"({"model":"moonshotai/kimi-k2.5","max_tokens":1000,"messages":[
                              {"role":"user","content":"Hello \"world\"\n"},
                              {"role":"assistant","content":"Hi! é😀"},
                              {"role":"user","content":"Bye"}]})");
}

TEST_CASE("request: text blocks of one turn are joined into a plain string", "[request]") {
    require_converts_to(body(R"([{"role":"user","content":[
                                   {"type":"text","text":"first","cache_control":{"type":"ephemeral"}},
                                   {"type":"text","text":"second"}]}])"),
                        R"({"model":"moonshotai/kimi-k2.5","max_tokens":1000,"messages":[
                              {"role":"user","content":"first\n\nsecond"}]})");
}

TEST_CASE("request: empty text blocks are left out", "[request]") {
    require_converts_to(body(R"([{"role":"user","content":[{"type":"text","text":""},{"type":"text","text":"x"}]},
                                 {"role":"assistant","content":[{"type":"text","text":""}]},
                                 {"role":"user","content":"y"}])"),
                        R"({"model":"moonshotai/kimi-k2.5","max_tokens":1000,"messages":[
                              {"role":"user","content":"x\n\ny"}]})");
}

TEST_CASE("request: consecutive turns of one role merge into one message", "[request]") {
    require_converts_to(body(R"([{"role":"user","content":"a"},{"role":"user","content":"b"},
                                 {"role":"assistant","content":"c"},{"role":"assistant","content":"d"}])"),
                        R"({"model":"moonshotai/kimi-k2.5","max_tokens":1000,"messages":[
                              {"role":"user","content":"a\n\nb"},
                              {"role":"assistant","content":"c\n\nd"}]})");
}

TEST_CASE("request: a conversation that starts with the assistant gets a user turn first", "[request]") {
    auto converted = require_converts_to(body(R"([{"role":"assistant","content":"I was saying"},
                                                  {"role":"user","content":"go on"}])"),
                                         R"J({"model":"moonshotai/kimi-k2.5","max_tokens":1000,"messages":[
                                               {"role":"user","content":"(continued)"},
                                               {"role":"assistant","content":"I was saying"},
                                               {"role":"user","content":"go on"}]})J");
    CHECK(request_test::has_warning(converted, "starts with an assistant turn"));
}

TEST_CASE("request: member order in the input does not matter", "[request]") {
    require_converts_to(R"({"messages":[{"content":"hi","role":"user"}],"max_tokens":5,
                            "system":"be brief","model":"moonshotai/kimi-k2.5"})",
                        R"({"model":"moonshotai/kimi-k2.5","max_tokens":5,"messages":[
                              {"role":"system","content":"be brief"},
                              {"role":"user","content":"hi"}]})");
}

TEST_CASE("request: whitespace and escapes in the input survive", "[request]") {
    require_converts_to("{ \"model\" : \"moonshotai/kimi-k2.5\" ,\n \"max_tokens\" : 7 ,\n \"messages\" : [ { \"role\" : \"user\" ,"
                        " \"content\" : \"tab\\there \\u0041 \\/ \\\\\" } ] }\n",
                        R"({"model":"moonshotai/kimi-k2.5","max_tokens":7,"messages":[
                              {"role":"user","content":"tab\there A / \\"}]})");
}
