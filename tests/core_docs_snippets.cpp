// Every ```cpp block in README.md and docs/*.md is compiled: it appears
// verbatim in this file, between `// docs: <file>` and `// end docs`, inside a
// function that gives it the names it uses. The test reads the Markdown and
// this file and requires each block to match a region (indentation aside), so
// an example that stops compiling, or a doc edited without its copy here,
// fails the suite.
#include <catch2/catch.hpp>
#include <msgbridge.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

// The names the snippets lean on: what an embedding application would have.
struct app_response {
    int status = 200;
    std::string body;
};
app_response respond(int status, std::string body) { return {status, std::move(body)}; }
void send_upstream(const std::string&) {}

const std::string anthropic_body = R"({"model":"claude-haiku-4-5","max_tokens":64,
    "messages":[{"role":"user","content":"hello"}]})";
const std::string openai_body = R"({"id":"c","object":"chat.completion","model":"z-ai/glm4.7",
    "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
    "usage":{"prompt_tokens":5,"completion_tokens":1}})";
const std::string upstream_bytes =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

app_response readme_example() {
    // docs: README.md
    #include <msgbridge.hpp>

    auto converted = msgbridge::convert_request(anthropic_body);       // Anthropic -> OpenAI
    if (!converted) return respond(converted.error().http_status, msgbridge::to_json(converted.error()));
    send_upstream(converted->body);
    auto message = msgbridge::convert_response(openai_body, converted->context);  // OpenAI -> Anthropic

    msgbridge::stream_converter stream(converted->context);           // OpenAI SSE -> Anthropic SSE
    std::string events;
    stream.feed(upstream_bytes, events);                              // as the bytes arrive
    stream.finish(events);
    // end docs
    return respond(200, message.value() + events);
}

std::string request_mapping_example(const std::string& body) {
    // docs: docs/request-mapping.md
    msgbridge::request_options options;
    options.model_map.push_back({"claude-*haiku*", "z-ai/glm4.7"});
    options.default_model = "z-ai/glm5";
    msgbridge::request_converter converter(options);   // one per thread, reused

    auto converted = converter.convert(body);           // result<converted_request>
    if (!converted) return msgbridge::to_json(converted.error());   // 400, path in the message
    send_upstream(converted->body);                     // + converted->context for the response side
    // end docs
    return converted->upstream_model;
}

std::string streaming_example(const msgbridge::converted_request& converted, std::string_view bytes_from_upstream) {
    // docs: docs/streaming.md
    msgbridge::stream_converter converter(converted.context);   // or (context, stream_options)
    std::string out;                                            // reuse it: clear() keeps capacity
    converter.feed(bytes_from_upstream, out);                   // any split; send `out` to the client
    // ...
    converter.finish(out);                                      // upstream closed: always leaves a legal stream
    // or converter.fail(error, out) on a timeout / network failure
    // end docs
    return out;
}

void send_to_client(const std::string&) {}
void log_usage(std::uint64_t, std::uint64_t, std::string_view) {}

std::string response_mapping_example(const msgbridge::response_context& context, int upstream_status,
                                     std::string_view upstream_body) {
    // docs: docs/response-mapping.md
    msgbridge::response_converter converter;                    // one per thread, reused
    auto converted = converter.convert(openai_body, context);  // context: from the request converter
    if (!converted) return msgbridge::to_json(converted.error());  // an upstream {"error":…} or a malformed body
    send_to_client(converted->body);                            // the Anthropic message
    log_usage(converted->input_tokens, converted->output_tokens, converted->stop_reason);  // no second parse

    // An upstream's non-2xx answer, as the Anthropic error the client gets:
    msgbridge::error failure = msgbridge::convert_upstream_error(upstream_status, upstream_body);
    // end docs
    return converted->body + msgbridge::to_json(failure);
}

std::string startup_error(std::string message) { return "startup error: " + message; }

std::string keys_example(std::string_view setting, std::vector<std::string> keys, int status,
                         std::string_view retry_after_header) {
    // docs: docs/keys.md
    const msgbridge::result<msgbridge::rotation> strategy = msgbridge::parse_rotation(setting, "KEY_ROTATION");
    if (!strategy) return startup_error(strategy.error().message);  // never .value() on a user's setting
    msgbridge::key_pool_options options;
    options.strategy = *strategy;
    msgbridge::key_pool pool(keys, options);

    msgbridge::key_set tried;                       // per client request
    for (int attempt = 0; attempt < msgbridge::default_max_attempts; ++attempt) {  // 5, as in Go
        msgbridge::acquire_result got = pool.acquire(tried);
        if (got.status == msgbridge::acquire_status::no_keys) { /* send without Authorization */ }
        if (got.status != msgbridge::acquire_status::leased) { /* see "When no key is free" */ }
        tried.insert(got.lease.index());
        // "Authorization: Bearer " + got.lease.key(); log got.lease.redacted_id(), never the key
        auto reported = got.lease.report(msgbridge::outcome_for_status(status), retry_after_header);
        if (reported.newly_quarantined) { /* log got.lease.redacted_id() once */ }
        // ...
    }
    // end docs
    return "tried " + std::to_string(tried.size());
}

