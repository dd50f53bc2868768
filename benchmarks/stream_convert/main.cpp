// Stream conversion benchmark: a recorded-shape OpenAI stream (reasoning,
// text, two tool calls, usage) of a few thousand chunks, replayed in
// network-sized pieces through
//   ours:     msgbridge::stream_converter (incremental SSE parser, simdjson
//             On-Demand, reused RapidJSON writer)
//   baseline: the straightforward way — buffer the bytes in a std::string,
//             cut events at "\n\n", parse each chunk into a RapidJSON
//             Document, write each event with a fresh Writer.
// Both must produce byte-identical output before anything is timed. Runs
// alternate (ours, baseline, ours, …) and we print best and median of N.
// Usage: bench_stream_convert [runs=21] [piece_bytes=1448] [ours-only]
// (runs 1..1000000, piece_bytes 1..16777216; anything else is a usage error, exit 2)
#include <msgbridge/stream.hpp>

#include "support/allocation_counter.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#define BENCH_STRINGIFY_(x) #x
#define BENCH_STRINGIFY(x) BENCH_STRINGIFY_(x)

#ifndef BENCH_CXX_FLAGS
#  define BENCH_CXX_FLAGS "?"
#endif

namespace {

constexpr const char* usage =
    "usage: bench_stream_convert [runs=21] [piece_bytes=1448] [ours-only] (runs 1..1000000, piece_bytes 1..16777216)";

// A whole decimal number in [1, max], nothing before or after it: atoi's 0
// for "abc" would mean no runs (a median of nothing) or 0-byte pieces (a
// replay loop that never advances).
template <class Int>
bool parse_count(std::string_view text, Int max, Int& out) {
    Int value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 1 || value > max) return false;
    out = value;
    return true;
}

constexpr std::string_view model = "moonshotai/kimi-k2.5";
constexpr std::uint64_t estimated_input = 5000;

std::string json_string(std::string_view text) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return buffer.GetString();
}

// A stream with the shape vLLM / NIM send for a Kimi answer: one token or
// two per chunk, the usual envelope fields, usage after finish_reason.
struct recorded_stream {
    std::string bytes;
    std::size_t chunks = 0;
};

recorded_stream make_stream() {
    static const char* const words[] = {"the ", "stream", " converter", " must", " keep", " every", " block", " in", " order",
                                        ",", " and", " ünïcode", " “quotes”", " \"escaped\"", "\n", " 42", " tokens", "."};
    recorded_stream s;
    std::uint32_t state = 12345;
    auto next = [&] { return state = state * 1103515245u + 12345u; };
    auto emit = [&](const std::string& delta, const char* finish = "null") {
        s.bytes += R"(data: {"id":"chatcmpl-a1b2c3d4e5f6","object":"chat.completion.chunk","created":1732400000,"model":")";
        s.bytes += model;
        s.bytes += R"(","choices":[{"index":0,"delta":)" + delta + R"(,"logprobs":null,"finish_reason":)" + finish + "}]}\n\n";
        ++s.chunks;
    };
    emit(R"({"role":"assistant","content":""})");
    for (int i = 0; i < 1200; ++i) emit(R"({"reasoning_content":)" + json_string(words[next() % 18]) + "}");
    for (int i = 0; i < 2400; ++i) emit(R"({"content":)" + json_string(words[next() % 18]) + "}");
    for (int tool = 0; tool < 2; ++tool) {
        const std::string id = "functions.Write:" + std::to_string(tool);
        emit(R"({"tool_calls":[{"index":)" + std::to_string(tool) + R"(,"id":")" + id +
             R"(","type":"function","function":{"name":"Write","arguments":""}}]})");
        emit(R"({"tool_calls":[{"index":)" + std::to_string(tool) + R"(,"function":{"arguments":"{\"file_path\": \"/src/x.cpp\", \"content\": \""}}]})");
        for (int i = 0; i < 200; ++i) {
            // The file content inside the arguments is JSON-escaped once,
            // the arguments string itself once more.
            const std::string inner = json_string(words[next() % 18]);
            const std::string fragment = inner.substr(1, inner.size() - 2);
            emit(R"({"tool_calls":[{"index":)" + std::to_string(tool) + R"(,"function":{"arguments":)" + json_string(fragment) + "}}]}");
        }
        emit(R"({"tool_calls":[{"index":)" + std::to_string(tool) + R"(,"function":{"arguments":"\"}"}}]})");
    }
    emit("{}", R"("tool_calls")");
    s.bytes += R"(data: {"id":"chatcmpl-a1b2c3d4e5f6","object":"chat.completion.chunk","created":1732400000,"model":")";
    s.bytes += model;
    s.bytes += R"(","choices":[],"usage":{"prompt_tokens":5210,"completion_tokens":4100,"total_tokens":9310,"prompt_tokens_details":{"cached_tokens":4096}}})";
    s.bytes += "\n\ndata: [DONE]\n\n";
    s.chunks += 2;
    return s;
}

