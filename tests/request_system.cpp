// SPDX-License-Identifier: MIT
#include "support/request_test_util.hpp"

using request_test::require_converts_to;

namespace {
const std::string kimi = R"("model":"moonshotai/kimi-k2.5","max_tokens":10)";
}

TEST_CASE("request: system becomes one leading system message", "[request]") {
    SECTION("a string") {
        require_converts_to("{" + kimi + R"(,"system":"You are terse.","messages":[{"role":"user","content":"hi"}]})",
                            "{" + kimi + R"(,"messages":[{"role":"system","content":"You are terse."},
                                                          {"role":"user","content":"hi"}]})");
    }
    SECTION("text blocks, with or without cache_control, joined; system after messages still goes first") {
        require_converts_to("{" + kimi + R"(,"messages":[{"role":"user","content":"hi"}],
                               "system":[{"type":"text","text":"one"},
                                         {"type":"text","text":"two","cache_control":{"type":"ephemeral"}}]})",
                            "{" + kimi + R"(,"messages":[{"role":"system","content":"one\n\ntwo"},
                                                          {"role":"user","content":"hi"}]})");
    }
    SECTION("Claude Code's billing header block is left out by default, kept when asked") {
        const std::string body = "{" + kimi + R"(,"system":[
            {"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.330.abc; cc_entrypoint=cli; cch=123;"},
            {"type":"text","text":"You are Claude Code."}],"messages":[{"role":"user","content":"hi"}]})";
        require_converts_to(body, "{" + kimi + R"(,"messages":[{"role":"system","content":"You are Claude Code."},
                                                              {"role":"user","content":"hi"}]})");
        msgbridge::request_options keep;
        keep.drop_billing_header = false;
        require_converts_to(body, "{" + kimi + R"(,"messages":[{"role":"system","content":
            "x-anthropic-billing-header: cc_version=2.1.330.abc; cc_entrypoint=cli; cch=123;\n\nYou are Claude Code."},
            {"role":"user","content":"hi"}]})", keep);
    }
    SECTION("an empty or null system sends no system message") {
        require_converts_to("{" + kimi + R"(,"system":"","messages":[{"role":"user","content":"hi"}]})",
                            "{" + kimi + R"(,"messages":[{"role":"user","content":"hi"}]})");
        require_converts_to("{" + kimi + R"(,"system":null,"messages":[{"role":"user","content":"hi"}]})",
                            "{" + kimi + R"(,"messages":[{"role":"user","content":"hi"}]})");
    }
}

TEST_CASE("request: role:system turns inside messages", "[request]") {
    const std::string body = "{" + kimi + R"(,"system":"top","messages":[
        {"role":"user","content":"a"},
        {"role":"system","content":[{"type":"text","text":"reminder"}]},
        {"role":"user","content":"b"}]})";
    SECTION("stay system messages in place by default") {
        require_converts_to(body, "{" + kimi + R"(,"messages":[{"role":"system","content":"top"},
            {"role":"user","content":"a"},{"role":"system","content":"reminder"},{"role":"user","content":"b"}]})");
    }
    SECTION("become user messages that say so when the profile asks") {
        msgbridge::request_options options;
        options.profiles = msgbridge::default_profiles();
        options.profiles[0].late_system = msgbridge::late_system_placement::user_turn;  // the Kimi profile
        require_converts_to(body, "{" + kimi + R"(,"messages":[{"role":"system","content":"top"},
            {"role":"user","content":"a\n\nSystem guidance:\n\nreminder\n\nb"}]})", options);
    }
    SECTION("a system turn first in messages stays a system message even then") {
        msgbridge::request_options options;
        options.profiles = msgbridge::default_profiles();
        options.profiles[0].late_system = msgbridge::late_system_placement::user_turn;
        require_converts_to("{" + kimi + R"(,"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}]})",
                            "{" + kimi + R"(,"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}]})",
                            options);
    }
}

TEST_CASE("request: late system turns, placed for templates that want one system message first", "[request]") {
    const std::string body = "{" + kimi + R"(,"system":"top","messages":[
        {"role":"user","content":"a"},
        {"role":"assistant","content":"ok"},
        {"role":"system","content":[{"type":"text","text":"env: linux"},{"type":"text","text":"cwd: /src"}]},
        {"role":"user","content":"b"}]})";
    msgbridge::request_options options;
    options.profiles = msgbridge::default_profiles();
    SECTION("leading_system: appended to the system message at the start, nothing left in place") {
        options.profiles[0].late_system = msgbridge::late_system_placement::leading_system;
        require_converts_to(body, "{" + kimi + R"(,"messages":[{"role":"system","content":"top\n\nenv: linux\n\ncwd: /src"},
            {"role":"user","content":"a"},{"role":"assistant","content":"ok"},{"role":"user","content":"b"}]})", options);
    }
    SECTION("leading_system without a system field: the late turn becomes the leading system message") {
        options.profiles[0].late_system = msgbridge::late_system_placement::leading_system;
        require_converts_to("{" + kimi + R"(,"messages":[{"role":"user","content":"a"},
                {"role":"system","content":"late"},{"role":"user","content":"b"}]})",
            "{" + kimi + R"(,"messages":[{"role":"system","content":"late"},{"role":"user","content":"a\n\nb"}]})", options);
    }
    SECTION("user_turn: merged into the next user turn, after the assistant") {
        options.profiles[0].late_system = msgbridge::late_system_placement::user_turn;
        require_converts_to(body, "{" + kimi + R"(,"messages":[{"role":"system","content":"top"},
            {"role":"user","content":"a"},{"role":"assistant","content":"ok"},
            {"role":"user","content":"System guidance:\n\nenv: linux\n\ncwd: /src\n\nb"}]})", options);
    }
    SECTION("the catch-all profile uses user_turn: no system message after the first") {
        const std::string unknown = R"("model":"acme/unknown-1","max_tokens":100)";
        std::string request = body;
        request.replace(request.find(kimi), kimi.size(), unknown);
        auto converted = request_test::convert_ok(request);
        CHECK(converted.body.find(R"({"role":"user","content":"System guidance:\n\nenv: linux\n\ncwd: /src\n\nb"})") !=
              std::string::npos);
        CHECK(converted.body.find(R"("role":"system")") == converted.body.rfind(R"("role":"system")"));
        CHECK(msgbridge::find_profile({}, "acme/unknown-1").late_system == msgbridge::late_system_placement::user_turn);
    }
}
