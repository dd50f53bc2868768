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
        options.profiles[0].late_system_as_user = true;  // the Kimi profile
        require_converts_to(body, "{" + kimi + R"(,"messages":[{"role":"system","content":"top"},
            {"role":"user","content":"a\n\nSystem guidance:\n\nreminder\n\nb"}]})", options);
    }
    SECTION("a system turn first in messages stays a system message even then") {
        msgbridge::request_options options;
        options.profiles = msgbridge::default_profiles();
        options.profiles[0].late_system_as_user = true;
        require_converts_to("{" + kimi + R"(,"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}]})",
                            "{" + kimi + R"(,"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}]})",
                            options);
    }
}