// ---- ours ----
void run_ours(const recorded_stream& stream, std::size_t piece, std::string& out) {
    msgbridge::response_context context;
    context.client_model = "claude-sonnet-4-5";
    context.estimated_input_tokens = estimated_input;
    // Tools offered, so text is scanned for tool calls written as text, as
    // for every Claude Code request.
    context.offered_tools.reserve(6);
    for (const char* tool : {"Read", "Write", "Edit", "Bash", "Grep", "Glob"}) context.offered_tools.emplace_back(tool);
    msgbridge::stream_options options;
    options.message_id = "msg_bench";
    options.id_seed = 1;
    msgbridge::stream_converter converter(std::move(context), options);
    const std::string_view bytes = stream.bytes;
    for (std::size_t at = 0; at < bytes.size(); at += piece) converter.feed(bytes.substr(at, piece), out);
    converter.finish(out);
}

// ---- baseline ----
class baseline_converter {
public:
    void feed(std::string_view piece, std::string& out) {
        buffer_ += piece;
        std::size_t end;
        while ((end = buffer_.find("\n\n")) != std::string::npos) {
            std::string event = buffer_.substr(0, end);
            buffer_.erase(0, end + 2);
            if (event.rfind("data: ", 0) == 0) on_data(event.substr(6), out);
        }
    }

    void start(std::string& out) {
        emit(out, "message_start", [&](auto& w) {
            w.Key("type"); w.String("message_start");
            w.Key("message"); w.StartObject();
            w.Key("id"); w.String("msg_bench");
            w.Key("type"); w.String("message");
            w.Key("role"); w.String("assistant");
            w.Key("model"); w.String("claude-sonnet-4-5");
            w.Key("content"); w.StartArray(); w.EndArray();
            w.Key("stop_reason"); w.Null();
            w.Key("stop_sequence"); w.Null();
            w.Key("usage"); usage(w, estimated_input, 0, 0);
            w.EndObject();
        });
        out += "event: ping\ndata: {\"type\":\"ping\"}\n\n";
    }

private:
    enum class kind { none, thinking, text, tool };

