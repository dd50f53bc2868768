#include <catch2/catch.hpp>
#include <msgbridge/response.hpp>
#include <msgbridge/stream.hpp>

#include <random>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "support/anthropic_stream_accumulator.hpp"
#include "support/response_json_compare.hpp"
#include "support/stream_test_util.hpp"

using namespace msgbridge_test;

namespace {

std::string json_string(const std::string& text) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
    return buffer.GetString();
}

struct answer {
    std::string reasoning;
    std::string content;
    std::vector<std::pair<std::string, std::string>> tools;  // (name, arguments); ids call_<i>
    std::string finish = "stop";
    bool usage = true;
};

// Pieces of 1..max bytes that never split a UTF-8 character.
std::vector<std::string> pieces(const std::string& text, std::mt19937& random, std::size_t max = 7) {
    std::vector<std::string> out;
    for (std::size_t at = 0; at < text.size();) {
        std::size_t length = std::min<std::size_t>(1 + random() % max, text.size() - at);
        while (at + length < text.size() && (static_cast<unsigned char>(text[at + length]) & 0xC0) == 0x80) ++length;
        out.push_back(text.substr(at, length));
        at += length;
    }
    return out;
}

std::string as_stream(const answer& a, std::mt19937& random) {
    std::string upstream = chunk_with_delta(R"({"role":"assistant","content":""})");
    for (const auto& piece : pieces(a.reasoning, random)) upstream += chunk_with_delta(R"({"reasoning_content":)" + json_string(piece) + "}");
    for (const auto& piece : pieces(a.content, random)) upstream += chunk_with_delta(R"({"content":)" + json_string(piece) + "}");
    for (std::size_t i = 0; i < a.tools.size(); ++i) {
        bool first = true;
        auto fragments = pieces(a.tools[i].second, random, 12);
        if (fragments.empty()) fragments.emplace_back();  // a call without arguments still has its first delta
        for (const auto& piece : fragments) {
            std::string call = R"({"index":)" + std::to_string(i);
            if (first) call += R"(,"id":"call_)" + std::to_string(i) + R"(","type":"function","function":{"name":")" + a.tools[i].first + R"(",)";
            else call += R"(,"function":{)";
            call += R"("arguments":)" + json_string(piece) + "}}";
            upstream += chunk_with_delta(R"({"tool_calls":[)" + call + "]}");
            first = false;
        }
    }
    upstream += chunk_with_delta("{}", a.finish);
    if (a.usage) upstream += usage_chunk(777, 55, 512);
    return upstream + done_event();
}

std::string as_completion(const answer& a) {
    std::string message = R"({"role":"assistant","content":)" + (a.content.empty() ? std::string("null") : json_string(a.content));
    if (!a.reasoning.empty()) message += R"(,"reasoning_content":)" + json_string(a.reasoning);
    if (!a.tools.empty()) {
        message += R"(,"tool_calls":[)";
        for (std::size_t i = 0; i < a.tools.size(); ++i) {
            if (i) message += ",";
            message += R"({"id":"call_)" + std::to_string(i) + R"(","type":"function","function":{"name":")" + a.tools[i].first +
                       R"(","arguments":)" + json_string(a.tools[i].second) + "}}";
        }
        message += "]";
    }
    message += "}";
    std::string body = R"({"id":"c","object":"chat.completion","model":"up","choices":[{"index":0,"message":)" + message +
                       R"(,"finish_reason":")" + a.finish + R"("}])";
    if (a.usage) body += R"(,"usage":{"prompt_tokens":777,"completion_tokens":55,"prompt_tokens_details":{"cached_tokens":512}})";
    return body + "}";
}

void check_equivalent(const std::string& upstream_stream, const std::string& completion, const msgbridge::response_context& context) {
    const auto accumulated = accumulate_anthropic_stream(run_stream(upstream_stream, context));
    INFO(accumulated.violation);
    REQUIRE(accumulated.complete);
    msgbridge::response_options options;
    options.message_id = "msg_test";  // the stream's id; generated tool ids share the seed too
    options.id_seed = test_stream_options().id_seed;
    const auto converted = msgbridge::convert_response(completion, context, options);
    REQUIRE(converted.has_value());
    CHECK_JSON_EQ(accumulated.message_json, *converted);
}

}  // namespace

TEST_CASE("stream: the message rebuilt from our events equals convert_response of the same answer", "[stream][equivalence]") {
    SECTION("recorded Kimi shape") {
        check_equivalent(read_test_file("stream/kimi_reasoning_tools.sse"), read_test_file("stream/kimi_reasoning_tools.completion.json"),
                         test_context());
    }
    SECTION("generated answers, random chunking (fixed seed)") {
        const std::vector<answer> answers = {
            {"", "Just text.", {}, "stop", true},
            {"Reasoning with \"quotes\" and\nnewlines — ünïcödé 🎉", "The answer is 42.", {}, "stop", true},
            {"", "", {{"Read", R"({"file_path": "/etc/hosts"})"}}, "tool_calls", true},
            {"Two tools.", "Running both.", {{"Bash", R"({"command":"ls -la","timeout":5})"}, {"Grep", R"({"pattern":"a\"b}","path":"."})"}}, "tool_calls", true},
            {"", "Truncated answ", {}, "length", true},
            {"only thinking, cut off", "", {}, "length", false},
            {"", "No usage reported.", {}, "stop", false},
            {"", "", {{"NoArgs", ""}}, "tool_calls", false},
            {"", "refused", {}, "content_filter", true},
        };
        std::mt19937 random(99);
        for (std::size_t i = 0; i < answers.size(); ++i) {
            for (int round = 0; round < 20; ++round) {
                INFO("answer " << i << " round " << round);
                check_equivalent(as_stream(answers[i], random), as_completion(answers[i]), test_context());
            }
        }
    }
    SECTION("generated tool ids and mapped tool names") {
        auto context = test_context();
        context.tool_names = {{"short_1", "a_much_longer_original_tool_name"}};
        const std::string stream = chunk_with_delta(R"({"tool_calls":[{"index":0,"function":{"name":"short_1","arguments":"{\"a\":"}}]})") +
                                   chunk_with_delta(R"({"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]})") +
                                   chunk_with_delta("{}", "tool_calls") + usage_chunk(5, 5) + done_event();
        const std::string completion = R"({"choices":[{"index":0,"message":{"tool_calls":[{"type":"function","function":{"name":"short_1","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":5}})";
        check_equivalent(stream, completion, context);
    }
    SECTION("inline think tags") {
        auto context = test_context();
        context.think_tags_in_content = true;
        const std::string stream = chunk_with_delta(R"({"content":"<think>hm"})") + chunk_with_delta(R"({"content":"m</thi"})") +
                                   chunk_with_delta(R"({"content":"nk>\n\nDone."})") + chunk_with_delta("{}", "stop") + usage_chunk(5, 5) + done_event();
        const std::string completion = R"({"choices":[{"index":0,"message":{"content":"<think>hmm</think>\n\nDone."},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":5}})";
        check_equivalent(stream, completion, context);
    }
}
