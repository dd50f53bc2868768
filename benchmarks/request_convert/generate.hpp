// SPDX-License-Identifier: MIT
// A deterministic Claude-Code-shaped request: billing header + identity +
// ~15 KB system prompt, 20 tools with realistic JSON schemas ($schema,
// additionalProperties, nested items, enums), ~40 turns of user text,
// assistant thinking/text/tool_use and user tool_result with code in it.
#pragma once

#include <cstddef>
#include <string>

namespace bench {

inline void append_escaped(std::string& out, const std::string& text) {
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default: out.push_back(c);
        }
    }
}

inline std::string json_quoted(const std::string& text) {
    std::string out = "\"";
    append_escaped(out, text);
    out += '"';
    return out;
}

inline std::string prompt_paragraph(std::size_t i) {
    return "# Section " + std::to_string(i) +
           "\nWhen the user asks for a change, read the relevant files first with the \"Read\" tool, then make the "
           "smallest edit that solves the problem. Prefer editing existing files to creating new ones. Never "
           "commit unless asked. Use `rg` rather than `grep -r`; quote paths that contain spaces, e.g. \"/tmp/my "
           "dir/file.txt\". Keep answers short: fewer than 4 lines unless the user asks for detail.\n\n";
}

inline std::string code_block(std::size_t i, std::size_t lines) {
    std::string code;
    for (std::size_t l = 0; l < lines; ++l) {
        code += "    " + std::to_string(100 + l) + "\t";
        code += (l % 5 == 0) ? "static int parse_" + std::to_string(i) + "_" + std::to_string(l) + "(const char* s) {"
              : (l % 5 == 1) ? "\tif (*s == '\"') return parse_string(s + 1, \"\\\\n\");"
              : (l % 5 == 2) ? "\tfor (size_t k = 0; k < n; ++k) total += values[k] * 2;"
              : (l % 5 == 3) ? "\treturn total > 0 ? OK : ERR; // see issue #" + std::to_string(i)
                             : "}";
        code += "\n";
    }
    return code;
}

inline std::string tool_schema(std::size_t i) {
    std::string s = R"({"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false,"properties":{)";
    for (std::size_t p = 0; p < 6; ++p) {
        if (p) s += ',';
        s += "\"param_" + std::to_string(p) + "\":";
        switch (p % 3) {
            case 0: s += R"({"type":"string","description":"The absolute path to operate on. Must not be relative; use the working directory shown in <env>."})"; break;
            case 1: s += R"J({"type":"number","description":"Optional limit (default 2000, max 600000)","minimum":0})J"; break;
            default:
                s += R"({"type":"array","items":{"type":"object","properties":{"content":{"type":"string","minLength":1},"status":{"type":"string","enum":["pending","in_progress","completed"]}},"required":["content","status"],"additionalProperties":false}})";
        }
    }
    s += R"(},"required":["param_0"]})";
    (void)i;
    return s;
}

inline std::string claude_code_request(std::size_t turns = 40) {
    std::string r;
    r.reserve(256 * 1024);
    r += R"({"model":"claude-opus-5-5","messages":[)";
    for (std::size_t t = 0; t < turns; ++t) {
        if (t) r += ',';
        const std::string id = "toolu_01" + std::to_string(1000 + t);
        r += R"({"role":"user","content":[)";
        if (t == 0) {
            r += R"({"type":"text","text":)" + json_quoted("<system-reminder>\nAs you answer the user's questions, you can use the following context:\n# claudeMd\n" + prompt_paragraph(99) + "</system-reminder>") + "},";
            r += R"({"type":"text","text":"Why does the parser reject empty objects?","cache_control":{"type":"ephemeral"}}]},)";
        } else {
            const std::string prev = "toolu_01" + std::to_string(1000 + t - 1);
            r += R"({"type":"tool_result","tool_use_id":")" + prev + R"(","content":)";
            if (t % 3 == 0) {
                r += "[{\"type\":\"text\",\"text\":" + json_quoted(code_block(t, 52)) + "}]";
            } else {
                r += json_quoted(code_block(t, 52));
            }
            if (t % 7 == 0) r += R"(,"is_error":true)";
            if (t + 1 == turns) r += R"(,"cache_control":{"type":"ephemeral"})";
            r += "}]},";
        }
        if (t % 10 == 5) r += R"({"role":"system","content":"<system-reminder>The TodoWrite list changed.</system-reminder>"},)";
        r += R"({"role":"assistant","content":[{"type":"thinking","thinking":)" +
             json_quoted("The output shows line " + std::to_string(t) + " returns ERR for \"{}\"; I need to look at the caller next.") +
             R"(,"signature":"EqQBCkYIBxgCKkDx9v"},{"type":"text","text":)" +
             json_quoted("Looking at step " + std::to_string(t) + ".") +
             R"(},{"type":"tool_use","id":")" + id + R"(","name":")" + (t % 4 == 0 ? "Edit" : t % 4 == 1 ? "Read" : t % 4 == 2 ? "Bash" : "Grep") +
             R"(","input":{"file_path":"/repo/src/parse.c","old_string":)" + json_quoted(code_block(t, 3)) +
             R"(,"new_string":)" + json_quoted(code_block(t + 1, 3)) + R"(,"replace_all":false}}]})";
    }
    r += R"(,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01)" + std::to_string(1000 + turns - 1) +
         R"(","content":"done"},{"type":"text","text":"Now run the tests."}]}],"system":[)";
    r += R"({"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.330.7f3; cc_entrypoint=cli; cch=9b2e1;"},)";
    r += R"({"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude.","cache_control":{"type":"ephemeral"}},)";
    std::string prompt;
    for (std::size_t i = 0; prompt.size() < 15000; ++i) prompt += prompt_paragraph(i);
    r += R"({"type":"text","text":)" + json_quoted(prompt) + R"(,"cache_control":{"type":"ephemeral"}}],"tools":[)";
    for (std::size_t i = 0; i < 20; ++i) {
        if (i) r += ',';
        const std::string name = i == 19 ? "mcp__plugin_github_github__search_pull_requests_with_extended_filters_and_sorting"
                                         : "Tool" + std::to_string(i);
        r += R"({"name":")" + name + R"(","description":)" + json_quoted(prompt_paragraph(i) + prompt_paragraph(i + 1)) +
             R"(,"input_schema":)" + tool_schema(i) + "}";
    }
    r += R"(],"metadata":{"user_id":"{\"device_id\":\"5f1e0c9a8b7d\",\"account_uuid\":\"\",\"session_id\":\"3c2b1a09\"}"},)";
    r += R"("max_tokens":32000,"thinking":{"type":"adaptive","display":"omitted"},"stream":true})";
    return r;
}

}  // namespace bench
