// SPDX-License-Identifier: MIT
#include "support/request_test_util.hpp"

using request_test::has_warning;
using request_test::require_converts_to;

namespace {
std::string req(const std::string& model, const std::string& content) {
    return R"({"model":")" + model + R"(","max_tokens":10,"messages":[{"role":"user","content":)" + content + "}]}";
}
std::string out(const std::string& model, const std::string& content, const std::string& extra = "") {
    return R"({"model":")" + model + R"(","max_tokens":10)" + extra + R"(,"messages":[{"role":"user","content":)" + content + "}]}";
}
const std::string kimi = "moonshotai/kimi-k2.5";
const std::string glm_extra = R"(,"chat_template_kwargs":{"clear_thinking":false})";
}  // namespace

TEST_CASE("request: images become image_url parts for a model with vision", "[request]") {
    SECTION("base64 becomes a data: URI; text and image make content parts") {
        require_converts_to(req(kimi, R"([{"type":"text","text":"what is this?"},
            {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}}])"),
            out(kimi, R"([{"type":"text","text":"what is this?"},
                          {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}}])"));
    }
    SECTION("url stays a url") {
        require_converts_to(req(kimi, R"([{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}])"),
                            out(kimi, R"([{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}])"));
    }
}

TEST_CASE("request: images sent to a model without vision become a text placeholder", "[request]") {
    auto converted = require_converts_to(
        req("z-ai/glm5", R"([{"type":"text","text":"see"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}])"),
        out("z-ai/glm5", R"("see\n\n[image omitted: this model cannot see images]")", glm_extra));
    CHECK(has_warning(converted, "images: 1 replaced by a text placeholder"));
}

TEST_CASE("request: documents take the nearest OpenAI form", "[request]") {
    SECTION("plain text is inlined, with its title") {
        require_converts_to(req(kimi, R"([{"type":"document","title":"notes.txt","source":{"type":"text","media_type":"text/plain","data":"line 1\nline 2"}},
                                          {"type":"text","text":"summarize"}])"),
                            out(kimi, R"("notes.txt\n\nline 1\nline 2\n\nsummarize")"));
    }
    SECTION("a content source is inlined as text") {
        require_converts_to(req(kimi, R"([{"type":"document","source":{"type":"content","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}])"),
                            out(kimi, R"("a\n\nb")"));
    }
    SECTION("a base64 PDF becomes a file part where the profile allows file parts") {
        msgbridge::request_options options;
        options.profiles = msgbridge::default_profiles();
        options.profiles[0].file_parts = true;
        require_converts_to(req(kimi, R"([{"type":"document","title":"spec.pdf","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0x"}}])"),
                            out(kimi, R"([{"type":"file","file":{"filename":"spec.pdf","file_data":"data:application/pdf;base64,JVBERi0x"}}])"),
                            options);
    }
    SECTION("a base64 PDF becomes a placeholder where it does not (the NVIDIA profiles)") {
        auto converted = require_converts_to(req(kimi, R"([{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0x"}}])"),
                                             out(kimi, R"("[document omitted: this model cannot read PDF files]")"));
        CHECK(has_warning(converted, "messages.0.content.0.source: this model takes no file parts"));
    }
    SECTION("a url document is sent as a link") {
        auto converted = require_converts_to(req(kimi, R"([{"type":"document","source":{"type":"url","url":"https://x.test/a.pdf"}}])"),
                                             out(kimi, R"("[document: https://x.test/a.pdf]")"));
        CHECK(has_warning(converted, "cannot fetch documents"));
    }
}

TEST_CASE("request: unknown content blocks are left out and named", "[request]") {
    auto converted = require_converts_to(req(kimi, R"([{"type":"text","text":"x"},{"type":"search_result","source":"s","title":"t","content":[{"type":"text","text":"c"}]}])"),
                                         out(kimi, R"("x")"));
    CHECK(has_warning(converted, "content blocks left out (no upstream equivalent): search_result x1"));
}

TEST_CASE("request: blocks in the wrong turn are left out, not moved", "[request]") {
    auto converted = require_converts_to(
        R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"messages":[{"role":"user","content":"u"},
            {"role":"assistant","content":[{"type":"text","text":"a"},
              {"type":"tool_result","tool_use_id":"x","content":[{"type":"image","source":{"type":"url","url":"https://x.test/i.png"}}]}]},
            {"role":"user","content":[{"type":"tool_use","id":"y","name":"N","input":{}},{"type":"text","text":"v"}]}]})",
        R"({"model":"moonshotai/kimi-k2.5","max_tokens":10,"messages":[{"role":"user","content":"u"},
            {"role":"assistant","content":"a"},{"role":"user","content":"v"}]})");
    CHECK(has_warning(converted, "tool_result x1"));
    CHECK(has_warning(converted, "tool_use x1"));
}
