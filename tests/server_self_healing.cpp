// Self-healing retries: the upstream error texts the proxy recognises, the
// request it sends again, and what it remembers per upstream model.
// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <cctype>
#include <functional>
#include <string>
#include <vector>

#include "self_healing.hpp"
#include "support/mock_upstream.hpp"

namespace {

using kind = proxy::healing_fix::kind;

std::string label_of(int status, const std::string& body) {
    const auto fix = proxy::recognise_fix(status, body);
    return fix ? proxy::fix_label(*fix) : std::string("none");
}

// One upstream's way of refusing something, and the request that has it.
struct refusal {
    std::string upstream;  // who answers so
    int status;
    std::string body;
    std::string label;              // the fix's label in the log
    std::string anthropic_members;  // added to the request, each with a leading comma
    std::function<void(const std::string& retried)> check;  // the body sent after the fix
    bool lasting = true;
};

const std::string top_k_member = R"(,"top_k":40)";
const std::string image_content =
    R"([{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},)"
    R"({"type":"text","text":"what is this?"}])";
const std::string tool_members =
    R"(,"tools":[{"name":"get_weather","description":"weather","input_schema":{"type":"object",)"
    R"("properties":{"city":{"type":"string"}}}}],"tool_choice":{"type":"auto"})";

void lacks_top_k(const std::string& body) {
    CHECK(body.find("top_k") == std::string::npos);
}
void has_no_image(const std::string& body) {
    CHECK(body.find("image_url") == std::string::npos);
    CHECK(body.find("iVBORw0KGgo") == std::string::npos);
    CHECK(body.find("[image omitted: the upstream model does not accept images]") != std::string::npos);
    CHECK(body.find("what is this?") != std::string::npos);
}
void no_auto_tool_choice(const std::string& body) {
    CHECK(body.find(R"("tool_choice":"auto")") == std::string::npos);
    CHECK(body.find(R"("tool_choice":"none")") != std::string::npos);
    CHECK(body.find("get_weather") != std::string::npos);  // the tools stay: a call written as text is salvaged
}
std::function<void(const std::string&)> max_tokens_is(int n) {
    return [n](const std::string& body) {
        const std::string member = R"("max_tokens":)" + std::to_string(n);
        const auto at = body.find(member);
        REQUIRE(at != std::string::npos);
        CHECK_FALSE(std::isdigit(static_cast<unsigned char>(body[at + member.size()])));
    };
}

std::vector<refusal> refusals() {
    return {
        {"OpenAI", 400,
         R"({"error":{"message":"Unrecognized request argument supplied: top_k","type":"invalid_request_error","param":null,"code":null}})",
         "drop:top_k", top_k_member, lacks_top_k},
        {"vLLM", 400,
         R"({"object":"error","message":"[{'type': 'extra_forbidden', 'loc': ('body', 'top_k'), 'msg': 'Extra inputs are not permitted', 'input': 40}]","type":"BadRequestError","param":null,"code":400})",
         "drop:top_k", top_k_member, lacks_top_k},
        {"SGLang (FastAPI detail)", 422,
         R"({"detail":[{"type":"extra_forbidden","loc":["body","top_k"],"msg":"Extra inputs are not permitted","input":40}]})",
         "drop:top_k", top_k_member, lacks_top_k},
        {"pydantic text", 400,
         R"({"error":{"message":"1 validation error for ChatCompletionRequest\ntop_k\n  Extra inputs are not permitted [type=extra_forbidden, input_value=40, input_type=int]","type":"BadRequestError"}})",
         "drop:top_k", top_k_member, lacks_top_k},
        {"Ollama", 400, R"({"error":{"message":"this model does not support image input","type":"invalid_request_error"}})",
         "images", "", has_no_image},
        {"llama.cpp", 500,
         R"({"error":{"code":500,"message":"image input is not supported - hint: if this is unexpected, you may need to provide the mmproj","type":"server_error"}})",
         "images", "", has_no_image},
        {"vLLM without a tool parser", 400,
         R"({"object":"error","message":"\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set","type":"BadRequestError","param":null,"code":400})",
         "tool_choice:none", tool_members, no_auto_tool_choice},
        {"OpenAI", 400,
         R"({"error":{"message":"max_tokens is too large: 8192. This model supports at most 4096 completion tokens, whereas you provided 8192.","type":"invalid_request_error","param":"max_tokens","code":null}})",
         "max_tokens:4096", "", max_tokens_is(4096)},
        {"NIM", 400,
         R"({"object":"error","message":"`max_tokens` must be less than or equal to `4096`","type":"BadRequestError","param":null,"code":400})",
         "max_tokens:4096", "", max_tokens_is(4096)},
        {"vLLM (what this prompt leaves)", 400,
         R"({"object":"error","message":"'max_tokens' or 'max_completion_tokens' is too large: 8192. This model's maximum context length is 8192 tokens and your request has 96 input tokens (8192 > 8192 - 96). None","type":"BadRequestError","param":null,"code":400})",
         "max_tokens:8096", "", max_tokens_is(8096), false},
    };
}

std::string request_for(const refusal& r, bool stream) {
    const bool image = r.label == "images";
    return R"({"model":"mock-model","max_tokens":8192)" + std::string(stream ? R"(,"stream":true)" : "") +
           r.anthropic_members + R"(,"messages":[{"role":"user","content":)" +
           (image ? image_content : std::string(R"("hello")")) + "}]}";
}

// The upstream refuses every request that still has what `r` names; `healed`
// tells it apart.
bool healed(const refusal& r, const std::string& body) {
    if (r.label == "drop:top_k") return body.find("top_k") == std::string::npos;
    if (r.label == "images") return body.find("image_url") == std::string::npos;
    if (r.label == "tool_choice:none") return body.find(R"("tool_choice":"auto")") == std::string::npos;
    return body.find(R"("max_tokens":8192)") == std::string::npos;
}

mock::reply answer(const mock::recorded& request) {
    if (request.body.find(R"("stream":true)") != std::string::npos) return mock::sse(mock::text_stream({"healed"}));
    return mock::json(200, mock::completion("healed"));
}

// One exchange, streamed or not: the client's status and the answer's text as received.
std::pair<int, std::string> exchange(mock::running_proxy& proxy, const std::string& body, bool stream) {
    if (stream) {
        auto result = mock::post_stream(proxy.port(), "/v1/messages", body);
        return {result.status, result.raw};
    }
    auto res = proxy.client().Post("/v1/messages", body, "application/json");
    REQUIRE(res);
    return {res->status, res->body};
}

std::string health(mock::running_proxy& proxy) {
    auto res = proxy.client().Get("/health");
    REQUIRE(res);
    return res->body;
}

}  // namespace