// ---- reading the Markdown and this file ----

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// The lines without their common leading spaces, joined; blank lines kept.
std::string dedent(const std::vector<std::string>& lines) {
    std::size_t indent = std::string::npos;
    for (const auto& line : lines) {
        const std::size_t first = line.find_first_not_of(' ');
        if (first != std::string::npos) indent = std::min(indent, first);
    }
    std::string out;
    for (const auto& line : lines) {
        out += line.size() > indent ? line.substr(indent) : std::string();
        out += '\n';
    }
    return out;
}

std::string trim(const std::string& text) {
    const std::size_t first = text.find_first_not_of(" \t");
    return first == std::string::npos ? std::string() : text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// ```cpp blocks of one Markdown file, dedented.
std::vector<std::string> cpp_blocks(const std::filesystem::path& markdown) {
    std::vector<std::string> blocks;
    std::vector<std::string> current;
    bool inside = false;
    for (const auto& line : split_lines(read_file(markdown))) {
        const std::string text = trim(line);
        if (!inside && text == "```cpp") {
            inside = true;
            current.clear();
        } else if (inside && text == "```") {
            inside = false;
            blocks.push_back(dedent(current));
        } else if (inside) {
            current.push_back(line);
        }
    }
    return blocks;
}

// The `// docs: FILE` regions of this source, dedented, by file.
std::multimap<std::string, std::string> compiled_regions(const std::filesystem::path& source) {
    std::multimap<std::string, std::string> regions;
    std::string file;
    std::vector<std::string> current;
    for (const auto& line : split_lines(read_file(source))) {
        const std::string text = trim(line);
        if (file.empty() && text.rfind("// docs: ", 0) == 0) {
            file = text.substr(9);
            current.clear();
        } else if (!file.empty() && text == "// end docs") {
            regions.emplace(file, dedent(current));
            file.clear();
        } else if (!file.empty()) {
            current.push_back(line);
        }
    }
    return regions;
}

}  // namespace

TEST_CASE("docs: every C++ block in README.md and docs/ is compiled here, verbatim", "[docs]") {
    const std::filesystem::path root = MSGBRIDGE_TEST_SOURCE_DIR;
    const auto regions = compiled_regions(root / "tests" / "core_docs_snippets.cpp");
    std::vector<std::filesystem::path> pages{root / "README.md"};
    for (const auto& entry : std::filesystem::directory_iterator(root / "docs"))
        if (entry.path().extension() == ".md") pages.push_back(entry.path());
    std::size_t checked = 0;
    for (const auto& page : pages) {
        const std::string name = std::filesystem::relative(page, root).generic_string();
        for (const auto& block : cpp_blocks(page)) {
            INFO(name << " has a ```cpp block with no copy in tests/core_docs_snippets.cpp:\n" << block);
            auto [first, last] = regions.equal_range(name);
            CHECK(std::any_of(first, last, [&](const auto& region) { return region.second == block; }));
            ++checked;
        }
    }
    CHECK(checked >= 3);
    for (const auto& [name, region] : regions) {
        INFO("tests/core_docs_snippets.cpp keeps a region for " << name << " that the page no longer shows:\n" << region);
        const auto blocks = cpp_blocks(root / name);
        CHECK(std::find(blocks.begin(), blocks.end(), region) != blocks.end());
    }
}

TEST_CASE("docs: the compiled examples run", "[docs]") {
    const app_response answer = readme_example();
    CHECK(answer.status == 200);
    CHECK(answer.body.find("event: message_stop") != std::string::npos);
    CHECK(request_mapping_example(anthropic_body) == "z-ai/glm4.7");
    CHECK(request_mapping_example("{").find("invalid_request_error") != std::string::npos);
    auto converted = msgbridge::convert_request(anthropic_body);
    REQUIRE(converted);
    CHECK(streaming_example(*converted, upstream_bytes).find("event: message_stop") != std::string::npos);
    const std::string answer_and_error = response_mapping_example(converted->context, 429, R"({"error":{"message":"slow down"}})");
    CHECK(answer_and_error.find(R"("type":"message")") != std::string::npos);
    CHECK(answer_and_error.find("rate_limit_error") != std::string::npos);
    CHECK(keys_example("sideways", {"a"}, 200, {}).rfind("startup error: KEY_ROTATION", 0) == 0);
}
