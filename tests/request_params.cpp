// SPDX-License-Identifier: MIT
#include "support/request_test_util.hpp"

using request_test::has_warning;
using request_test::require_converts_to;

namespace {
const std::string hi = R"("messages":[{"role":"user","content":"hi"}])";
}

TEST_CASE("request: model names are mapped by the options", "[request]") {
    msgbridge::request_options options;
    options.model_map = {{"claude-*haiku*", "z-ai/glm4.7"}, {"claude-opus-5-5", "moonshotai/kimi-k2.5"}};
    options.default_model = "z-ai/glm5";
    auto haiku = request_test::convert_ok(R"({"model":"claude-haiku-4-5-20251001","max_tokens":10,)" + hi + "}", options);
    CHECK(haiku.upstream_model == "z-ai/glm4.7");
    CHECK(haiku.context.client_model == "claude-haiku-4-5-20251001");
    auto opus = request_test::convert_ok(R"({"model":"claude-opus-5-5","max_tokens":10,)" + hi + "}", options);
    CHECK(opus.upstream_model == "moonshotai/kimi-k2.5");
    CHECK(opus.body.find(R"("model":"moonshotai/kimi-k2.5")") != std::string::npos);
    auto other_claude = request_test::convert_ok(R"({"model":"claude-sonnet-5","max_tokens":10,)" + hi + "}", options);
    CHECK(other_claude.upstream_model == "z-ai/glm5");
    auto direct = request_test::convert_ok(R"({"model":"minimaxai/minimax-m2.1","max_tokens":10,)" + hi + "}", options);
    CHECK(direct.upstream_model == "minimaxai/minimax-m2.1");
    auto unmapped = request_test::convert_ok(R"({"model":"claude-x","max_tokens":10,)" + hi + "}");
    CHECK(unmapped.upstream_model == "claude-x");
}

TEST_CASE("request: max_tokens is clamped to the profile's caps", "[request]") {
    SECTION("the output cap") {
        auto converted = request_test::convert_ok(R"({"model":"moonshotai/kimi-k2.5","max_tokens":128000,)" + hi + "}");
        CHECK(converted.max_tokens == 32768);
        CHECK(converted.body.find(R"("max_tokens":32768)") != std::string::npos);
        CHECK(has_warning(converted, "max_tokens: 128000 lowered to 32768"));
    }
    SECTION("the context window minus the estimated input") {
        msgbridge::request_options options;
        msgbridge::model_profile profile;
        profile.context_window = 1000;
        options.profiles.push_back(profile);
        const std::string text(2000, 'a');  // ~500 tokens
        auto converted = request_test::convert_ok(R"({"model":"m","max_tokens":900,"messages":[{"role":"user","content":")" + text + R"("}]})", options);
        CHECK(converted.context.estimated_input_tokens == 504);
        CHECK(converted.max_tokens == 900);  // never below min(max_tokens, 1024)
        profile.context_window = 4000;
        options.profiles = {profile};
        converted = request_test::convert_ok(R"({"model":"m","max_tokens":9000,"messages":[{"role":"user","content":")" + text + R"("}]})", options);
        CHECK(converted.max_tokens == 4000 - 504);
    }
    SECTION("a request under the caps is left alone") {
        auto converted = request_test::convert_ok(R"({"model":"z-ai/glm5","max_tokens":4096,)" + hi + "}");
        CHECK(converted.max_tokens == 4096);
        CHECK(converted.warnings.empty());
    }
}