TEST_CASE("self-healing: each recognised upstream error is fixed, retried once and remembered", "[server][healing]") {
    for (const refusal& r : refusals()) {
        for (const bool stream_first : {false, true}) {
            INFO(r.upstream << ": " << r.body << (stream_first ? " (streamed first)" : " (not streamed first)"));
            mock::upstream upstream([&](const mock::recorded& request, std::size_t) {
                return healed(r, request.body) ? answer(request) : mock::json(r.status, r.body);
            });
            mock::running_proxy proxy(mock::test_config(upstream.url()));

            const auto first = exchange(proxy, request_for(r, stream_first), stream_first);
            CHECK(first.first == 200);
            CHECK(first.second.find("healed") != std::string::npos);
            auto seen = upstream.requests();
            REQUIRE(seen.size() == 2);
            CHECK_FALSE(healed(r, seen[0].body));
            r.check(seen[1].body);
            CHECK(proxy.wait_for_log(":" + std::to_string(r.status) + " healed=" + r.label));

            // The other way, to the same model: sent fixed at once when the finding lasts.
            const auto second = exchange(proxy, request_for(r, !stream_first), !stream_first);
            CHECK(second.first == 200);
            seen = upstream.requests();
            if (r.lasting) {
                REQUIRE(seen.size() == 3);
                r.check(seen[2].body);
                CHECK(proxy.wait_for_log(":200 fixed=" + r.label));
                CHECK(proxy.wait_for_log("learned: mock-model "));
                CHECK(health(proxy).find(R"("model":"mock-model","fixes":[")" + r.label + R"("]})") != std::string::npos);
            } else {
                // Computed from that prompt's length: found again, never remembered.
                REQUIRE(seen.size() == 4);
                r.check(seen[3].body);
                CHECK(health(proxy).find(R"("learned":[])") != std::string::npos);
            }
        }
    }
}