    template <class Body>
    void emit(std::string& out, const char* type, Body body) {
        rapidjson::StringBuffer buffer;
        rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
        w.StartObject();
        body(w);
        w.EndObject();
        out += std::string("event: ") + type + "\ndata: " + buffer.GetString() + "\n\n";
    }
    template <class W>
    static void usage(W& w, std::uint64_t input, std::uint64_t cached, std::uint64_t output) {
        w.StartObject();
        w.Key("input_tokens"); w.Uint64(input);
        w.Key("cache_creation_input_tokens"); w.Uint64(0);
        w.Key("cache_read_input_tokens"); w.Uint64(cached);
        w.Key("output_tokens"); w.Uint64(output);
        w.EndObject();
    }
    void delta(std::string& out, const char* type, const char* field, const std::string& text) {
        emit(out, "content_block_delta", [&](auto& w) {
            w.Key("type"); w.String("content_block_delta");
            w.Key("index"); w.Uint64(index_);
            w.Key("delta"); w.StartObject();
            w.Key("type"); w.String(type);
            w.Key(field); w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
            w.EndObject();
        });
    }
    void close(std::string& out) {
        if (open_ == kind::none) return;
        if (open_ == kind::thinking) delta(out, "signature_delta", "signature", "msgbridge.unsigned-thinking.v1");
        emit(out, "content_block_stop", [&](auto& w) {
            w.Key("type"); w.String("content_block_stop");
            w.Key("index"); w.Uint64(index_);
        });
        open_ = kind::none;
    }
    template <class Fill>
    void open(std::string& out, kind k, Fill fill) {
        close(out);
        if (started_blocks_++ > 0) ++index_;
        open_ = k;
        emit(out, "content_block_start", [&](auto& w) {
            w.Key("type"); w.String("content_block_start");
            w.Key("index"); w.Uint64(index_);
            w.Key("content_block"); w.StartObject();
            fill(w);
            w.EndObject();
        });
    }
    void on_data(const std::string& data, std::string& out) {
        if (data == "[DONE]") {
            close(out);
            emit(out, "message_delta", [&](auto& w) {
                w.Key("type"); w.String("message_delta");
                w.Key("delta"); w.StartObject();
                w.Key("stop_reason"); w.String(finish_ == "tool_calls" ? "tool_use" : "end_turn");
                w.Key("stop_sequence"); w.Null();
                w.EndObject();
                w.Key("usage"); usage(w, prompt_ - cached_, cached_, completion_);
            });
            out += "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
            return;
        }
        rapidjson::Document doc;
        doc.Parse(data.c_str());
        if (doc.HasParseError()) return;
        if (doc.HasMember("usage") && doc["usage"].IsObject()) {
            const auto& u = doc["usage"];
            prompt_ = u["prompt_tokens"].GetUint64();
            completion_ = u["completion_tokens"].GetUint64();
            if (u.HasMember("prompt_tokens_details") && u["prompt_tokens_details"].IsObject())
                cached_ = u["prompt_tokens_details"]["cached_tokens"].GetUint64();
        }
        if (!doc.HasMember("choices") || !doc["choices"].IsArray() || doc["choices"].Empty()) return;
        const auto& choice = doc["choices"][0];
        const auto& d = choice["delta"];
        if (d.HasMember("reasoning_content") && d["reasoning_content"].IsString() && d["reasoning_content"].GetStringLength() > 0) {
            if (open_ != kind::thinking) open(out, kind::thinking, [](auto& w) {
                w.Key("type"); w.String("thinking"); w.Key("thinking"); w.String(""); w.Key("signature"); w.String("");
            });
            delta(out, "thinking_delta", "thinking", d["reasoning_content"].GetString());
        }
        if (d.HasMember("content") && d["content"].IsString() && d["content"].GetStringLength() > 0) {
            if (open_ != kind::text) open(out, kind::text, [](auto& w) { w.Key("type"); w.String("text"); w.Key("text"); w.String(""); });
            delta(out, "text_delta", "text", d["content"].GetString());
        }
        if (d.HasMember("tool_calls") && d["tool_calls"].IsArray()) {
            for (const auto& call : d["tool_calls"].GetArray()) {
                const int index = call["index"].GetInt();
                if (index != tool_index_) {
                    tool_index_ = index;
                    const std::string id = call["id"].GetString();
                    const std::string name = call["function"]["name"].GetString();
                    open(out, kind::tool, [&](auto& w) {
                        w.Key("type"); w.String("tool_use");
                        w.Key("id"); w.String(id.c_str());
                        w.Key("name"); w.String(name.c_str());
                        w.Key("input"); w.StartObject(); w.EndObject();
                    });
                }
                const std::string arguments = call["function"]["arguments"].GetString();
                if (!arguments.empty()) delta(out, "input_json_delta", "partial_json", arguments);
            }
        }
        if (choice.HasMember("finish_reason") && choice["finish_reason"].IsString()) {
            finish_ = choice["finish_reason"].GetString();
            close(out);
        }
    }

    std::string buffer_;
    std::string finish_;
    kind open_ = kind::none;
    std::uint64_t index_ = 0;
    std::uint64_t started_blocks_ = 0;
    int tool_index_ = -1;
    std::uint64_t prompt_ = 0, completion_ = 0, cached_ = 0;
};

