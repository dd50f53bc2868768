// SPDX-License-Identifier: MIT
// Usage: dump_conversions SOURCE_DIR > conversions.txt
// Prints everything the request converter gives back (body, warnings,
// upstream model, context fields, quota flag, count_tokens, or the error) for
// a fixed set of inputs under a fixed set of options, one block per case.
// Run it built against two commits and compare the outputs (cmp) to show a
// refactoring of the converter changed nothing a caller can see.
//
// Inputs: tests/data/request/*.anthropic.json, tests/fuzz/corpus/request/*,
// the benchmark generator's bodies, and every raw string literal in
// tests/request_*.cpp that opens a JSON object; each also cut short at every
// 7th byte and with every 13th byte dropped, so the error paths are walked too.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <msgbridge/request.hpp>

#include "generate.hpp"

namespace {

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::filesystem::path> sorted_files(const std::filesystem::path& dir, const std::string& prefix,
                                                const std::string& suffix) {
    std::vector<std::filesystem::path> files;
    if (!std::filesystem::is_directory(dir)) return files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) == 0 && name.size() >= suffix.size() &&
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
            files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

// The raw string literals R"(…)" of a test source that start with '{'.
void add_literals(const std::string& source, std::vector<std::string>& inputs) {
    std::size_t at = 0;
    while ((at = source.find("R\"(", at)) != std::string::npos) {
        const std::size_t begin = at + 3;
        const std::size_t end = source.find(")\"", begin);
        if (end == std::string::npos) return;
        if (end > begin && source[begin] == '{') inputs.push_back(source.substr(begin, end - begin));
        at = end + 2;
    }
}

std::vector<msgbridge::request_options> option_sets() {
    std::vector<msgbridge::request_options> sets(1);
    msgbridge::request_options mapped;
    mapped.default_model = "z-ai/glm5";
    mapped.model_map = {{"claude-*haiku*", "moonshotai/kimi-k2.5"}};
    mapped.forward_deferred_tools = false;
    mapped.drop_billing_header = false;
    sets.push_back(mapped);
    msgbridge::request_options strict;
    strict.server_tools = msgbridge::server_tool_policy::reject;
    msgbridge::model_profile narrow;
    narrow.match = "*";
    narrow.max_output_tokens = 100;
    narrow.context_window = 3000;
    narrow.vision = false;
    narrow.file_parts = false;
    narrow.replay = msgbridge::reasoning_replay::think_tags;
    narrow.reasoning = msgbridge::reasoning_control::chat_template_kwargs;
    narrow.tool_choice_auto = false;
    narrow.tool_choice_required = false;
    narrow.parallel_tool_calls = false;
    narrow.top_k = false;
    narrow.stream_usage = false;
    narrow.late_system = msgbridge::late_system_placement::user_turn;
    narrow.extra_body = R"({"chat_template_kwargs":{"enable":1},"temperature":0.5,"stop":null})";
    strict.profiles.push_back(narrow);
    sets.push_back(strict);
    msgbridge::request_options effort;
    msgbridge::model_profile effort_profile;
    effort_profile.reasoning = msgbridge::reasoning_control::reasoning_effort;
    effort_profile.replay = msgbridge::reasoning_replay::drop;
    effort_profile.extra_body = R"({"max_tokens":7,"tool_choice":"auto"})";
    effort.profiles.push_back(effort_profile);
    sets.push_back(effort);
    return sets;
}

void dump(std::string& out, const std::string& input, msgbridge::request_converter& converter) {
    auto converted = converter.convert(input);
    if (!converted) {
        out += "error " + std::to_string(converted.error().http_status) + " " + converted.error().message + "\n";
    } else {
        const auto& c = *converted;
        out += "body " + c.body + "\nupstream_model " + c.upstream_model + "\nstream " + std::to_string(c.stream) +
               " max_tokens " + std::to_string(c.max_tokens) + " quota_probe " + std::to_string(c.quota_probe) +
               "\nclient_model " + c.context.client_model + "\nthink_tags " +
               std::to_string(c.context.think_tags_in_content) + " estimate " +
               std::to_string(c.context.estimated_input_tokens) + "\n";
        for (const auto& [sent, original] : c.context.tool_names) out += "tool_name " + sent + " " + original + "\n";
        for (const auto& stop : c.context.stop_sequences) out += "stop " + stop + "\n";
        for (const auto& warning : c.warnings) out += "warning " + warning + "\n";
    }
    auto tokens = converter.count_tokens(input);
    out += tokens ? "count_tokens " + std::to_string(*tokens) + "\n" : "count_tokens error " + tokens.error().message + "\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: dump_conversions SOURCE_DIR > conversions.txt\n");
        return 2;
    }
    const std::filesystem::path root = argv[1];
    std::vector<std::string> inputs;
    for (const auto& file : sorted_files(root / "tests/data/request", "", ".anthropic.json")) inputs.push_back(read_file(file));
    for (const auto& file : sorted_files(root / "tests/fuzz/corpus/request", "", "")) inputs.push_back(read_file(file));
    for (const auto& file : sorted_files(root / "tests", "request_", ".cpp")) add_literals(read_file(file), inputs);
    for (std::size_t turns : {1, 2, 3, 7, 40}) inputs.push_back(bench::claude_code_request(turns));

    const std::size_t whole = inputs.size();
    for (std::size_t i = 0; i < whole; ++i) {
        const std::string text = inputs[i];
        if (text.size() > 20000) continue;
        for (std::size_t cut = 0; cut < text.size(); cut += 7) inputs.push_back(text.substr(0, cut));
        for (std::size_t drop = 0; drop < text.size(); drop += 13) inputs.push_back(text.substr(0, drop) + text.substr(drop + 1));
    }

    const auto sets = option_sets();
    std::string out;
    std::size_t cases = 0;
    for (std::size_t s = 0; s < sets.size(); ++s) {
        msgbridge::request_converter converter(sets[s]);
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            out += "== options " + std::to_string(s) + " input " + std::to_string(i) + "\n";
            dump(out, inputs[i], converter);
            ++cases;
        }
        std::fwrite(out.data(), 1, out.size(), stdout);
        out.clear();
    }
    std::fprintf(stderr, "dump_conversions: %zu inputs (%zu whole), %zu cases\n", inputs.size(), whole, cases);
    return 0;
}