TEST_CASE("self-healing: never loops, never hides an error it cannot fix", "[server][healing]") {
    // Each upstream answers every request with `error`; the client's status, a
    // piece of its message, and how many calls the upstream got.
    struct case_ {
        const char* name;
        std::string error;
        std::string request_members;
        std::string client_sees;
        std::size_t calls;
    };
    const std::vector<case_> cases = {
        {"the same 400 again after the fix: passed on after exactly two calls",
         R"({"error":{"message":"Unrecognized request argument supplied: top_k","type":"invalid_request_error"}})",
         top_k_member, "Unrecognized request argument supplied: top_k", 2},
        {"a context overflow is not healed: prompt is too long, one call",
         R"({"object":"error","message":"This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (800 in the messages, 8200 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400})",
         "", "prompt is too long: This model's maximum context length is 8192 tokens", 1},
        {"an unrecognised 400 is passed on as before, one call",
         R"({"error":{"message":"messages: roles must alternate","type":"invalid_request_error"}})", "",
         "messages: roles must alternate", 1},
        {"a recognised error about something the request does not have: passed on, one call",
         R"({"error":{"message":"Unrecognized request argument supplied: top_k"}})", "",
         "Unrecognized request argument supplied: top_k", 1},
    };
    for (const case_& c : cases) {
        for (const bool stream : {false, true}) {
            INFO(c.name << (stream ? " (streamed)" : " (not streamed)"));
            mock::upstream upstream([&](const mock::recorded&, std::size_t) { return mock::json(400, c.error); });
            mock::running_proxy proxy(mock::test_config(upstream.url()));
            auto body = mock::messages_body(stream, "mock-model", 8200);
            body.insert(body.size() - 1, c.request_members);
            const auto got = exchange(proxy, body, stream);
            CHECK(got.first == 400);
            CHECK(got.second.find("invalid_request_error") != std::string::npos);
            CHECK(got.second.find(c.client_sees) != std::string::npos);
            CHECK(upstream.requests().size() == c.calls);
            if (c.calls == 1) CHECK(health(proxy).find(R"("learned":[])") != std::string::npos);
        }
    }
}

TEST_CASE("self-healing: the recogniser reads each upstream's wording", "[server][healing]") {
    SECTION("parameters") {
        CHECK(label_of(400, R"({"error":{"message":"Unrecognized request argument supplied: reasoning_effort"}})") ==
              "drop:reasoning_effort");
        CHECK(label_of(400, R"({"error":{"message":"Unsupported parameter: 'parallel_tool_calls' is not supported with this model."}})") ==
              "drop:parallel_tool_calls");
        CHECK(label_of(422, R"({"detail":[{"type":"extra_forbidden","loc": ["body", "chat_template_kwargs"],"msg":"Extra inputs are not permitted"}]})") ==
              "drop:chat_template_kwargs");
    }
    SECTION("a nested loc names no parameter") {
        CHECK(label_of(400, R"({"object":"error","message":"[{'type': 'extra_forbidden', 'loc': ('body', 'messages', 0, 'typed-dict', 'id'), 'msg': 'Extra inputs are not permitted', 'input': 1}]"})") ==
              "none");
        CHECK(label_of(400, R"({"error":{"message":"1 validation error for ChatCompletionRequest\nmessages.0.user.name\n  Extra inputs are not permitted [type=extra_forbidden]"}})") ==
              "none");
    }
    SECTION("what the client must send is never dropped") {
        CHECK(label_of(400, R"({"error":{"message":"Unrecognized request argument supplied: messages"}})") == "none");
        CHECK(label_of(400, R"({"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."}})") ==
              "none");
    }
    SECTION("output limits") {
        CHECK(label_of(400, R"({"message":"max_completion_tokens must be less than or equal to 40960, the maximum value for max_completion_tokens is less than the context_window for this model","type":"invalid_request_error"})") ==
              "max_tokens:40960");
        CHECK(label_of(400, R"({"error":{"message":"Invalid max_tokens value, the valid range of max_tokens is [1, 8192]"}})") ==
              "max_tokens:8192");
        CHECK(label_of(400, R"({"error":{"message":"max_tokens must be \u2264 16384"}})") == "max_tokens:16384");
        // What this prompt leaves is too little to answer in: an overflow, for the client to compact.
        CHECK(label_of(400, R"({"object":"error","message":"'max_tokens' or 'max_completion_tokens' is too large: 8192. This model's maximum context length is 8192 tokens and your request has 7900 input tokens (8192 > 8192 - 7900)."})") ==
              "none");
    }
    SECTION("context overflows and other statuses are not healed") {
        CHECK(label_of(400, R"({"error":{"message":"This model's maximum context length is 8192 tokens. However, you requested 8256 tokens (64 in the messages, 8192 in the completion).","code":"context_length_exceeded"}})") ==
              "none");
        CHECK(label_of(429, R"({"error":{"message":"Unrecognized request argument supplied: top_k"}})") == "none");
        CHECK(label_of(400, "<html>Bad Request</html>") == "none");
    }
}

TEST_CASE("self-healing: the rewrite changes exactly what the fix names", "[server][healing]") {
    const std::string body =
        R"({"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[)"
        R"({"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},)"
        R"({"role":"tool","tool_call_id":"c1","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}],)"
        R"("max_tokens":8192,"top_k":40,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"stream":true})";
    auto fixes_of = [](std::initializer_list<const char*> errors) {
        std::vector<proxy::healing_fix> fixes;
        for (const char* e : errors) fixes.push_back(*proxy::recognise_fix(400, e));
        return fixes;
    };
    SECTION("all at once, in one pass, valid JSON out") {
        auto out = proxy::apply_fixes(body, fixes_of({R"({"error":{"message":"Unrecognized request argument supplied: top_k"}})",
                                                      R"({"error":{"message":"this model does not support image input"}})",
                                                      R"({"message":"\"auto\" tool choice requires --enable-auto-tool-choice"})",
                                                      R"({"error":{"message":"max_tokens must be <= 1000"}})"}));
        REQUIRE(out);
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        REQUIRE(parser.parse(*out).get(doc) == simdjson::SUCCESS);
        CHECK(out->find("top_k") == std::string::npos);
        CHECK(out->find("image_url") == std::string::npos);
        CHECK(out->find(R"({"type":"text","text":"look"},{"type":"text","text":"[image omitted: the upstream model does not accept images]"})") !=
              std::string::npos);
        CHECK(out->find(R"("tool_call_id":"c1","content":[{"type":"text")") != std::string::npos);
        CHECK(out->find(R"("max_tokens":1000,)") != std::string::npos);
        CHECK(out->find(R"("stream":true,"tool_choice":"none"})") != std::string::npos);
        CHECK(out->find(R"({"role":"system","content":"be brief"})") != std::string::npos);
    }
    SECTION("a fix with nothing to change gives nothing, so nothing is retried") {
        CHECK_FALSE(proxy::apply_fixes(R"({"model":"m","messages":[],"max_tokens":500})",
                                       fixes_of({R"({"error":{"message":"Unrecognized request argument supplied: top_k"}})",
                                                 R"({"error":{"message":"max_tokens must be <= 1000"}})",
                                                 R"({"error":{"message":"this model does not support image input"}})"})));
        CHECK_FALSE(proxy::apply_fixes("not json", fixes_of({R"({"error":{"message":"Unrecognized request argument supplied: top_k"}})"})));
    }
}