void run_baseline(const recorded_stream& stream, std::size_t piece, std::string& out) {
    baseline_converter converter;
    converter.start(out);
    const std::string_view bytes = stream.bytes;
    for (std::size_t at = 0; at < bytes.size(); at += piece) converter.feed(bytes.substr(at, piece), out);
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    }
    return "unknown";
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
        std::printf("%s\nReplays a recorded-shape OpenAI stream in piece_bytes pieces through msgbridge and a DOM\n"
                    "baseline, runs times each, and prints best and median; ours-only skips the baseline and\n"
                    "the table (for profilers).\n",
                    usage);
        return 0;
    }
    int runs = 21;
    std::size_t piece = 1448;
    bool ours_only = false;
    if (argc > 4) {
        std::fprintf(stderr, "bench_stream_convert: too many arguments; %s\n", usage);
        return 2;
    }
    if (argc > 1 && !parse_count(argv[1], 1000000, runs)) {
        std::fprintf(stderr, "bench_stream_convert: runs '%s' is not a whole number 1..1000000; %s\n", argv[1], usage);
        return 2;
    }
    if (argc > 2 && !parse_count<std::size_t>(argv[2], std::size_t{1} << 24, piece)) {
        std::fprintf(stderr, "bench_stream_convert: piece_bytes '%s' is not a whole number 1..16777216; %s\n", argv[2], usage);
        return 2;
    }
    if (argc > 3) {
        if (std::string_view(argv[3]) != "ours-only") {
            std::fprintf(stderr, "bench_stream_convert: third argument '%s' is not 'ours-only'; %s\n", argv[3], usage);
            return 2;
        }
        ours_only = true;
    }
    const recorded_stream stream = make_stream();

    std::string ours_out;
    std::string baseline_out;
    ours_out.reserve(stream.bytes.size() * 2);
    baseline_out.reserve(stream.bytes.size() * 2);
    if (ours_only) {
        // For profilers: only our converter, no timing table.
        for (int run = 0; run < runs; ++run) {
            ours_out.clear();
            run_ours(stream, piece, ours_out);
        }
        return 0;
    }

    run_ours(stream, piece, ours_out);
    run_baseline(stream, piece, baseline_out);
    if (ours_out != baseline_out) {
        std::fprintf(stderr, "outputs differ (ours %zu bytes, baseline %zu bytes)\n", ours_out.size(), baseline_out.size());
        std::size_t at = 0;
        while (at < ours_out.size() && at < baseline_out.size() && ours_out[at] == baseline_out[at]) ++at;
        std::fprintf(stderr, "first difference at byte %zu:\nours:     %.200s\nbaseline: %.200s\n", at,
                     ours_out.c_str() + (at > 80 ? at - 80 : 0), baseline_out.c_str() + (at > 80 ? at - 80 : 0));
        return 1;
    }

    std::printf("stream_convert: %zu chunks, %zu upstream bytes in %zu-byte pieces -> %zu event bytes (identical output: yes)\n",
                stream.chunks, stream.bytes.size(), piece, ours_out.size());
    std::printf("cpu: %s\ncompiler: %s, flags: %s%s\n", cpu_model().c_str(), __VERSION__, BENCH_CXX_FLAGS,
#ifdef BENCH_MARCH_NATIVE
                " -march=native"
#else
                ""
#endif
    );
    // On-Demand code is compiled into this binary for the kernel the compiler
    // targets (SIMDJSON_BUILTIN_IMPLEMENTATION); stage 1 of each parse is
    // dispatched at run time by libsimdjson.
    std::printf("simdjson %d.%d.%d: On-Demand kernel (compile time, this binary) %s; stage 1 kernel (run time) %s\n",
                simdjson::SIMDJSON_VERSION_MAJOR, simdjson::SIMDJSON_VERSION_MINOR, simdjson::SIMDJSON_VERSION_REVISION,
                BENCH_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION), simdjson::get_active_implementation()->name().c_str());

    std::vector<double> ours_ns, baseline_ns;
    std::size_t ours_allocs = 0, baseline_allocs = 0;
    for (int run = 0; run < runs; ++run) {
        for (int which = 0; which < 2; ++which) {
            const bool ours_first = run % 2 == 0;
            const bool is_ours = (which == 0) == ours_first;
            std::string& out = is_ours ? ours_out : baseline_out;
            out.clear();  // keeps capacity: the sink does not allocate
            const std::size_t allocs_before = msgbridge_test::allocations_so_far();
            const auto start = std::chrono::steady_clock::now();
            if (is_ours) run_ours(stream, piece, out);
            else run_baseline(stream, piece, out);
            const auto stop = std::chrono::steady_clock::now();
            const std::size_t allocs = msgbridge_test::allocations_so_far() - allocs_before;
            const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count());
            (is_ours ? ours_ns : baseline_ns).push_back(ns / static_cast<double>(stream.chunks));
            (is_ours ? ours_allocs : baseline_allocs) = allocs;
        }
    }
    const double mb = static_cast<double>(stream.bytes.size()) / 1e6;
    auto report = [&](const char* name, const std::vector<double>& ns, std::size_t allocs) {
        const double best = *std::min_element(ns.begin(), ns.end());
        const double mid = median(ns);
        std::printf("%-9s best %7.1f ns/chunk (%7.1f MB/s)  median %7.1f ns/chunk (%7.1f MB/s)  heap allocations per replay: %zu\n",
                    name, best, mb / (best * static_cast<double>(stream.chunks) * 1e-9), mid,
                    mb / (mid * static_cast<double>(stream.chunks) * 1e-9), allocs);
    };
    report("ours", ours_ns, ours_allocs);
    report("baseline", baseline_ns, baseline_allocs);
    std::printf("ratio baseline / ours over %d alternating runs: %.2fx on medians, %.2fx on bests\n", runs,
                median(baseline_ns) / median(ours_ns),
                *std::min_element(baseline_ns.begin(), baseline_ns.end()) / *std::min_element(ours_ns.begin(), ours_ns.end()));
    return 0;
}
