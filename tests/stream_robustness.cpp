#include <catch2/catch.hpp>
#include <msgbridge/stream.hpp>

#include <random>
#include <string>

#include "support/anthropic_stream_accumulator.hpp"
#include "support/response_json_compare.hpp"
#include "support/stream_test_util.hpp"

using namespace msgbridge_test;

TEST_CASE("stream: mutated upstream bytes never crash and always leave a legal stream", "[stream][robustness]") {
    const std::string sources[] = {read_test_file("stream/torture.sse"), read_test_file("stream/kimi_reasoning_tools.sse")};
    auto context = test_context();
    std::mt19937 random(424242);
    for (int round = 0; round < 400; ++round) {
        std::string upstream = sources[round % 2];
        context.think_tags_in_content = round % 3 == 0;
        // Flip, delete, duplicate or insert a few bytes, including SSE and JSON syntax.
        static const char interesting[] = "\r\n:{}[]\",\\ \xC3\xFF";
        for (int edit = 1 + static_cast<int>(random() % 4); edit > 0; --edit) {
            const std::size_t at = random() % upstream.size();
            switch (random() % 4) {
                case 0: upstream[at] = interesting[random() % (sizeof interesting - 1)]; break;
                case 1: upstream.erase(at, 1 + random() % 40); break;
                case 2: upstream.insert(at, upstream.substr(random() % upstream.size(), 1 + random() % 300)); break;
                default: upstream.insert(at, 1, interesting[random() % (sizeof interesting - 1)]); break;
            }
            if (upstream.empty()) upstream = "x";
        }
        const std::string out = run_stream(upstream, context, 1 + random() % 700);
        // A mutation inside a tool's arguments makes them invalid JSON; the
        // converter passes the upstream's bytes through, so only the event
        // sequence is checked here.
        const auto accumulated = accumulate_anthropic_stream(out, true);
        INFO("round " << round << ": " << accumulated.violation);
        REQUIRE(accumulated.violation.empty());
        REQUIRE((accumulated.complete || accumulated.errored));
    }
}

TEST_CASE("stream: arbitrary bytes as upstream end in an error event", "[stream][robustness]") {
    std::mt19937 random(7);
    for (int round = 0; round < 200; ++round) {
        std::string upstream(random() % 2000, '\0');
        for (char& c : upstream) c = static_cast<char>(random());
        if (round % 2 == 0) upstream = "data: " + upstream;
        const auto accumulated = accumulate_anthropic_stream(run_stream(upstream, test_context(), 1 + random() % 100));
        INFO("round " << round << ": " << accumulated.violation);
        REQUIRE(accumulated.violation.empty());
        REQUIRE(accumulated.errored);
    }
}