TEST_CASE("self-healing: findings are kept per upstream and model, once each", "[server][healing]") {
    proxy::healing_memory memory;
    const auto fix = *proxy::recognise_fix(400, R"({"error":{"message":"Unrecognized request argument supplied: top_k"}})");
    CHECK(memory.learn("h:1", "m", fix) == "learned: m rejects top_k; dropping it from now on");
    CHECK(memory.learn("h:1", "m", fix).empty());
    CHECK(memory.known("h:1", "m").size() == 1);
    CHECK(memory.known("h:2", "m").empty());
    CHECK(memory.known("h:1", "other").empty());
    CHECK(memory.to_json() == R"([{"upstream":"h:1","model":"m","fixes":["drop:top_k"]}])");
}

TEST_CASE("self-healing: what was learned survives a reload", "[server][healing]") {
    mock::upstream upstream([](const mock::recorded& request, std::size_t) {
        if (request.body.find("top_k") != std::string::npos)
            return mock::json(400, R"({"error":{"message":"Unrecognized request argument supplied: top_k"}})");
        return mock::json(200, mock::completion("healed"));
    });
    const auto cfg = mock::test_config(upstream.url());
    mock::running_proxy proxy(cfg);
    auto body = mock::messages_body(false, "mock-model");
    body.insert(body.size() - 1, top_k_member);
    CHECK(exchange(proxy, body, false).first == 200);
    REQUIRE(upstream.requests().size() == 2);

    proxy.service().reload(cfg, proxy::make_http_transport(proxy::upstream_settings_from(cfg)));
    CHECK(exchange(proxy, body, false).first == 200);
    const auto seen = upstream.requests();
    REQUIRE(seen.size() == 3);
    lacks_top_k(seen[2].body);
    CHECK(health(proxy).find(R"("fixes":["drop:top_k"])") != std::string::npos);
}
