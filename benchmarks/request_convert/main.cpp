// SPDX-License-Identifier: MIT
// Usage: bench_request_convert [rounds=30] [iterations_per_round=20] (whole numbers 1..1000000)
// Converts a generated ~200 KB Claude-Code-shaped request with msgbridge and
// with a DOM baseline, checks both give the same JSON, then times them
// alternately and prints best and median MB/s and µs per request.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include <msgbridge/request.hpp>

#include "baseline.hpp"
#include "bench_config.h"
#include "generate.hpp"

namespace {

constexpr const char* usage = "usage: bench_request_convert [rounds=30] [iterations_per_round=20] (whole numbers 1..1000000)";

// A whole decimal number in [1, 1000000], nothing before or after it: atoi's
// 0 for "abc" would mean no rounds and a median of an empty list.
bool parse_count(std::string_view text, int& out) {
    int value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 1 || value > 1000000) return false;
    out = value;
    return true;
}

#define MSGBRIDGE_BENCH_STR2(x) #x
#define MSGBRIDGE_BENCH_STR(x) MSGBRIDGE_BENCH_STR2(x)

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    }
    return "unknown";
}

struct stats {
    double best_us;
    double median_us;
};

stats summarize(std::vector<double> us) {
    std::sort(us.begin(), us.end());
    return {us.front(), us[us.size() / 2]};
}

volatile std::size_t sink = 0;