TEST_CASE("request: sampling parameters, stop sequences, stream, metadata", "[request]") {
    SECTION("temperature, top_p, top_k keep their names and number tokens") {
        require_converts_to(R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"temperature":0.7,"top_p":1e-1,"top_k":40,)" + hi + "}",
                            R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"temperature":0.7,"top_p":0.1,"top_k":40,)" + hi + "}");
    }
    SECTION("top_k is left out where the profile says so") {
        msgbridge::request_options options;
        msgbridge::model_profile no_top_k;
        no_top_k.top_k = false;
        options.profiles.push_back(no_top_k);
        auto converted = require_converts_to(R"({"model":"some/other-model","max_tokens":10,"top_k":40,)" + hi + "}",
                                             R"({"model":"some/other-model","max_tokens":10,)" + hi + "}", options);
        CHECK(has_warning(converted, "top_k: left out"));
    }
    SECTION("a model no profile describes gets top_k as sent") {
        require_converts_to(R"({"model":"some/other-model","max_tokens":10,"top_k":40,)" + hi + "}",
                            R"({"model":"some/other-model","max_tokens":10,"top_k":40,)" + hi + "}");
    }
    SECTION("stop_sequences become stop, and the response side learns them") {
        auto converted = require_converts_to(R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"stop_sequences":["END","\n\nHuman:"],)" + hi + "}",
                                             R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"stop":["END","\n\nHuman:"],)" + hi + "}");
        REQUIRE(converted.context.stop_sequences.size() == 2);
        CHECK(converted.context.stop_sequences[1] == "\n\nHuman:");
    }
    SECTION("stream adds stream_options.include_usage unless the profile says no") {
        auto converted = require_converts_to(R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"stream":true,)" + hi + "}",
            R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"stream":true,"stream_options":{"include_usage":true},)" + hi + "}");
        CHECK(converted.stream);
        msgbridge::request_options options;
        options.profiles = msgbridge::default_profiles();
        options.profiles[0].stream_usage = false;
        require_converts_to(R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"stream":true,)" + hi + "}",
                            R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"stream":true,)" + hi + "}", options);
        require_converts_to(R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"stream":false,)" + hi + "}",
                            R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,)" + hi + "}");
    }
    const std::string with_user_id =
        R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"metadata":{"user_id":"{\"device_id\":\"abc\",\"session_id\":\"s1\"}"},)" + hi + "}";
    SECTION("metadata.user_id is not forwarded by default") {
        require_converts_to(with_user_id, R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,)" + hi + "}");
    }
    SECTION("forward_user_id as_is: user, JSON-encoded string and all") {
        msgbridge::request_options options;
        options.forward_user_id = msgbridge::user_id_forwarding::as_is;
        require_converts_to(with_user_id,
                            R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"user":"{\"device_id\":\"abc\",\"session_id\":\"s1\"}",)" + hi + "}",
                            options);
    }
    SECTION("forward_user_id hash: user is FNV-1a 64 of the decoded id, in hex") {
        msgbridge::request_options options;
        options.forward_user_id = msgbridge::user_id_forwarding::hash;
        // FNV-1a 64 of {"device_id":"abc","session_id":"s1"}, computed independently.
        require_converts_to(with_user_id,
                            R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"user":"cd4ed81956581727",)" + hi + "}", options);
    }
}

TEST_CASE("request: unknown top-level fields are ignored and named, never an error", "[request]") {
    auto converted = require_converts_to(
        R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"context_management":{"edits":[{"type":"clear_tool_uses_20250919"}]},"brand_new":[1,{"x":2}],)" + hi + "}",
        R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,)" + hi + "}");
    CHECK(has_warning(converted, "ignored (no upstream equivalent): context_management, brand_new"));
}

TEST_CASE("request: a profile's extra_body is merged and wins over generated fields", "[request]") {
    msgbridge::request_options options;
    msgbridge::model_profile profile;
    profile.match = "acme/*";
    profile.extra_body = R"({"temperature":0.2,"repetition_penalty":1.05,"nvext":{"guided":null}})";
    options.profiles.push_back(profile);
    require_converts_to(R"({"model":"acme/one","max_tokens":10,"temperature":0.9,)" + hi + "}",
                        R"({"model":"acme/one","max_tokens":10,"temperature":0.2,"repetition_penalty":1.05,"nvext":{"guided":null},)" + hi + "}",
                        options);
}