// RapidJSON's SSE2 reader may load up to 15 bytes past the end: parse a padded copy.
void parse(rapidjson::Document& doc, const std::string& text) {
    std::string padded;
    padded.reserve(text.size() + 64);
    padded = text;
    doc.Parse(padded.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
        std::printf("%s\nConverts a generated ~200 KB Claude-Code-shaped request with msgbridge and a DOM baseline,\n"
                    "then times rounds x iterations_per_round conversions of each and prints best and median.\n",
                    usage);
        return 0;
    }
    int rounds = 30;
    int iterations = 20;
    if (argc > 3) {
        std::fprintf(stderr, "bench_request_convert: too many arguments; %s\n", usage);
        return 2;
    }
    if (argc > 1 && !parse_count(argv[1], rounds)) {
        std::fprintf(stderr, "bench_request_convert: rounds '%s' is not a whole number 1..1000000; %s\n", argv[1], usage);
        return 2;
    }
    if (argc > 2 && !parse_count(argv[2], iterations)) {
        std::fprintf(stderr, "bench_request_convert: iterations_per_round '%s' is not a whole number 1..1000000; %s\n", argv[2], usage);
        return 2;
    }

    const std::string request = bench::claude_code_request();
    const simdjson::padded_string padded(request);
    // The order problem: `model` (which picks the profile every message
    // depends on) written after `messages` makes the converter look it up
    // first, skipping over the messages once, then walk the document again.
    std::string model_last = request;
    const std::string model_field = R"("model":"claude-opus-5-5",)";
    model_last.erase(model_last.find(model_field), model_field.size());
    model_last.insert(model_last.size() - 1, R"(,"model":"claude-opus-5-5")");
    std::string in_place = request;
    in_place.reserve(request.size() + simdjson::SIMDJSON_PADDING);

    msgbridge::request_options options;
    options.default_model = "z-ai/glm5";
    // The baseline copies metadata.user_id as `user`: the same work on both sides.
    options.forward_user_id = msgbridge::user_id_forwarding::as_is;
    msgbridge::request_converter converter(options);
    bench::dom_baseline baseline;

    // Both must produce the same JSON before anything is timed.
    auto ours = converter.convert(request);
    if (!ours) {
        std::fprintf(stderr, "msgbridge failed: %s\n", ours.error().message.c_str());
        return 1;
    }
    const std::string theirs = baseline.convert(padded);
    rapidjson::Document a, b;
    parse(a, ours->body);
    parse(b, theirs);
    if (a.HasParseError() || b.HasParseError() || a != b) {
        std::fprintf(stderr, "outputs differ\nmsgbridge: %.300s\nbaseline:  %.300s\n", ours->body.c_str(), theirs.c_str());
        return 1;
    }

    std::printf("request_convert: Anthropic -> OpenAI request, generated Claude-Code-shaped input\n");
    std::printf("cpu: %s\n", cpu_model().c_str());
    std::printf("compiler: %s, build %s, flags '%s'%s\n", __VERSION__, MSGBRIDGE_BENCH_BUILD_TYPE, MSGBRIDGE_BENCH_FLAGS,
#ifdef RAPIDJSON_SSE2
                " RAPIDJSON_SSE2"
#else
                ""
#endif
    );
    std::printf("simdjson %s: stage 1 kernel '%s' (runtime), On-Demand walk kernel '%s' (compile time)\n",
                MSGBRIDGE_BENCH_STR(SIMDJSON_VERSION), simdjson::get_active_implementation()->name().c_str(),
                MSGBRIDGE_BENCH_STR(SIMDJSON_BUILTIN_IMPLEMENTATION));
    std::printf("input %zu bytes (%zu tools, 40 turns), output %zu bytes; outputs equal as parsed JSON: yes\n",
                request.size(), static_cast<std::size_t>(20), ours->body.size());
    std::printf("%d rounds x %d requests, order alternating each round\n\n", rounds, iterations);

    using clock = std::chrono::steady_clock;
    auto time_us = [&](auto&& fn) {
        const auto start = clock::now();
        for (int i = 0; i < iterations; ++i) fn();
        return std::chrono::duration<double, std::micro>(clock::now() - start).count() / iterations;
    };
    msgbridge::converted_request reused;
    auto run_copy = [&] { auto r = converter.convert(request); sink = sink + r->body.size(); };
    auto run_in_place = [&] {
        reused.body.clear();
        auto r = converter.convert_into(in_place, reused, in_place.capacity());
        sink = sink + (r ? reused.body.size() : 0);
    };
    auto run_baseline = [&] { sink = sink + baseline.convert(padded).size(); };
    auto run_model_last = [&] { auto r = converter.convert(model_last); sink = sink + r->body.size(); };
    {
        auto last = converter.convert(model_last);
        rapidjson::Document c;
        if (last) parse(c, last->body);
        if (!last || c.HasParseError() || c != a) {
            std::fprintf(stderr, "model-last variant differs\n");
            return 1;
        }
    }

    std::vector<double> copy_us, in_place_us, baseline_us, model_last_us;
    for (int i = 0; i < 3; ++i) {  // warm up caches and buffers
        run_copy();
        run_in_place();
        run_baseline();
    }
    for (int round = 0; round < rounds; ++round) {
        if (round % 2 == 0) {
            copy_us.push_back(time_us(run_copy));
            in_place_us.push_back(time_us(run_in_place));
            baseline_us.push_back(time_us(run_baseline));
            model_last_us.push_back(time_us(run_model_last));
        } else {
            model_last_us.push_back(time_us(run_model_last));
            baseline_us.push_back(time_us(run_baseline));
            in_place_us.push_back(time_us(run_in_place));
            copy_us.push_back(time_us(run_copy));
        }
    }
    const double mb = static_cast<double>(request.size()) / 1e6;
    auto print = [&](const char* name, const stats& s) {
        std::printf("%-44s best %8.1f us  %7.0f MB/s   median %8.1f us  %7.0f MB/s\n", name, s.best_us, mb / (s.best_us / 1e6),
                    s.median_us, mb / (s.median_us / 1e6));
    };
    const stats copy_stats = summarize(copy_us);
    const stats in_place_stats = summarize(in_place_us);
    const stats baseline_stats = summarize(baseline_us);
    print("msgbridge convert (copies into padded buffer)", copy_stats);
    print("msgbridge convert_into (in place, reused)", in_place_stats);
    print("msgbridge convert, \"model\" after \"messages\"", summarize(model_last_us));
    print("baseline simdjson DOM -> RapidJSON Document", baseline_stats);
    std::printf("\nspeed-up vs baseline (median): %.2fx (convert), %.2fx (convert_into in place)\n",
                baseline_stats.median_us / copy_stats.median_us, baseline_stats.median_us / in_place_stats.median_us);
    return 0;
}
